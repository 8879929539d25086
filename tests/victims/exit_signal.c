/*
 * exit_signal.c — a signal that arrives while the process exits. Under the shim the exit
 * takes a while (the reachability scan over many live blocks), and a pool's workers get
 * SIGTERM as they exit (python3's multiprocessing); a CI timeout sends SIGKILL.
 *
 *     exit_signal [BLOCKS [DELAY_MS [kill]]]     defaults: 1000000 blocks, 20 ms, SIGTERM
 *
 * Keeps BLOCKS 32-byte blocks in a list (reachable from a global), then one of 4242 bytes,
 * and calls exit(0); a helper thread (SIGTERM blocked there, so the exiting thread is the one
 * that gets it) sends the process SIGTERM (or SIGKILL) DELAY_MS after main calls exit.
 * Natively the process is gone by then and exits 0.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct node { struct node *next; char pad[24]; } node;
static node *head;
static void *volatile marker; /* volatile: the compiler may not drop the allocation */
static int go[2];
static unsigned delay_ms = 20;
static int sig = SIGTERM;

static void *helper(void *arg)
{
    (void)arg;
    char c;
    if (read(go[0], &c, 1) != 1) return NULL;
    struct timespec ts = { delay_ms / 1000, (long)(delay_ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
    kill(getpid(), sig);
    for (;;) pause();
}

int main(int argc, char **argv)
{
    long blocks = argc > 1 ? atol(argv[1]) : 1000000;
    if (argc > 2) delay_ms = (unsigned)atoi(argv[2]);
    if (argc > 3 && strcmp(argv[3], "kill") == 0) sig = SIGKILL;
    if (pipe(go) != 0) return 1;
    sigset_t term;
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &term, NULL); /* the helper starts with it blocked */
    pthread_t t;
    if (pthread_create(&t, NULL, helper, NULL) != 0) return 1;
    pthread_sigmask(SIG_UNBLOCK, &term, NULL);
    for (long i = 0; i < blocks; i++) {
        node *n = malloc(sizeof *n);
        if (!n) return 1;
        n->next = head;
        head = n;
    }
    marker = malloc(4242);
    printf("allocated %ld blocks\n", blocks);
    fflush(stdout);
    if (write(go[1], "x", 1) != 1) return 1;
    exit(0);
}
