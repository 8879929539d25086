/*
 * exit_together.c — four threads and main each make 20 000 malloc/free pairs and then call
 * exit() at about the same moment, with statuses 3, 4, 5, 6 and 9 (main returns 9 instead
 * with the argument "return": glibc then calls exit itself). glibc 2.36 lets them run exit()
 * at once: whichever calls _exit first ends the process, possibly while another is in the
 * shim's destructor writing the end of the trace.
 */
#include <pthread.h>
#include <stdlib.h>

static void churn(size_t base)
{
    for (int i = 0; i < 20000; i++) {
        void *volatile p = malloc(base + (size_t)(i % 100));
        free(p);
    }
}

static void *worker(void *a)
{
    churn(32);
    exit((int)(long)a);
}

int main(int argc, char **argv)
{
    pthread_t t[4];
    for (long i = 0; i < 4; i++) pthread_create(&t[i], NULL, worker, (void *)(i + 3));
    churn(64);
    if (argc > 1 && argv[1][0] == 'r') return 9;
    exit(9);
}
