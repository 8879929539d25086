// analyzer_cxx.cc — C++ victim for the analyzer's symbolization tests: a leak made through an
// always-inlined member function (an inlined frame), and one through a template function
// (a demangled name with template arguments). Prints nothing; exits 0.
#include <cstddef>
#include <cstdlib>
#include <cstring>

namespace shop {

struct Cart {
    static inline __attribute__((always_inline)) char *grab(std::size_t n)
    {
        return static_cast<char *>(std::malloc(n)); // inlined leak site
    }
    __attribute__((noinline)) static char *make_leak(int n);
};

char *Cart::make_leak(int n)
{
    char *p = grab(4000 + static_cast<std::size_t>(n)); // call of the inlined grab
    if (p) std::memset(p, 1, 16);
    return p;
}

template <typename T> __attribute__((noinline)) T *spawn(std::size_t n)
{
    return new T[n]; // template leak site
}

} // namespace shop

static void *volatile g_sink;

int main()
{
    g_sink = shop::Cart::make_leak(21);
    g_sink = shop::spawn<double>(300);
    g_sink = nullptr;
    return 0;
}
