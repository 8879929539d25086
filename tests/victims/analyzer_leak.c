/*
 * analyzer_leak.c — victim for the analyzer's integration tests: a known set of unfreed
 * blocks (one definitely lost block of 1234 bytes allocated in leak_here(), a lost list head
 * whose child is indirectly lost, a still-reachable global block of 777 bytes), temporary
 * allocations, an mmap left mapped, and a marked phase. Prints nothing; exits 0, natively too
 * (the mark is made only where the shim is loaded, as memwatch.h says to).
 *   analyzer_leak [clean]   "clean" frees everything (no leaks)
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "memwatch.h"

struct node {
    struct node *child;
    char pad[56];
};

void *volatile g_keep;          /* still reachable at exit */
static void *volatile g_sink;

__attribute__((noinline)) static void *leak_here(size_t n)
{
    char *p = malloc(n);        /* the definite leak: this line is the leak site */
    if (p) memset(p, 0x5a, n);
    return p;
}

__attribute__((noinline)) static void lose_list(void)
{
    struct node *head = calloc(1, sizeof *head);
    if (!head) return;
    head->child = calloc(1, sizeof *head->child); /* indirectly lost through head */
    g_sink = head;
    g_sink = NULL;
}

__attribute__((noinline)) static void churn(int n)
{
    for (int i = 0; i < n; i++) {
        char *t = malloc(64 + (size_t)i % 16); /* temporary: freed right away */
        if (t) t[0] = (char)i;
        g_sink = t;
        free(t);
    }
    g_sink = NULL;
}

int main(int argc, char **argv)
{
    int clean = argc > 1 && strcmp(argv[1], "clean") == 0;
    churn(1000);
    if (MEMWATCH_PRESENT()) memwatch_mark("phase:leaky"); /* weak: NULL without the shim */
    void *p = leak_here(1234);
    g_sink = p;
    g_sink = NULL;
    if (clean) free(p);
    p = NULL;
    if (!clean) lose_list();
    g_keep = malloc(777);
    if (clean) {
        free(g_keep);
        g_keep = NULL;
    }
    void *m = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m != MAP_FAILED && clean) munmap(m, 8192);
    return 0;
}
