// reach_cxx.cc — C++ cases for the valgrind reference test (test_reference_leaks.c): blocks
// from operator new / new[], containers, strings, an exception thrown and caught.
//   still reachable: a global std::map and std::vector<std::string> (long strings: heap);
//   reachable through an interior pointer (valgrind "possibly lost"): a new[] array of
//     objects with destructors, whose pointer points past the array cookie;
//   definitely lost: a dropped std::vector<int>*, whose buffer is then indirectly lost.
#include <cstdio>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

struct Obj {
    int v = 7;
    ~Obj() { v = 0; }
};

std::map<int, std::string> *g_map;
std::vector<std::string> *g_strings;
Obj *g_objs;

__attribute__((noinline)) static void make()
{
    g_map = new std::map<int, std::string>;
    for (int i = 0; i < 20; i++) (*g_map)[i] = std::string(40 + i, 'x');
    g_strings = new std::vector<std::string>;
    for (int i = 0; i < 10; i++) g_strings->push_back(std::string(100, char('a' + i)));
    g_objs = new Obj[5];
    auto *lost = new std::vector<int>(1000, 3);
    (void)lost;
    try {
        throw std::runtime_error(std::string(200, 'e'));
    } catch (const std::exception &e) {
        std::printf("caught %zu\n", std::string(e.what()).size());
    }
}

__attribute__((noinline)) static void scrub()
{
    volatile char buf[16384];
    for (auto &c : buf) c = 0;
}

int main()
{
    make();
    scrub();
    std::printf("reach_cxx %zu %zu %d\n", g_map->size(), g_strings->size(), g_objs[4].v);
    return 0;
}
