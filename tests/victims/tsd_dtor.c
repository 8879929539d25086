/*
 * tsd_dtor.c — allocation in a thread's pthread key destructors, which glibc runs as the
 * thread ends: 8 threads, one after another, each sets a key to a block of 999 bytes; the
 * key's destructor frees it, forgets a block of 777 bytes (definitely lost) and keeps one of
 * 55 in a global array (reachable), and in its second round (it sets the key again once)
 * forgets one of 333. Each must carry its stack, from dtor (the shim's own key destructor
 * runs among these: thread.c). Prints each function's address ("dtor 0x..."), then "done".
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_key_t key;
static void *volatile kept[16];
static int nkept;

__attribute__((noinline)) static void forget(size_t n)
{
    void *volatile q = malloc(n);
    memset(q, 2, n);
    q = NULL;
}

__attribute__((noinline)) static void dtor(void *p)
{
    if (p == (void *)1) { /* the second round */
        forget(333);
        return;
    }
    free(p);
    forget(777);
    kept[__atomic_fetch_add(&nkept, 1, __ATOMIC_RELAXED)] = malloc(55);
    pthread_setspecific(key, (void *)1);
}

__attribute__((noinline)) static void *run(void *a)
{
    (void)a;
    pthread_setspecific(key, malloc(999));
    return NULL;
}

int main(void)
{
    printf("dtor %p\nrun %p\nforget %p\nmain %p\n", (void *)dtor, (void *)run, (void *)forget, (void *)main);
    if (pthread_key_create(&key, dtor) != 0) return 1;
    for (int i = 0; i < 8; i++) {
        pthread_t t;
        if (pthread_create(&t, NULL, run, NULL) != 0 || pthread_join(t, NULL) != 0) return 1;
    }
    printf("done\n");
    return 0;
}
