/*
 * reach_bigheap.c — a large heap for the reachability scan (test_reach_victims.c).
 *
 *     reach_bigheap N
 *
 * Builds: a reachable singly linked list of N 48-byte nodes hanging off a global (a chain
 * N deep: the scan must not recurse), a lost list of N 40-byte nodes (its head is
 * definitely lost, the other N-1 nodes indirectly lost), N/10 lost 24-byte singletons
 * (definitely lost), and frees N 56-byte blocks on the way. Prints one line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct node { struct node *next; char pad[40]; };     /* 48 bytes */
struct lnode { struct lnode *next; char pad[32]; };   /* 40 bytes */

struct node *volatile g_list;

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
    build(n);
    scrub_stack();
    printf("reach_bigheap n=%ld\n", n);
    return 0;
}
