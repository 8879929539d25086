/*
 * reach_leaky.c — a victim with every reachability case at exit, for the reachability tests
 * (test_reach_*.c: exact expected figures) and the valgrind reference tests
 * (test_reference_*.c: same figures from valgrind memcheck on the same program).
 *
 * Unfreed at exit, by kind (sizes are distinct so each case is recognizable):
 *   definite   2 x 1001 (dropped pointers; one is still pointed to by a FREED block),
 *              1003 (lost list head), 1005 (leaked by a joined thread), 300000 (large,
 *              mmapped by malloc), 1007 (the lower-addressed block of a lost 2-cycle: the
 *              clique leader), 1011 (realloc'd, then lost)
 *   indirect   3 x 1016 (list nodes behind the lost head: struct node), 1007 (the other
 *              block of the 2-cycle), 1015 (pointed to only by the lost large block)
 *   reachable  2001 (global), 2003 (only from the 2001 block), 2005 (interior pointer from a
 *              global: valgrind "possibly lost"), 2007 (pointer in a client mmap), 2009 (a
 *              __thread variable of the main thread), 2011 (realloc'd, kept in a global),
 *              2013 (on the stack of a thread still blocked at exit), plus libc's own
 *              buffers (stdout)
 * Freed: 4001, 4003 (the latter held a stale pointer to a leaked block: freed memory is not
 * a root), and realloc's old blocks.
 *
 * Prints one line; exits 0 via exit() from main while a helper thread is blocked in read().
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

struct node { struct node *next; char pad[1008]; };   /* 1016 bytes */

void *volatile g_reach;        /* 2001 -> 2003 */
char *volatile g_interior;     /* 2005 + 16 */
void *volatile g_realloced;    /* 2011 */
void **volatile g_map;         /* client mmap holding 2007 */
__thread void *volatile t_main_tls;   /* 2009 */
static int g_block[2], g_ready[2];

#define NOINLINE __attribute__((noinline))

static NOINLINE void *leak_bytes(size_t n) { void *p = malloc(n); memset(p, 0x5a, n); return p; }

static NOINLINE void make_definite(void) { (void)leak_bytes(1001); }

static NOINLINE void make_list(void)
{
    struct node *head = leak_bytes(1003), *prev = NULL;
    for (int i = 0; i < 3; i++) {
        struct node *n = leak_bytes(sizeof *n);
        n->next = prev;
        prev = n;
    }
    memcpy(head, &prev, sizeof prev);   /* head -> n3 -> n2 -> n1 */
}

static NOINLINE void make_cycle(void)
{
    void **a = leak_bytes(1007), **b = leak_bytes(1007);
    a[0] = b;
    b[0] = a;
}

static NOINLINE void make_big(void)
{
    void **big = leak_bytes(300000);
    big[100] = leak_bytes(1015);
}

static NOINLINE void make_reachable(void)
{
    void **r = leak_bytes(2001);
    r[3] = leak_bytes(2003);
    g_reach = r;
    g_interior = (char *)leak_bytes(2005) + 16;
    g_map = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (g_map != MAP_FAILED) g_map[7] = leak_bytes(2007);
    t_main_tls = leak_bytes(2009);
}

static NOINLINE void make_realloc(void)
{
    void *p = leak_bytes(100);
    p = realloc(p, 1011);          /* lost */
    memset(p, 0, 1011);
    void *q = leak_bytes(200);
    q = realloc(q, 2011);
    g_realloced = q;
}

static NOINLINE void make_freed(void)
{
    free(leak_bytes(4001));
    void **stale = leak_bytes(4003);
    stale[5] = leak_bytes(1001);   /* second 1001 block: freed memory pointing at it */
    free(stale);
}

static void *thread_leak(void *arg)
{
    (void)arg;
    (void)leak_bytes(1005);
    free(leak_bytes(4005));
    return NULL;
}

static void *thread_blocked(void *arg)
{
    void *volatile mine = leak_bytes(2013);
    char c;
    if (write(g_ready[1], "r", 1) != 1) return arg;
    while (read(g_block[0], &c, 1) != 0) {}   /* nobody writes: blocks until exit */
    return mine;
}

/* Overwrites the dead stack below main's frame so no stale copy of a leaked pointer stays
 * where the exit path's frames will be (valgrind treats such stale slots as undefined). */
static NOINLINE void scrub_stack(void)
{
    volatile char buf[32768];
    memset((char *)buf, 0, sizeof buf);
}

int main(void)
{
    if (pipe(g_block) != 0 || pipe(g_ready) != 0) return 2;
    make_definite();
    make_list();
    make_cycle();
    make_big();
    make_reachable();
    make_realloc();
    make_freed();
    pthread_t t;
    if (pthread_create(&t, NULL, thread_leak, NULL) != 0) return 2;
    pthread_join(t, NULL);
    /* A thread still blocked in read() at exit: its stack is a root. */
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&t, &at, thread_blocked, NULL) != 0) return 2;
    char c;
    if (read(g_ready[0], &c, 1) != 1) return 2;
    usleep(20000);   /* let it enter read() */
    printf("reach_leaky done\n");
    fflush(stdout);
    scrub_stack();
    exit(0);
}
