/*
 * shim_cxx.cc — victim: C++ new/delete, containers and exceptions reach the hooks;
 * leaks one new char[60001].
 */
#include <cstdio>
#include <map>
#include <stdexcept>
#include <string>
#include <unistd.h>
#include <vector>

static char *volatile sink;

static int thrower(int n)
{
    std::string s(100, 'x');
    if (n > 3) throw std::runtime_error("deep " + std::to_string(n));
    return thrower(n + 1) + (int)s.size();
}

int main()
{
    int caught = 0;
    for (int i = 0; i < 50; i++) {
        try {
            thrower(0);
        } catch (const std::exception &e) {
            caught++;
        }
    }
    std::vector<int> v;
    for (int i = 0; i < 10000; i++) v.push_back(i);
    std::map<int, std::string> m;
    for (int i = 0; i < 100; i++) m[i] = std::string(50, 'a');
    int *volatile arr = new int[1000]; /* volatile: the pair must not be elided */
    delete[] arr;
    sink = new char[60001];
    char out[64];
    int n = snprintf(out, sizeof out, "cxx ok %d %zu %zu\n", caught, v.size(), m.size());
    (void)!write(1, out, (size_t)n);
    return 0;
}
