/*
 * atfork_ctor.c — a library whose constructor registers 200 fork handlers: glibc allocates
 * their list (the process's first allocation) with its handlers' lock held, where the shim
 * starts tracing (tests/victims/atfork_first.c). The handlers count their calls.
 */
#include <pthread.h>

int atfork_ctor_calls[3];

static void prepare(void) { atfork_ctor_calls[0]++; }
static void parent(void) { atfork_ctor_calls[1]++; }
static void child(void) { atfork_ctor_calls[2]++; }

__attribute__((constructor)) static void register_many(void)
{
    for (int i = 0; i < 200; i++) pthread_atfork(prepare, parent, child);
}
