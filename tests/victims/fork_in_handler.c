/*
 * fork_in_handler.c — victim: forks from a SIGALRM handler while main loops over malloc and
 * free, so the signal mostly lands inside one of the shim's hooks (tests/integration/
 * test_shim_inherit.c). Such a child starts its trace only at its first allocation call after
 * the interrupted hook is done (preload/init.c, on_fork_child).
 *
 *     fork_in_handler exit      30 children, each calling _exit(0) in the handler at once:
 *                               they have no trace, and the parent counts each such fork as
 *                               lost (before 06:40 UTC on 2026-11-23 most of them left a
 *                               trace without its end, or an empty one)
 *     fork_in_handler big       the same with blocks of 2-6 KB, which glibc's per-thread cache
 *                               does not hold: free takes the arena lock, and the signal often
 *                               lands inside it. glibc's fork, which takes that lock in a
 *                               multithreaded process (the shim's writer thread makes it one),
 *                               hung on it within a few forks before 07:20 UTC on 2026-11-23
 *     fork_in_handler respawn   one child that returns from the handler and lives on as a
 *                               worker: 1 000 malloc/free pairs, one block of 7777 bytes leaked
 *
 * prints: forks 30 / parent 0 (exit, big); worker done / parent 0 (respawn)
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile int forks, respawn;
static volatile pid_t worker;
void *volatile sink;

static void on_alarm(int s)
{
    (void)s;
    if (respawn) {
        if (worker) return;
        pid_t c = fork();
        worker = c == 0 ? -1 : c;
        return; /* the child: back into main's interrupted loop, as the worker */
    }
    if (forks >= 30) return; /* a signal between main's last check and its timer's end */
    pid_t c = fork();
    if (c == 0) _exit(0);
    if (c > 0 && waitpid(c, NULL, 0) == c) forks++;
}

static void timer(long us)
{
    struct itimerval it = { { 0, us }, { 0, us } };
    setitimer(ITIMER_REAL, &it, NULL);
}

int main(int argc, char **argv)
{
    if (argc != 2) return 2;
    respawn = !strcmp(argv[1], "respawn");
    size_t base = strcmp(argv[1], "big") ? 64 : 2048, span = strcmp(argv[1], "big") ? 512 : 4096;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &sa, NULL);
    timer(5000);
    for (unsigned long n = 0; respawn ? !worker : forks < 30; n++) {
        sink = malloc(base + n % span);
        free(sink);
    }
    timer(0);
    if (worker == -1) {
        for (int i = 0; i < 1000; i++) {
            sink = malloc(100);
            free(sink);
        }
        sink = malloc(7777);
        sink = NULL;
        printf("worker done\n");
        fflush(stdout);
        exit(0);
    }
    int st = 0;
    if (respawn && waitpid(worker, &st, 0) != worker) return 1;
    if (!respawn) printf("forks %d\n", forks);
    printf("parent %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : 128);
    return 0;
}
