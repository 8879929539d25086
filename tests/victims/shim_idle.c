/*
 * shim_idle.c — victim: a program that allocates, does nothing for 1.2 s, then allocates a
 * block of 4242 bytes. It counts the wake-ups of the shim's writer thread ("memwatch-writer",
 * from /proc/self/task) over its last second of idleness and prints them: an idle writer
 * sleeps longer between rounds (preload/writer.c, IDLE_PASSES). Natively there is no writer.
 *
 *     shim_idle      prints "writer wakeups N" (N = -1 without a writer); exit status 0
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The writer's voluntary context switches so far, -1 when there is no such thread. */
static long writer_switches(void)
{
    DIR *d = opendir("/proc/self/task");
    if (!d) return -1;
    long n = -1;
    struct dirent *e;
    while ((e = readdir(d)) && n < 0) {
        if (e->d_name[0] == '.') continue;
        char path[300], line[256];
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        int is_writer = fgets(line, sizeof line, f) && strncmp(line, "memwatch-writer", 15) == 0;
        fclose(f);
        if (!is_writer) continue;
        snprintf(path, sizeof path, "/proc/self/task/%s/status", e->d_name);
        f = fopen(path, "r");
        if (!f) continue;
        while (fgets(line, sizeof line, f))
            if (sscanf(line, "voluntary_ctxt_switches: %ld", &n) == 1) break;
        fclose(f);
    }
    closedir(d);
    return n;
}

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0) {}
}

int main(void)
{
    void *volatile p = malloc(100);
    free(p);
    sleep_ms(200);                 /* the writer has been idle for 100 ms by then */
    long a = writer_switches();
    sleep_ms(1000);
    long b = writer_switches();
    char *q = malloc(4242);        /* its time is read by this thread while the writer sleeps */
    if (!q) return 1;
    q[0] = 1;
    printf("writer wakeups %ld\n", a < 0 || b < 0 ? -1 : b - a);
    free(q);
    return 0;
}
