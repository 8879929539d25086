/*
 * reach_bigheap.c — a large heap for the reachability scan (test_reach_victims.c).
 *
 *     reach_bigheap N [nocopy]
 *
 * Builds: a reachable singly linked list of N 48-byte nodes hanging off a global (a chain
 * N deep: the scan must not recurse), a lost list of N 40-byte nodes (its head is
 * definitely lost, the other N-1 nodes indirectly lost), N/10 lost 24-byte singletons
 * (definitely lost), and frees N 56-byte blocks on the way. Then a lost array of N/10
 * pointers (N * 8 / 10 bytes) to N/10 72-byte blocks, every other one freed (the array keeps
 * their dangling addresses): the array is definitely lost, the N/20 live ones indirectly; and
 * a 102400-byte block reachable only through a pointer into its middle, holding the only
 * pointers to ten 88-byte blocks (all reachable).
 * With "nocopy", 66 untouched 4 MiB blocks hang off a global (reachable): the live blocks
 * then span more than the scan copies at once (COPY_MAX, reach.c), so it reads them
 * through its window and in spans instead. Prints one line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct node { struct node *next; char pad[40]; };     /* 48 bytes */
struct lnode { struct lnode *next; char pad[32]; };   /* 40 bytes */

struct node *volatile g_list;
char *volatile g_interior;
void *volatile g_pad[66];

static __attribute__((noinline)) void build(long n)
{
    for (long i = 0; i < n; i++) {
        struct node *x = malloc(sizeof *x);
        memset(x, 0, sizeof *x);
        x->next = g_list;
        g_list = x;
        free(malloc(56));
    }
    struct lnode *lost = NULL;
    for (long i = 0; i < n; i++) {
        struct lnode *x = malloc(sizeof *x);
        memset(x, 0, sizeof *x);
        x->next = lost;
        lost = x;
        __asm__ volatile("" : : "r"(x) : "memory");   /* the stores must really happen */
    }
    for (long i = 0; i < n / 10; i++) memset(malloc(24), 0, 24);
    long m = n / 10;
    void **arr = malloc((size_t)m * sizeof *arr);
    for (long i = 0; i < m; i++) memset(arr[i] = malloc(72), 0, 72);
    for (long i = 0; i < m; i += 2) free(arr[i]);
    __asm__ volatile("" : : "r"(arr) : "memory");
    char *mid = malloc(102400);
    memset(mid, 0, 102400);
    for (int i = 0; i < 10; i++) memset(((void **)mid)[i] = malloc(88), 0, 88);
    g_interior = mid + 51200;
}

static __attribute__((noinline)) void scrub_stack(void)
{
    volatile char buf[32768];
    memset((char *)buf, 0, sizeof buf);
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 100000;
    if (n < 10) { fprintf(stderr, "usage: reach_bigheap N (>= 10)\n"); return 2; }
    if (argc > 2 && strcmp(argv[2], "nocopy") == 0)
        for (int i = 0; i < 66; i++) g_pad[i] = malloc(4u << 20);
    build(n);
    scrub_stack();
    printf("reach_bigheap n=%ld\n", n);
    return 0;
}
