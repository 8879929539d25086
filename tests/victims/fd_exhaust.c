/*
 * fd_exhaust.c — a program that opens files until it runs out of descriptors (EMFILE) and
 * prints how many it got and the highest number, then exits with them all open and a block
 * in a global (reachable). Natively and traced the output must be the same: the shim's own
 * descriptors go above the soft RLIMIT_NOFILE where the hard one leaves room, and its exit
 * scan still opens its /proc files there.
 * Usage: fd_exhaust    (run it with a small soft limit: sh -c 'ulimit -Sn 64; exec fd_exhaust')
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void *volatile keep;

int main(void)
{
    keep = malloc(30035);
    int n = 0, hi = -1, fd;
    while ((fd = open("/dev/null", O_RDONLY)) >= 0) {
        n++;
        if (fd > hi) hi = fd;
        if (n > 1000000) break;
    }
    printf("opened %d, highest %d, then %s\n", n, hi, strerror(errno));
    fflush(stdout);
    return 0;
}
