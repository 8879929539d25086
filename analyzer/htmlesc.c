/*
 * htmlesc.c — HTML and Markdown escaping (htmlesc.h).
 */
#include "htmlesc.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Length of a valid UTF-8 sequence at s, 0 when invalid. */
static size_t utf8_len(const unsigned char *s)
{
    unsigned c = s[0], v, min;
    size_t len;
    if (c < 0x80) return 1;
    if ((c & 0xE0) == 0xC0) { len = 2; min = 0x80; v = c & 0x1F; }
    else if ((c & 0xF0) == 0xE0) { len = 3; min = 0x800; v = c & 0x0F; }
    else if ((c & 0xF8) == 0xF0) { len = 4; min = 0x10000; v = c & 0x07; }
    else return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0; /* also stops at the terminating NUL */
        v = (v << 6) | (s[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
    return len;
}

static void escape(FILE *f, const char *str, bool md)
{
    if (!str) return;
    const unsigned char *s = (const unsigned char *)str;
    while (*s) {
        unsigned c = *s;
        switch (c) {
        case '&': fputs("&amp;", f); s++; continue;
        case '<': fputs("&lt;", f); s++; continue;
        case '>': fputs("&gt;", f); s++; continue;
        case '"': fputs("&quot;", f); s++; continue;
        case '\'': fputs("&#39;", f); s++; continue;
        default: break;
        }
        if (md) {
            if (strchr("|`*_[]\\#", (int)c)) {
                fputc('\\', f);
                fputc((int)c, f);
                s++;
                continue;
            }
            if (c == '\n' || c == '\r' || c == '\t') {
                fputc(' ', f);
                s++;
                continue;
            }
        }
        if (c == '\n' || c == '\t') {
            fputc((int)c, f);
            s++;
            continue;
        }
        if (c < 0x20 || c == 0x7F) {
            fputs("&#xFFFD;", f);
            s++;
            continue;
        }
        size_t l = utf8_len(s);
        if (l == 0) {
            fputs("&#xFFFD;", f);
            s++;
            continue;
        }
        fwrite(s, 1, l, f);
        s += l;
    }
}

void mw_html_escape(FILE *f, const char *s) { escape(f, s, false); }
void mw_md_escape(FILE *f, const char *s) { escape(f, s, true); }

char *mw_html_escape_str(const char *s)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return NULL;
    escape(f, s, false);
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}
