/*
 * creds_reset_signals.c — sets a per-thread credential option after resetting every signal's
 * action to the default through the system call, as chromium's children do between fork and
 * exec (the shim repeats such options in its own threads by a real-time signal of its own,
 * whose default action ends the process); then again with a handler of its own on that
 * signal, which the shim must not call. Prints "nnp=1 own=0" as it does without the shim.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

struct kernel_sigaction { void (*handler)(int); unsigned long flags; void (*restorer)(void); unsigned long mask; };

static volatile sig_atomic_t own_calls;
static void own_handler(int sig) { (void)sig; own_calls++; }

int main(void)
{
    void *volatile p = malloc(64);
    struct kernel_sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.handler = SIG_DFL;
    for (int s = 1; s < 65; s++)
        if (s != SIGKILL && s != SIGSTOP) syscall(SYS_rt_sigaction, s, &dfl, NULL, 8);
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) { perror("prctl"); return 1; }
    for (int s = SIGRTMIN; s <= SIGRTMAX; s++) signal(s, own_handler);
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) { perror("prctl"); return 1; }
    usleep(20000); /* a signal sent to another thread would have run the handler by now */
    free(p);
    printf("nnp=%d own=%d\n", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0), (int)own_calls);
    return 0;
}
