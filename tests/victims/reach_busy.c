/*
 * reach_busy.c — the reachability scan while other threads keep allocating, freeing and
 * unmapping (test_reach_victims.c): 4 threads churn malloc/free of small and large (mmapped)
 * blocks and mmap/munmap, main keeps a reachable list and a lost one, and calls exit()
 * while the threads run. The program must exit 0 and the trace must end cleanly.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

struct node { struct node *next; char pad[56]; };   /* 64 bytes */
struct node *volatile g_keep;

static void *churn(void *arg)
{
    unsigned long x = (unsigned long)arg * 2654435761u + 1;
    void *slot[32] = {0};
    for (;;) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        unsigned k = (unsigned)(x % 32);
        free(slot[k]);
        size_t n = (x >> 8) % 8 == 0 ? 200000 + (x >> 16) % 100000 : 16 + (x >> 16) % 2000;
        slot[k] = malloc(n);
        if (slot[k]) memset(slot[k], 1, 16);
        if ((x >> 12) % 16 == 0) {
            void *m = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (m != MAP_FAILED) { ((char *)m)[0] = 1; munmap(m, 65536); }
        }
    }
    return NULL;
}

static __attribute__((noinline)) void build(void)
{
    for (int i = 0; i < 1000; i++) {
        struct node *n = malloc(sizeof *n);
        n->next = g_keep;
        g_keep = n;
    }
    struct node *lost = NULL;
    for (int i = 0; i < 1000; i++) {
        struct node *n = malloc(sizeof *n);
        n->next = lost;
        lost = n;
        __asm__ volatile("" : : "r"(n) : "memory");
    }
}

int main(void)
{
    build();
    pthread_t t;
    for (long i = 0; i < 4; i++)
        if (pthread_create(&t, NULL, churn, (void *)(i + 1)) != 0) return 2;
    usleep(200000);
    printf("reach_busy exiting while 4 threads churn\n");
    fflush(stdout);
    exit(0);
}
