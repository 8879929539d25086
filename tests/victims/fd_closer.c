/*
 * fd_closer.c — a program that is rude to descriptors it does not own, like daemons, shells
 * and test runners: it closes everything above stderr four ways (close loop, close_range,
 * closefrom, and the close_range system call itself, which no hook sees) and dup2()s its own
 * file over every number up to 1100. Leaks 777 bytes before
 * and 555 bytes after, and writes "hello\n" to out.txt through the last dup'ed number.
 * Usage: fd_closer DIR
 */
#include <fcntl.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static void *volatile g_sink;

int main(int argc, char **argv)
{
    if (argc < 2) return 64;
    g_sink = malloc(777);
    g_sink = NULL;
    for (int fd = 3; fd < 1100; fd++) close(fd);
    close_range(3, ~0u, 0);
    closefrom(3);
    g_sink = malloc(666);   /* between the hooked closes and the raw one */
    g_sink = NULL;
    struct timespec ts = { 0, 300 * 1000000 };   /* the writer flushes (every 200 ms) */
    nanosleep(&ts, NULL);
    syscall(SYS_close_range, 3u, ~0u, 0u);
    char path[4096];
    snprintf(path, sizeof path, "%s/out.txt", argv[1]);
    int f = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (f < 0) return 65;
    int last = f;
    for (int fd = 3; fd < 1100; fd++) {
        if (fd == f) continue;
        if (dup2(f, fd) == fd) last = fd;
    }
    for (int fd = 3; fd < 1100; fd++)
        if (fd != last) close(fd);
    g_sink = malloc(555);
    g_sink = NULL;
    if (write(last, "hello\n", 6) != 6) return 66;
    close(last);
    puts("done");
    return 0;
}
