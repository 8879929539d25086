/*
 * shim_reown.c — victim: an arena handed from an exited thread to a new one, so that chunks of
 * the shim's shared live-block table (preload/live_shared.c) hold one thread's blocks in
 * 8-byte entries and another's in 16-byte ones, then change hands.
 *
 *   1. thread A allocates 6 000 blocks of 48..160 bytes (past its own table's 2 048: most go
 *      to the shared table, in chunks A owns), frees every other one and exits: glibc puts its
 *      arena on the free list;
 *   2. thread B, started while A runs but allocating only after A ended, gets that arena and
 *      allocates 3 000 blocks of the same sizes: they fill A's holes, in chunks A still owns
 *      (16-byte entries). B must start before A ends: a thread started after it would take
 *      over A's state and thread index (preload/thread.c), and its blocks would be A's index's;
 *   3. main frees A's 3 000 remaining blocks: those chunks keep only B's blocks, none of their
 *      owner's;
 *   4. B allocates 3 000 more, into the holes A's blocks left: the first of them in each
 *      chunk makes B its owner (8-byte entries again);
 *   5. main frees B's blocks but every fourth (1 500 stay).
 * Prints "reown N" with the number of blocks left; exit status 0.
 */
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>

#define NA 6000
#define NB 3000

static void *a_blocks[NA], *b_blocks[2 * NB];
static sem_t a_gone, b_done1, main_done, b_done2;

static size_t size_of(int i) { return 48 + 16 * (size_t)(i % 8); }

static void *thread_a(void *arg)
{
    (void)arg;
    for (int i = 0; i < NA; i++) a_blocks[i] = malloc(size_of(i));
    for (int i = 0; i < NA; i += 2) {
        free(a_blocks[i]);
        a_blocks[i] = NULL;
    }
    return NULL;
}

static void *thread_b(void *arg)
{
    (void)arg;
    sem_wait(&a_gone);
    for (int i = 0; i < NB; i++) b_blocks[i] = malloc(size_of(i));
    sem_post(&b_done1);
    sem_wait(&main_done);
    for (int i = NB; i < 2 * NB; i++) b_blocks[i] = malloc(size_of(i));
    sem_post(&b_done2);
    return NULL;
}

int main(void)
{
    sem_init(&a_gone, 0, 0);
    sem_init(&b_done1, 0, 0);
    sem_init(&main_done, 0, 0);
    sem_init(&b_done2, 0, 0);
    pthread_t a, b;
    if (pthread_create(&a, NULL, thread_a, NULL) != 0) return 1;
    if (pthread_create(&b, NULL, thread_b, NULL) != 0) return 1;
    pthread_join(a, NULL);
    sem_post(&a_gone);
    sem_wait(&b_done1);
    for (int i = 0; i < NA; i++) free(a_blocks[i]);
    sem_post(&main_done);
    sem_wait(&b_done2);
    pthread_join(b, NULL);
    int left = 0;
    for (int i = 0; i < 2 * NB; i++) {
        if (i % 4 == 0) {
            left++;
            continue;
        }
        free(b_blocks[i]);
        b_blocks[i] = NULL;
    }
    printf("reown %d\n", left);
    return 0;
}
