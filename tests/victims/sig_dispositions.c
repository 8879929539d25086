/*
 * sig_dispositions.c — prints every signal whose action is not the default (what gdb checks
 * at start, warning about each handler it finds), so a test can compare the list with and
 * without the shim: the shim's own handlers must not show.
 */
#include <signal.h>
#include <stdio.h>

int main(void)
{
    for (int s = 1; s <= SIGRTMAX; s++) {
        struct sigaction sa;
        if (sigaction(s, NULL, &sa) != 0) continue;
        if (!(sa.sa_flags & SA_SIGINFO) && sa.sa_handler == SIG_DFL) continue;
        printf("signal %d: %s\n", s, !(sa.sa_flags & SA_SIGINFO) && sa.sa_handler == SIG_IGN ? "ignored" : "handled");
    }
    printf("done\n");
    return 0;
}
