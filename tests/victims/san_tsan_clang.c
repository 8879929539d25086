/* san_tsan_clang.c — san_victim.h built by clang with -fsanitize=thread: the TSan runtime
 * linked into the executable, ahead of the shim (its own rule in the Makefile). */
#define SAN_NAME "tsan_clang"
#include "san_victim.h"
