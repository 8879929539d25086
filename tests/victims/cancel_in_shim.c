/*
 * cancel_in_shim.c — a thread cancelled while it waits inside the shim. The shim's own waits
 * must not be cancellation points: a thread ended there would leave what it held held (the
 * writer paused around unshare(), a live-block table's lock), and the process would hang at
 * its next allocations or at exit.
 *
 * A worker with a cancellation request pending (deferred, so it acts at the next
 * cancellation point) calls unshare(CLONE_NEWUSER): with the main thread alive the kernel
 * refuses (EINVAL), and the shim, which paused its writer for the call, tries again for 20 ms
 * with sleeps in between. The worker then reaches pthread_testcancel(), where it is
 * cancelled as natively. Main then allocates (through rings the writer must drain) and exits.
 * Prints "cancelled, N blocks" either way.
 *
 * cancel_in_shim exit: the worker, its cancellation pending, prints a line and calls
 * exit(3). Natively it is cancelled in exit's flush of stdout (a write), its cleanup
 * releases stdout's lock, and main's own line and return 0 end the process. Under the shim
 * its puts() allocated stdout's buffer, and a first stack capture inside that malloc reached
 * libunwind's pipe (a read: a cancellation point): the thread ended there without the cleanup
 * (stdout's lock held, main hung at its printf), and once past it, it had claimed the exit.
 *
 * cancel_in_shim atexit: the same with an atexit handler that writes (a cancellation point)
 * and no stdio: the worker is cancelled in the handler, before the shim's destructor could
 * end the trace, and main's return 5 ends the process; the shim had main wait 10 s for the
 * dead worker, then left the trace without its END.
 *
 * cancel_in_shim fork: the worker, its cancellation pending, forks; the child (its one
 * thread inherits the pending request) allocates a block of 30036 bytes, writes a line
 * (where it is cancelled, natively too: its process ends, status 0) . Under the shim the
 * child's trace is set up in fork's child handler, whose open() was a cancellation point: the
 * child ended there, with no trace. The parent prints the child's status.
 */
#include <pthread.h>
#include <stdbool.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static pthread_barrier_t ready;

/* Worker side: returns once main has asked for this thread's cancellation (still pending:
 * deferred, it acts at the thread's next cancellation point). */
static void await_pending_cancel(void)
{
    int old;
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
    pthread_barrier_wait(&ready); /* main requests the cancellation now */
    pthread_barrier_wait(&ready);
    pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, &old);
}

/* Main side: starts fn, asks for its cancellation while it waits, and joins it. */
static void *run_cancelled(void *(*fn)(void *), void *arg)
{
    pthread_t t;
    void *res = NULL;
    pthread_barrier_init(&ready, NULL, 2);
    if (pthread_create(&t, NULL, fn, arg) != 0) exit(1);
    pthread_barrier_wait(&ready);
    pthread_cancel(t);
    pthread_barrier_wait(&ready);
    pthread_join(t, &res);
    return res;
}

static void *worker(void *arg)
{
    (void)arg;
    await_pending_cancel();
    (void)unshare(CLONE_NEWUSER); /* EINVAL: this process has two threads */
    pthread_testcancel();
    return NULL;
}

static void *volatile child_block;

static void *forking_worker(void *arg)
{
    (void)arg;
    await_pending_cancel();
    pid_t c = fork();
    if (c == 0) {
        child_block = malloc(30036);
        (void)!write(1, "child\n", 6); /* cancelled here */
        _exit(9);
    }
    int st = 0, cs;
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cs);
    waitpid(c, &st, 0);
    printf("child status %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st));
    return NULL;
}

static void bye(void) { (void)!write(1, "atexit\n", 7); }

static void *exiting_worker(void *arg)
{
    await_pending_cancel();
    if (!arg) printf("exiting from the thread\n");
    exit(3);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "fork") == 0) {
        run_cancelled(forking_worker, NULL);
        return 0;
    }
    if (argc > 1 && (strcmp(argv[1], "exit") == 0 || strcmp(argv[1], "atexit") == 0)) {
        bool quiet = argv[1][0] == 'a';
        if (quiet) atexit(bye);
        run_cancelled(exiting_worker, quiet ? (void *)&ready : NULL);
        if (quiet) {
            (void)!write(1, "main: joined\n", 13);
            return 5;
        }
        printf("main: joined\n");
        return 0;
    }
    void *res = run_cancelled(worker, NULL);
    long n = 0;
    for (int i = 0; i < 2000000; i++) { /* more records than the rings hold */
        void *p = malloc(32 + (i & 255));
        if (!p) return 1;
        free(p);
        n++;
    }
    printf("%s, %ld blocks\n", res == PTHREAD_CANCELED ? "cancelled" : "not cancelled", n);
    return 0;
}
