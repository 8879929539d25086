/*
 * shim_entry.c — victim: calls every allocation entry point once with a distinctive size and
 * leaks exactly the blocks listed in LEAKS below (the test asserts the trace's unfreed set is
 * exactly that). Output goes through write(2) so no stdio buffer stays allocated at exit.
 * Usage: shim_entry TMPFILE (a writable path for the file-mapping and getline checks).
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static void say(const char *s) { (void)!write(1, s, strlen(s)); }

static void check(int ok, const char *what)
{
    say(what);
    say(ok ? ": ok\n" : ": FAILED\n");
}

/* Keeps the compiler from dropping allocations it can see are unused. */
static void *volatile sink;

int main(int argc, char **argv)
{
    const char *tmp = argc > 1 ? argv[1] : "/tmp/shim_entry.tmp";

    void *a = malloc(1001); sink = a; free(a);
    sink = malloc(10001);                                   /* LEAK 10001 malloc */
    void *c = calloc(7, 1429);                              /* LEAK 10003 calloc */
    check(c && ((unsigned char *)c)[9999] == 0, "calloc zeroed");
    sink = c;

    void *volatile nul = NULL;                              /* gcc turns realloc(NULL,n) into malloc */
    void *r = realloc(nul, 100);                            /* kind realloc */
    r = realloc(r, 200);
    r = realloc(r, 300000);
    r = realloc(r, 10007);                                  /* LEAK 10007 (realloc chain) */
    sink = r;

    errno = 0;
    volatile size_t huge = SIZE_MAX / 2; /* volatile: no compile-time overflow warning */
    void *ov = reallocarray(NULL, huge, 4);
    check(ov == NULL && errno == ENOMEM, "reallocarray overflow");
    sink = reallocarray(NULL, 3, 3337);                     /* LEAK 10011 reallocarray */

    void *pm = NULL;
    check(posix_memalign(&pm, 64, 10013) == 0 && ((uintptr_t)pm & 63) == 0, "posix_memalign");
    sink = pm;                                              /* LEAK 10013 */
    void *bad = NULL;
    check(posix_memalign(&bad, 3, 100) == EINVAL && bad == NULL, "posix_memalign EINVAL");

    sink = aligned_alloc(64, 10048);                        /* LEAK 10048 aligned_alloc */
    sink = memalign(128, 10019);                            /* LEAK 10019 memalign */
    sink = valloc(10021);                                   /* LEAK 10021 valloc */
    void *pv = pvalloc(10);                                 /* pvalloc: one page, freed */
    check(pv && ((uintptr_t)pv & 4095) == 0, "pvalloc");
    free(pv);

    void *u = malloc(1005);
    check(malloc_usable_size(u) >= 1005, "malloc_usable_size");
    free(u);

    void *z = malloc(1006);
    z = realloc(z, 0);                                      /* frees */
    sink = z;

    char big[10030];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    sink = strdup(big);                                     /* LEAK 10030 strdup */

    char *as = NULL;
    check(asprintf(&as, "%s-%d", "asprintf", 12345) == 14, "asprintf");
    free(as);

    FILE *f = fopen(tmp, "w+");
    check(f != NULL, "fopen");
    fputs("line one\nline two\n", f);
    rewind(f);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n1 = getline(&line, &cap, f);
    check(n1 == 9, "getline");
    free(line);
    fclose(f);

    /* mappings */
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    void *m = mmap(NULL, 3 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    check(m != MAP_FAILED, "mmap anon");
    void *m2 = mremap(m, 3 * pg, 6 * pg, MREMAP_MAYMOVE);
    check(m2 != MAP_FAILED, "mremap");
    check(munmap(m2, 6 * pg) == 0, "munmap");
    /* mremap's fifth argument goes to the kernel whatever the flags (glibc passes it on as
     * given): with MREMAP_DONTUNMAP the kernel takes it as the new place, and a misaligned
     * one is refused, natively and under the shim alike */
    void *d = mmap(NULL, 4 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    void *d2 = mremap(d, 4 * pg, 4 * pg, MREMAP_MAYMOVE | 4 /* MREMAP_DONTUNMAP */, (void *)0x1234);
    say(d2 == MAP_FAILED ? "mremap with a misaligned fifth argument: refused\n"
                         : "mremap with a misaligned fifth argument: moved\n");
    if (d2 != MAP_FAILED) munmap(d2, 4 * pg);
    munmap(d, 4 * pg);
    int fd = open(tmp, O_RDONLY);
    void *fm = mmap(NULL, pg, PROT_READ, MAP_PRIVATE, fd, 0);
    check(fm != MAP_FAILED && memcmp(fm, "line one", 8) == 0, "mmap file");
    munmap(fm, pg);
    close(fd);
    unlink(tmp);
    say("done\n");
    return 3;
}
