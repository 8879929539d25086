// cxx_new_fail.cc — operator new's failure paths, for the C++ operators of a malloc behind
// the shim (test_shim_own_malloc.c): new[] of 2^60 bytes throws bad_alloc, the nothrow form
// returns NULL, a new_handler runs three times before new gives up, an over-aligned new[] is
// aligned, and the blocks of plain new/delete come and go. Prints one line per case.
#include <cstdio>
#include <cstdlib>
#include <new>

static int handler_calls;

int main()
{
    volatile size_t huge = (size_t)1 << 60;
    try {
        char *p = new char[huge];
        p[0] = 1;
        std::puts("no bad_alloc");
    } catch (const std::bad_alloc &) {
        std::puts("bad_alloc");
    }
    char *q = new (std::nothrow) char[huge];
    std::printf("nothrow %s\n", q ? "got a block" : "null");
    std::set_new_handler([] {
        if (++handler_calls > 2) std::set_new_handler(nullptr);
    });
    try {
        char *p = new char[huge];
        (void)p;
    } catch (const std::bad_alloc &) {
        std::printf("new_handler ran %d times\n", handler_calls);
    }
    struct alignas(256) A { char c[256]; };
    A *a = new A[3];
    std::printf("aligned new[]: %d\n", (int)((unsigned long)a % 256));
    delete[] a;
    int *x = new int(7);
    std::printf("new int %d\n", *x);
    delete x;
    return 0;
}
