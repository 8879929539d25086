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
 */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>

static pthread_barrier_t ready;

static void *worker(void *arg)
{
    (void)arg;
    int old;
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
    pthread_barrier_wait(&ready); /* main requests the cancellation now */
    pthread_barrier_wait(&ready);
    pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, &old);
    (void)unshare(CLONE_NEWUSER); /* EINVAL: this process has two threads */
    pthread_testcancel();
    return NULL;
}

int main(void)
{
    pthread_t t;
    pthread_barrier_init(&ready, NULL, 2);
    if (pthread_create(&t, NULL, worker, NULL) != 0) return 1;
    pthread_barrier_wait(&ready);
    pthread_cancel(t);
    pthread_barrier_wait(&ready);
    void *res;
    pthread_join(t, &res);
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
