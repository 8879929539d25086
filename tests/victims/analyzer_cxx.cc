// analyzer_cxx.cc — C++ victim for the analyzer's symbolization tests: a leak made through an
// always-inlined member function (an inlined frame), one through two levels of them (two
// inlined frames at one address), and one through a template function (a demangled name with
// template arguments). Prints nothing; exits 0.
#include <cstddef>
#include <cstdlib>
#include <cstring>

namespace shop {

struct Cart {
    static inline __attribute__((always_inline)) char *grab(std::size_t n)
    {
        return static_cast<char *>(std::malloc(n)); // inlined leak site
    }
    static inline __attribute__((always_inline)) char *grab_more(std::size_t n)
    {
        return grab(n + 1000); // inlined call of the inlined grab
    }
    __attribute__((noinline)) static char *make_leak(int n);
    __attribute__((noinline)) static char *make_deep_leak(int n);
};

char *Cart::make_leak(int n)
{
    char *p = grab(4000 + static_cast<std::size_t>(n)); // call of the inlined grab
    if (p) std::memset(p, 1, 16);
    return p;
}

char *Cart::make_deep_leak(int n)
{
    char *p = grab_more(4000 + static_cast<std::size_t>(n)); // call of the twice-inlined grab
    if (p) std::memset(p, 2, 16);
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
    g_sink = shop::Cart::make_deep_leak(22);
    g_sink = shop::spawn<double>(300);
    g_sink = nullptr;
    return 0;
}
