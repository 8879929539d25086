/*
 * shim_stacks.c — victim for stack correctness: leaks blocks from several interleaved call
 * paths (different depths, recursion) so the per-thread unwind cache is hit, partly hit and
 * invalidated. Prints the address of each function ("name 0xADDR") for the test to map
 * return addresses back to functions. Sizes: 80001+10i main>leaf, 80002+10i main>a>b>leaf,
 * 80003+10i main>b>leaf, 80004+10i main>rec*6>leaf, 80005+10i main>rec*3>leaf,
 * 80006+10i and 80008+10i main>x>leaf, 80007+10i main>y>leaf (x and y have the same frame
 * layout, so malloc's caller frame matches the cache exactly and only the ancestors differ);
 * then 90001 / 90002 / 90003 (x, y, x) through the slot search's back-off (see main); then an
 * interpreter's loop (interp): 95001 leaf>interp, 95002 leaf>x>interp, 95003 leaf>b>a>interp,
 * 95004 leaf>rec*4>interp, 95005 interp itself (each >main); then one call site calling
 * through a pointer, to a wrapper of malloc or to malloc itself: 96001 wrap>via_ptr>rec2*4,
 * 96002 via_ptr>rec2*4 (each >main); then 97000+d main>rec*(d+1)>leaf for d = 7, 8, 9, the three
 * recursions entered from one line (only their depth tells them apart); then 98001 and 98002
 * two>main, two calls of malloc in one function.
 */
#include <stdio.h>
#include <stdlib.h>

static void *volatile sink;

__attribute__((noinline)) void leaf(size_t n)
{
    sink = malloc(n);
    __asm__ volatile("");
}
__attribute__((noinline)) void b(size_t n)
{
    leaf(n);
    __asm__ volatile("");
}
__attribute__((noinline)) void a(size_t n)
{
    b(n);
    __asm__ volatile("");
}
__attribute__((noinline)) void x(size_t n)
{
    leaf(n);
    __asm__ volatile("");
}
__attribute__((noinline)) void y(size_t n)
{
    leaf(n);
    __asm__ volatile("");
}
__attribute__((noinline)) void rec(int d, size_t n)
{
    if (d > 0)
        rec(d - 1, n);
    else
        leaf(n);
    __asm__ volatile("");
}

/* An interpreter's loop: its frame stays while each step allocates at another depth under
 * it, which is what the shim's partial captures are for (unwind the few innermost frames
 * until one is a cached frame still in place, keep the cached part above it). */
__attribute__((noinline)) void interp(int steps)
{
    for (int i = 0; i < steps; i++) {
        switch (i % 5) {
        case 0: leaf(95001); break;
        case 1: x(95002); break;
        case 2: a(95003); break;
        case 3: rec(3, 95004); break;
        default: sink = malloc(95005); break;
        }
    }
    __asm__ volatile("");
}

/* One call site reaching malloc directly or through wrap: a direct call there finds the call
 * site's frame among the cached frames of the wrapped call, one frame up. */
__attribute__((noinline)) void *wrap(size_t n)
{
    void *p = malloc(n);
    __asm__ volatile("");
    return p;
}
static void *(*volatile alloc_fn)(size_t);
__attribute__((noinline)) void via_ptr(int i)
{
    alloc_fn = i % 3 == 2 ? malloc : wrap; /* twice wrap: the slots are searched, then direct */
    sink = alloc_fn(i % 3 == 2 ? 96002 : 96001);
    __asm__ volatile("");
}
__attribute__((noinline)) void rec2(int d, int i)
{
    if (d > 0)
        rec2(d - 1, i);
    else
        via_ptr(i);
    __asm__ volatile("");
}

__attribute__((noinline)) void two(size_t n)
{
    sink = malloc(n);
    __asm__ volatile("");
    sink = malloc(n + 1);
    __asm__ volatile("");
}

int main(void)
{
    printf("leaf %p\nb %p\na %p\nrec %p\nmain %p\nx %p\ny %p\ninterp %p\nwrap %p\nvia_ptr %p\nrec2 %p\n",
           (void *)leaf, (void *)b, (void *)a, (void *)rec, (void *)main, (void *)x, (void *)y,
           (void *)interp, (void *)wrap, (void *)via_ptr, (void *)rec2);
    for (size_t i = 0; i < 4; i++) {
        leaf(80001 + 10 * i);
        a(80002 + 10 * i);
        b(80003 + 10 * i);
        rec(5, 80004 + 10 * i);
        rec(2, 80005 + 10 * i);
        x(80006 + 10 * i);
        x(80008 + 10 * i); /* x twice: the unwind cache gets its slots here ... */
        y(80007 + 10 * i); /* ... and y must not be taken for x */
    }
    /* x, x, y over and over makes each slot search useless (y fails the armed fast path right
     * away), so the shim backs off from searching; a plain loop of x afterwards gets the fast
     * path back. Every block must keep its exact stack through both: 90001 and 90003 x, 90002 y */
    for (int i = 0; i < 300; i++) {
        x(90001);
        x(90001);
        y(90002);
    }
    for (int i = 0; i < 300; i++) x(90003);
    interp(100);
    for (int i = 0; i < 100; i++) rec2(3, i);
    for (int d = 7; d <= 9; d++) rec(d, 97000 + (size_t)d);
    two(98001);
    return 0;
}
