/*
 * shim_fatal.c — victim: a process that dies of a signal, right after allocating (so its
 * records are still in the shim's rings), for the fatal-signal handlers (preload/fatal.c).
 *
 *   shim_fatal segv | abort | term | pipe | fpe | alarm | usr1 | trap | ill | doublefree | reraise
 *       allocates 1000 blocks of 321 bytes, prints "crash_here 0xADDR", then dies: a NULL
 *       write, abort(), raise(SIGTERM), a write to a pipe with no reader, an integer division
 *       by zero, raise(SIGALRM), raise(SIGUSR1), an int3 (SIGTRAP, as chromium's CHECK), a ud2
 *       (SIGILL, __builtin_trap), freeing a block twice (glibc's free() aborts), or SIGTERM caught by a clean-up handler that restores the default action
 *       with signal(), says what sigaction() reports then and what it replaced when asked for
 *       the default once more, and raises it again (as git does); each inside crash_here();
 *   shim_fatal overflow | overflow_thread | overflow_ownalt    allocates 1000 blocks of 321
 *       bytes, prints "recurse 0xADDR" and whether sigaltstack() reports an alternate signal
 *       stack, then overflows its stack in recurse(), on the main thread or on a second one,
 *       or on the main thread after setting an alternate stack of its own (and saying
 *       whether sigaltstack() then reports that one);
 *   shim_fatal own      what the program sees: sigaction() and signal() report the default
 *       action for SIGSEGV and SIGINT; then its own SIGTERM handler replaces the shim's and
 *       runs (prints "handled", exits 3).
 */
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void *volatile keep[1000];
static volatile int zero;

static void cleanup_then_die(int sig)
{
    signal(sig, SIG_DFL);
    struct sigaction cur;
    sigaction(sig, NULL, &cur);
    static const char d[] = "restored: default\n", o[] = "restored: other\n";
    bool dfl = !(cur.sa_flags & SA_SIGINFO) && cur.sa_handler == SIG_DFL;
    (void)!write(1, dfl ? d : o, dfl ? sizeof d - 1 : sizeof o - 1);
    /* once more through sigaction(): the action it replaced reads as the default too */
    struct sigaction def, prev;
    memset(&def, 0, sizeof def);
    def.sa_handler = SIG_DFL;
    sigemptyset(&def.sa_mask);
    sigaction(sig, &def, &prev);
    dfl = !(prev.sa_flags & SA_SIGINFO) && prev.sa_handler == SIG_DFL;
    (void)!write(1, dfl ? d : o, dfl ? sizeof d - 1 : sizeof o - 1);
    raise(sig);
}

__attribute__((noinline)) static void crash_here(const char *how)
{
    if (!strcmp(how, "segv")) *(volatile int *)(uintptr_t)zero = 1;
    else if (!strcmp(how, "abort")) abort();
    else if (!strcmp(how, "term")) raise(SIGTERM);
    else if (!strcmp(how, "alarm")) raise(SIGALRM);
    else if (!strcmp(how, "usr1")) raise(SIGUSR1);
    else if (!strcmp(how, "trap")) __asm__ volatile("int3");
    else if (!strcmp(how, "ill")) __builtin_trap();
    else if (!strcmp(how, "reraise")) {
        signal(SIGTERM, cleanup_then_die);
        raise(SIGTERM);
    } else if (!strcmp(how, "doublefree")) {
        free(keep[0]);
        free(keep[0]);
    }
    else if (!strcmp(how, "fpe")) printf("%d\n", 1000 / zero); /* not 1 / x: gcc turns that into compares */
    else if (!strcmp(how, "pipe")) {
        int p[2];
        if (pipe(p) != 0) exit(2);
        close(p[0]);
        (void)!write(p[1], "x", 1);
    }
    __asm__ volatile("");
}

/* Recursion with a frame the compiler cannot drop, deeper than any stack: it overflows. */
static volatile int depth_limit = 1 << 30;
__attribute__((noinline)) static int recurse(int n)
{
    volatile char pad[512];
    pad[0] = (char)n;
    if (n >= depth_limit) return 0;
    return recurse(n + 1) + pad[0];
}

static void *overflow_thread(void *arg)
{
    (void)arg;
    stack_t ss;
    sigaltstack(NULL, &ss);
    printf("thread altstack %s\n", (ss.ss_flags & SS_DISABLE) ? "none" : "set");
    fflush(stdout);
    recurse(0);
    return NULL;
}

static void on_term(int sig)
{
    (void)sig;
    static const char m[] = "handled\n";
    (void)!write(1, m, sizeof m - 1);
    _exit(3);
}

int main(int argc, char **argv)
{
    if (argc < 2) return 64;
    if (!strcmp(argv[1], "own")) {
        struct sigaction old;
        sigaction(SIGSEGV, NULL, &old);
        printf("SIGSEGV %s\n", !(old.sa_flags & SA_SIGINFO) && old.sa_handler == SIG_DFL ? "default" : "handled");
        void (*prev)(int) = signal(SIGINT, SIG_IGN);
        printf("SIGINT %s\n", prev == SIG_DFL ? "default" : "handled");
        signal(SIGINT, prev);
        signal(SIGTERM, on_term);
        fflush(stdout);
        raise(SIGTERM);
        return 0;
    }
    for (int i = 0; i < 1000; i++) keep[i] = malloc(321);
    if (!strncmp(argv[1], "overflow", 8)) {
        stack_t ss;
        sigaltstack(NULL, &ss);
        printf("recurse %p\naltstack %s\n", (void *)recurse, (ss.ss_flags & SS_DISABLE) ? "none" : "set");
        fflush(stdout);
        if (!strcmp(argv[1], "overflow_ownalt")) {
            static char own[64 * 1024];
            stack_t mine = { .ss_sp = own, .ss_flags = 0, .ss_size = sizeof own };
            stack_t now;
            int ok = sigaltstack(&mine, NULL) == 0 && sigaltstack(NULL, &now) == 0 && now.ss_sp == own &&
                     !(now.ss_flags & SS_DISABLE);
            printf("own altstack %s\n", ok ? "set" : "FAILED");
            fflush(stdout);
        }
        if (!strcmp(argv[1], "overflow_thread")) {
            pthread_t t;
            if (pthread_create(&t, NULL, overflow_thread, NULL) != 0) return 2;
            pthread_join(t, NULL);
        }
        recurse(0);
    }
    printf("crash_here %p\n", (void *)crash_here);
    fflush(stdout);
    crash_here(argv[1]);
    return 0;
}
