/* san_tsan.c — san_victim.h built with -fsanitize=thread (tests/victims/victims.mk). */
#define SAN_NAME "tsan"
#include "san_victim.h"
