/* san_lsan.c — san_victim.h built with -fsanitize=leak (tests/victims/victims.mk). */
#define SAN_NAME "lsan"
#include "san_victim.h"
