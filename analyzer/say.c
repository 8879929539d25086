/*
 * say.c — one clean line on stderr (say.h).
 */
#include "say.h"

#include <stdarg.h>
#include <stdio.h>

void mw_say(const char *fmt, ...)
{
    char line[8192];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    size_t len = (size_t)n < sizeof line ? (size_t)n : sizeof line - 1;
    if (len && line[len - 1] == '\n') len--;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f) line[i] = '?';
    fprintf(stderr, "%.*s\n", (int)len, line);
}
