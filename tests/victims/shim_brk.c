/*
 * shim_brk.c — victim: the program's own sbrk/brk, as a custom allocator grows the data
 * segment: 64 KiB with sbrk, 16 KiB given back with sbrk and 16 KiB more with brk, 8 KiB grown
 * again (40 KiB its own at exit). The only pointer to a malloc'd block of 10061 bytes is kept
 * in the part that stays (still reachable at exit: that memory is a root of the scan), the
 * only pointer to one of 10063 bytes in a part given back (lost). Output through write(2).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void say(const char *s) { (void)!write(1, s, strlen(s)); }

static void check(int ok, const char *what)
{
    say(what);
    say(ok ? ": ok\n" : ": FAILED\n");
}

/* The blocks, allocated before the program moves the break (glibc's malloc grows its own heap
 * with sbrk too, which would move the break between the program's calls), until their
 * pointers move into the program's memory. */
static void *volatile pending[2];

/* Moves a pending pointer into *slot: the only copy left. */
__attribute__((noinline)) static void stash(void **slot, int i)
{
    *slot = pending[i];
    pending[i] = NULL;
}

/* Overwrites the dead stack below main's frame, where copies of the pointers may linger. */
__attribute__((noinline)) static void scrub(void)
{
    volatile char pad[8192];
    memset((char *)pad, 0, sizeof pad);
}

int main(void)
{
    pending[0] = malloc(10061);
    pending[1] = malloc(10063);
    char *b0 = sbrk(0);
    char *b1 = sbrk(65536);
    check(b1 == b0, "sbrk grow");
    memset(b1, 0, 65536);
    stash((void **)(b1 + 128), 0);   /* stays */
    stash((void **)(b1 + 60000), 1); /* in the last 16 KiB: given back below */
    check(sbrk(-16384) == b0 + 65536, "sbrk shrink");
    check(brk(b0 + 32768) == 0, "brk shrink");
    char *b2 = sbrk(8192);
    check(b2 == b0 + 32768, "sbrk grow again");
    memset(b2, 0, 8192);
    check(*(void **)(b1 + 128) != NULL, "kept pointer");
    scrub();
    say("done\n");
    return 0;
}
