/*
 * shim_stderr_reused.c — victim: a program that closes its stderr and opens a file of its
 * own in its place (descriptor 2), as daemons do, writes to it, then allocates enough for the
 * shim to have something to say (the test runs it with a file size limit its trace cannot
 * stay under). The file must hold only what the program wrote: the shim's diagnostics go to
 * the stderr the program started with, never to a file that took its number.
 *
 *     shim_stderr_reused FILE      prints "done"; exit status 0 (3 if FILE did not get fd 2)
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 2) return 2;
    close(2);
    int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd != 2) return 3;
    if (write(2, "program data\n", 13) != 13) return 4;
    /* random sizes and lifetimes: a trace far past a few kilobytes */
    void *slot[64] = { 0 };
    unsigned long x = 88172645463325252ul, sum = 0;
    for (int i = 0; i < 200000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        unsigned k = (unsigned)(x % 64);
        free(slot[k]);
        slot[k] = malloc(16 + x % 2000);
        if (!slot[k]) return 5;
        memset(slot[k], 1, 16);
        sum += x & 1;
    }
    for (int k = 0; k < 64; k++) free(slot[k]);
    usleep(300000); /* the writer's periodic flush meets the file size limit */
    printf("done %lu\n", sum & 0);
    return 0;
}
