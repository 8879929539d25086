/* san_asan.c — san_victim.h built with -fsanitize=address (tests/victims/victims.mk). */
#define SAN_NAME "asan"
#include "san_victim.h"
