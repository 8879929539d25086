/*
 * daemonize.c — a server's start with daemon(): forgets 777 bytes, prints "before", then
 * daemon(1, noclose): the parent ends at once (glibc's own _exit inside daemon, which the
 * shim's hook must see: preload/process.c), the child goes on in a new session and prints
 * one line, into its inherited stdout with "noclose", else into /dev/null.
 *
 *     daemonize [noclose]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    int noclose = argc > 1 && strcmp(argv[1], "noclose") == 0;
    void *volatile early = malloc(777);
    memset(early, 1, 777);
    early = NULL;
    printf("before\n");
    fflush(stdout);
    if (daemon(1, noclose) != 0) {
        perror("daemon");
        return 1;
    }
    printf("child in session %d\n", getsid(0) == getpid());
    fflush(stdout);
    return 0;
}
