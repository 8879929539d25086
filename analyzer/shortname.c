/*
 * shortname.c — a demangled C++ function name cut down to what a one-line label needs:
 * "heap::base::SlotCallbackResult v8::internal::Scavenger::Evacuate<v8::internal::Slot>(v8::
 * internal::Map, ...)" reads "v8::internal::Scavenger::Evacuate<...>". The return type, the
 * template arguments and the parameter list go; "(anonymous namespace)", lambdas
 * ("{lambda(int)#1}") and operator names ("operator<<", "operator new[]", "operator()")
 * stay. C names come out unchanged. Full names stay in stacks (text, JSON, HTML, Markdown);
 * site labels and their caller chains use these (report.c), where a 200-character name cut at
 * the column hid what told two rows apart.
 */
#include <string.h>

#include "report.h"

/* Characters an operator's symbol is made of ("operator<<=", "operator[]", "operator->*"). */
static bool op_char(char c)
{
    return c && strchr("+-*/%^&|~!=<>,[]", c) != NULL;
}

/* Index just past the bracket group that opens at s[i] (open/close), or strlen(s) when it is
 * not closed. */
static size_t past_group(const char *s, size_t i, char open, char close)
{
    int depth = 0;
    for (; s[i]; i++) {
        if (s[i] == open) depth++;
        else if (s[i] == close && --depth == 0) return i + 1;
    }
    return i;
}

/* Appends c to out (len bytes, one kept for the terminator) at *o, if it fits. A function,
 * not a macro: callers pass name[i++]. */
static inline void put(char *out, size_t len, size_t *o, char c)
{
    if (*o + 1 < len) out[(*o)++] = c;
}

size_t mw_short_function(const char *name, char *out, size_t len)
{
    if (!len) return 0;
    size_t o = 0, i = 0;
    bool stop = false;
#define PUT(c) put(out, len, &o, (c))
    while (name[i] && !stop) {
        char c = name[i];
        if (!strncmp(name + i, "operator", 8) && (i == 0 || name[i - 1] == ':' || name[i - 1] == ' ') &&
            !(name[i + 8] == '_' || (name[i + 8] >= 'a' && name[i + 8] <= 'z') ||
              (name[i + 8] >= 'A' && name[i + 8] <= 'Z') || (name[i + 8] >= '0' && name[i + 8] <= '9'))) {
            /* the operator's whole name: its symbol, "()", or words up to its parameters
             * ("operator new[]", "operator delete", "operator bool") */
            for (size_t k = 0; k < 8; k++) PUT(name[i + k]);
            i += 8;
            if (name[i] == '(' && name[i + 1] == ')') {
                PUT('(');
                PUT(')');
                i += 2;
            } else if (op_char(name[i])) {
                while (op_char(name[i])) PUT(name[i++]);
                if (name[i] == ' ' && name[i + 1] == '<') i++; /* "operator< <int>" */
            } else {
                while (name[i] && name[i] != '(' && name[i] != '<') PUT(name[i++]);
            }
            continue;
        }
        if (c == '<') {
            /* template arguments */
            PUT('<');
            PUT('.');
            PUT('.');
            PUT('.');
            PUT('>');
            i = past_group(name, i, '<', '>');
            continue;
        }
        if (c == '{') {
            /* a lambda or other unnamed entity: as it is */
            size_t e = past_group(name, i, '{', '}');
            while (i < e) PUT(name[i++]);
            continue;
        }
        if (c == '(') {
            if (!strncmp(name + i, "(anonymous namespace)", 21)) {
                for (size_t k = 0; k < 21; k++) PUT(name[i + k]);
                i += 21;
                continue;
            }
            /* the parameter list: what follows is a qualifier (" const", " &&"), unless a
             * local entity's name goes on after it ("f(int)::cache") */
            i = past_group(name, i, '(', ')');
            while (name[i] == ' ' || name[i] == '&') i++;
            if (!strncmp(name + i, "const", 5)) i += 5;
            if (!strncmp(name + i, "volatile", 8)) i += 8;
            while (name[i] == ' ' || name[i] == '&') i++;
            if (name[i] == ':' && name[i + 1] == ':') {
                PUT(':');
                PUT(':');
                i += 2;
            } else {
                stop = true;
            }
            continue;
        }
        if (c == ' ') {
            /* the end of a return type ("std::string const& f(...)" -> "f"), unless what
             * came before was all qualifiers of the name itself */
            o = 0;
            i++;
            continue;
        }
        PUT(c);
        i++;
    }
#undef PUT
    if (!o) { /* nothing left (a name that is all punctuation): the name as it is */
        size_t n = strlen(name);
        if (n >= len) n = len - 1;
        memcpy(out, name, n);
        o = n;
    }
    out[o] = '\0';
    return o;
}
