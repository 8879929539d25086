/*
 * fork_scan_copy.c — victim: a fork child whose exit scan reads a big inherited heap
 * (tests/integration/test_shim_inherit.c). The parent builds a chain of 16 384 blocks of 4 KiB
 * (64 MiB, each block's first word pointing at the next) and forks; the child stores a new
 * block only in the chain's last block, leaks another, and exits normally, so the shim's exit
 * scan reads the whole inherited chain. Its pages are shared copy-on-write with the parent:
 * read with process_vm_readv they were copied first (the kernel unshares a page it pins), one
 * page fault and 4 KiB more memory per page of the heap. The parent prints the child's page
 * faults (getrusage of its children), which the test bounds.
 *
 *     fork_scan_copy alone     the child exits with no other thread
 *     fork_scan_copy thread    a second thread of the child is alive at its exit
 *
 * prints: child 0 faults N
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#define BLOCKS 16384
#define BLOCK 4096

void **head;              /* the chain: reachable from here */
static int hold[2];       /* the child's second thread waits on it */

static void *waiter(void *arg)
{
    (void)arg;
    char c;
    while (read(hold[0], &c, 1) < 0) {}
    return NULL;
}

int main(int argc, char **argv)
{
    int threaded = argc > 1 && !strcmp(argv[1], "thread");
    void **prev = NULL;
    for (int i = 0; i < BLOCKS; i++) {
        void **b = malloc(BLOCK);
        if (!b) return 1;
        memset(b, 0x5a, BLOCK);
        b[0] = NULL;
        if (prev) prev[0] = b;
        else head = b;
        prev = b;
    }
    fflush(stdout);
    pid_t c = fork();
    if (c < 0) return 1;
    if (c == 0) {
        if (threaded) {
            pthread_t t;
            if (pipe(hold) || pthread_create(&t, NULL, waiter, NULL)) _exit(1);
        }
        void **last = head;
        while (last[0]) last = last[0];
        last[1] = malloc(48);       /* reachable only through the inherited chain */
        void *lost = malloc(24);    /* definitely lost */
        if (!last[1] || !lost) _exit(1);
        lost = NULL;
        exit(0);
    }
    int st = 0;
    if (waitpid(c, &st, 0) != c) return 1;
    struct rusage ru;
    getrusage(RUSAGE_CHILDREN, &ru);
    printf("child %d faults %ld\n", WIFEXITED(st) ? WEXITSTATUS(st) : 128, ru.ru_minflt);
    return 0;
}
