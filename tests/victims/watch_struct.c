/*
 * watch_struct.c — victim for test_watch_events: a struct watched with memwatch_watch and
 * written by two named threads, by read(2) (a kernel write), by a third thread with an
 * adapter source location, next to it on the same page (not an event) and after memwatch_unwatch (not an
 * event). Prints the addresses the test needs (struct, writer functions) and a checksum of
 * its results, which must be the same with and without memwatch.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "memwatch.h"

struct account {
    int64_t balance;
    int32_t count;
    char tag[12];
};

static struct account *acc;
static volatile uint8_t *neighbour;

__attribute__((noinline)) static void writer_a_deposit(void)
{
    acc->balance = 0x1122334455667788;
    __asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) static void writer_b_count(void)
{
    acc->count = 7;
    __asm__ volatile("" ::: "memory");
}

static void *thread_a(void *arg)
{
    (void)arg;
    pthread_setname_np(pthread_self(), "writer-a");
    writer_a_deposit();
    return NULL;
}

static void *thread_c(void *arg)
{
    (void)arg;
    pthread_setname_np(pthread_self(), "writer-c");
    if (memwatch_set_location) memwatch_set_location("app.py", 42, "handler");
    acc->balance = 200; /* event with the adapter's source location */
    return NULL;
}

static void *thread_b(void *arg)
{
    (void)arg;
    pthread_setname_np(pthread_self(), "writer-b");
    writer_b_count();
    return NULL;
}

int main(void)
{
    uint8_t *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (page == MAP_FAILED) return 2;
    acc = (struct account *)(page + 256);
    neighbour = page + 1024;
    memset(acc, 0, sizeof *acc);
    int64_t id = memwatch_watch ? memwatch_watch(acc, sizeof *acc, "account",
                                                 MEMWATCH_TRACK_THREADS | MEMWATCH_MUTATION_FULL)
                                : -1;
    printf("watch id %lld\n", (long long)id);
    printf("acc %p\n", (void *)acc);
    printf("fn writer_a_deposit %p\n", (void *)writer_a_deposit);
    printf("fn writer_b_count %p\n", (void *)writer_b_count);
    fflush(stdout);

    pthread_t a, b;
    pthread_create(&a, NULL, thread_a, NULL);
    pthread_join(a, NULL);
    pthread_create(&b, NULL, thread_b, NULL);
    pthread_join(b, NULL);

    neighbour[0] = 0x5a; /* same page, outside the watch: no event */

    int fds[2];
    if (pipe(fds) != 0) return 3;
    if (write(fds[1], "kernel-wrote", 12) != 12) return 4;
    ssize_t got = read(fds[0], acc->tag, sizeof acc->tag); /* kernel write: syscall read */
    if (got != 12) { printf("read returned %zd\n", got); return 5; }

    pthread_t c;
    pthread_create(&c, NULL, thread_c, NULL);
    pthread_join(c, NULL);

    if (id > 0 && memwatch_unwatch) memwatch_unwatch(id);
    acc->balance = 300; /* after unwatch: no event */
    neighbour[1] = 0x6b;

    uint64_t sum = (uint64_t)acc->balance + (uint64_t)acc->count + neighbour[0] + neighbour[1];
    for (size_t i = 0; i < sizeof acc->tag; i++) sum = sum * 31 + (uint8_t)acc->tag[i];
    printf("checksum %llu\n", (unsigned long long)sum);
    return 0;
}
