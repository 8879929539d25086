/*
 * san_victim.h — the body of the sanitizer victims (san_asan.c, san_tsan.c, san_lsan.c, each
 * built with its -fsanitize= flag, tests/victims/victims.mk): two threads that allocate, a
 * block leaked through a dropped pointer (its sanitizer's own leak report, when it has one), a
 * child through system() (a program without a sanitizer: traced), a line on stdout.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

static void *worker(void *arg)
{
    char *p = malloc(64);
    memset(p, (int)(long)arg, 64);
    int v = p[10];
    free(p);
    return (void *)(long)v;
}

__attribute__((noinline)) static void drop(void)
{
    void *volatile p = malloc(77);
    memset(p, 1, 77);
    p = NULL;
}

int main(void)
{
    pthread_t t[2];
    long sum = 0;
    for (long i = 0; i < 2; i++) pthread_create(&t[i], NULL, worker, (void *)(i + 1));
    for (int i = 0; i < 2; i++) {
        void *r;
        pthread_join(t[i], &r);
        sum += (long)r;
    }
    fflush(stdout);
    int rc = system("exit 3");
    printf("%s sum %ld child %d\n", SAN_NAME, sum, WIFEXITED(rc) ? WEXITSTATUS(rc) : -1);
    fflush(stdout); /* a leak report ends the process without stdio's flush */
    drop();
    return 0;
}
