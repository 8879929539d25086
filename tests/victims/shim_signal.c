/*
 * shim_signal.c — victim: malloc/free inside a signal handler (raise() and a timer while the
 * main thread computes without allocating), setjmp/longjmp out of a function that allocated,
 * siglongjmp out of a handler. Leaks: 50001 (first handler run), 50002 (before longjmp).
 * The handlers ask for SA_ONSTACK without an alternate stack of the program's: natively they
 * run on the thread's stack, under the shim on its alternate stack (preload/fatal.c), where
 * the allocations' stacks are captured in place.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

static void *volatile sink;
static volatile sig_atomic_t runs;
static jmp_buf jb;
static sigjmp_buf sjb;

static void on_usr1(int sig)
{
    (void)sig;
    if (runs++ == 0) sink = malloc(50001);
    void *p = malloc(777);
    sink = p;
    free(p);
}

static void on_usr2(int sig)
{
    (void)sig;
    siglongjmp(sjb, 1);
}

static void deep(int n)
{
    if (n <= 0) {
        sink = malloc(50002);
        if (sink) longjmp(jb, 7);
        return;
    }
    deep(n - 1);
    sink = NULL; /* not a tail call */
}

int main(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_flags = SA_ONSTACK;
    sa.sa_handler = on_usr1;
    sigaction(SIGUSR1, &sa, NULL);
    sa.sa_handler = on_usr2;
    sigaction(SIGUSR2, &sa, NULL);
    for (int i = 0; i < 200; i++) raise(SIGUSR1);
    /* asynchronous: a timer fires while we compute (no allocation in this loop) */
    sa.sa_handler = on_usr1;
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval it = { { 0, 2000 }, { 0, 2000 } };
    setitimer(ITIMER_REAL, &it, NULL);
    volatile unsigned long x = 0;
    while (runs < 230) x += 1;
    struct itimerval off = { { 0, 0 }, { 0, 0 } };
    setitimer(ITIMER_REAL, &off, NULL);
    int v = setjmp(jb);
    if (v == 0) deep(10);
    if (sigsetjmp(sjb, 1) == 0) raise(SIGUSR2);
    char m[64];
    snprintf(m, sizeof m, "signals ok %d\n", v);
    (void)!write(1, m, strlen(m));
    return 0;
}
