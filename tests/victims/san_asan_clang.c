/* san_asan_clang.c — san_victim.h built by clang with -fsanitize=address: the ASan runtime
 * linked into the executable, ahead of the shim (its own rule in the Makefile). */
#define SAN_NAME "asan_clang"
#include "san_victim.h"
