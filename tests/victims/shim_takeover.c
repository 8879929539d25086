/*
 * shim_takeover.c — victim: ten threads one after another ("req-1" .. "req-10"), each started
 * after the one before ended, so each takes over the state, thread index and live blocks the
 * one before left (preload/thread.c). Thread k
 *   - frees 20 of the 40 blocks thread k-1 kept (blocks of its own index when it took k-1's
 *     state over) and reallocates 2 more of them to 1600 + k bytes;
 *   - keeps 40 blocks of 1400 + k bytes in a global array;
 *   - allocates 2 blocks of 1500 + k bytes and drops their pointers (definitely lost).
 * main then frees 20 of req-10's blocks and exits. Left at exit: 18 blocks of 1400 + k for
 * k = 1..9, 20 of 1410, 2 of 1600 + k for k = 2..10 (all reachable), 2 of 1500 + k for
 * k = 1..10 (definite).
 *
 *     shim_takeover      prints "takeover 10"; exit status 0
 *
 * With the argument "recycled": eight threads at once ("pool-0" .. "pool-7"), joined, then
 * 200 ms for the writer to recycle their states, then eight more ("late", "late-1" ..
 * "late-7"), each started once the one before has its state and all alive until the last
 * has: "late" gets the lowest of the pool's indexes, whether it takes over a state or gets a
 * recycled one, and each next one the next lowest.
 *
 *     shim_takeover recycled      prints "recycled 8"; exit status 0
 *
 * With the argument "crowd": 150 threads stay alive (waiting) while ten more ("crowd-1" ..
 * "crowd-10") run one after another; each takes over the state the one before left, found in
 * the registry past its first 128 slots.
 *
 *     shim_takeover crowd      prints "crowd 10"; exit status 0
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ROUNDS 10
#define KEEP 40

static void *kept[ROUNDS + 1][KEEP];

static void *request(void *arg)
{
    long k = (long)arg;
    char name[16];
    snprintf(name, sizeof name, "req-%ld", k);
    pthread_setname_np(pthread_self(), name);
    if (k > 1) {
        for (int i = 0; i < 20; i++) {
            free(kept[k - 1][i]);
            kept[k - 1][i] = NULL;
        }
        for (int i = 20; i < 22; i++) {
            void *p = realloc(kept[k - 1][i], 1600 + (size_t)k);
            if (!p) abort();
            kept[k - 1][i] = p;
        }
    }
    for (int i = 0; i < KEEP; i++) {
        kept[k][i] = malloc(1400 + (size_t)k);
        if (!kept[k][i]) abort();
        memset(kept[k][i], 0, 16);
    }
    for (int i = 0; i < 2; i++) {
        char *volatile lost = malloc(1500 + (size_t)k);
        if (!lost) abort();
        lost[0] = 1;
        lost = NULL;
    }
    return NULL;
}

static void *pool(void *arg)
{
    char name[16];
    snprintf(name, sizeof name, "%s", (const char *)arg);
    pthread_setname_np(pthread_self(), name);
    void *volatile p = malloc(100);
    free(p);
    return NULL;
}

/* A gate: threads check in and wait until it opens; the opener waits for N check-ins. */
typedef struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int up, open;
} gate;
#define GATE_INIT { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0 }

static void gate_check_in_and_wait(gate *g)
{
    pthread_mutex_lock(&g->mu);
    g->up++;
    pthread_cond_broadcast(&g->cv);
    while (!g->open) pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
}

static void gate_wait_for(gate *g, int n)
{
    pthread_mutex_lock(&g->mu);
    while (g->up < n) pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
}

static void gate_open(gate *g)
{
    pthread_mutex_lock(&g->mu);
    g->open = 1;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

static gate late_gate = GATE_INIT;

/* pool's allocation first (the thread's state and index), then alive until all are up */
static void *late_one(void *arg)
{
    pool(arg);
    gate_check_in_and_wait(&late_gate);
    return NULL;
}

static int recycled(void)
{
    static char names[8][16];
    pthread_t t[8];
    for (int i = 0; i < 8; i++) {
        snprintf(names[i], sizeof names[i], "pool-%d", i);
        if (pthread_create(&t[i], NULL, pool, names[i]) != 0) return 1;
    }
    for (int i = 0; i < 8; i++) pthread_join(t[i], NULL);
    struct timespec ts = { 0, 200 * 1000 * 1000 };
    nanosleep(&ts, NULL);
    static char late_names[8][16];
    pthread_t late[8];
    for (int i = 0; i < 8; i++) {
        snprintf(late_names[i], sizeof late_names[i], i ? "late-%d" : "late", i);
        if (pthread_create(&late[i], NULL, late_one, late_names[i]) != 0) return 1;
        gate_wait_for(&late_gate, i + 1);
    }
    gate_open(&late_gate);
    for (int i = 0; i < 8; i++) pthread_join(late[i], NULL);
    printf("recycled 8\n");
    return 0;
}

#define CROWD 150

static gate crowd_gate = GATE_INIT;


static void *waiter(void *arg)
{
    void *volatile p = malloc(64);
    free(p);
    gate_check_in_and_wait(&crowd_gate);
    return arg;
}

static int crowd(void)
{
    static pthread_t w[CROWD];
    static char names[10][16];
    pthread_attr_t small;
    pthread_attr_init(&small);
    pthread_attr_setstacksize(&small, 64 * 1024);
    for (int i = 0; i < CROWD; i++)
        if (pthread_create(&w[i], &small, waiter, NULL) != 0) return 1;
    gate_wait_for(&crowd_gate, CROWD); /* every waiter has its state (and index) before the ten */
    for (int k = 0; k < 10; k++) {
        snprintf(names[k], sizeof names[k], "crowd-%d", k + 1);
        pthread_t t;
        if (pthread_create(&t, &small, pool, names[k]) != 0) return 1;
        pthread_join(t, NULL);
    }
    gate_open(&crowd_gate);
    for (int i = 0; i < CROWD; i++) pthread_join(w[i], NULL);
    pthread_attr_destroy(&small);
    printf("crowd 10\n");
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "recycled") == 0) return recycled();
    if (argc > 1 && strcmp(argv[1], "crowd") == 0) return crowd();
    for (long k = 1; k <= ROUNDS; k++) {
        pthread_t t;
        if (pthread_create(&t, NULL, request, (void *)k) != 0) return 1;
        pthread_join(t, NULL);
    }
    for (int i = 0; i < 20; i++) {
        free(kept[ROUNDS][i]);
        kept[ROUNDS][i] = NULL;
    }
    printf("takeover %d\n", ROUNDS);
    return 0;
}
