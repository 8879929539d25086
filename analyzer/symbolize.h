/*
 * symbolize.h — offline symbolization of a process's addresses (symbolize.c), from the
 * MODULE_LOAD records of its trace, with elfutils' libdw.
 */
#ifndef MW_SYMBOLIZE_H
#define MW_SYMBOLIZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model.h"

/* One source-level frame. Strings belong to the symbolizer (valid until mw_sym_free). */
typedef struct mw_frame {
    uint64_t ip;            /* the recorded address */
    unsigned inline_depth;  /* 0 innermost; >0 callers of inlined code at the same ip */
    const char *function;   /* demangled; "module+0xoffset" (or "0xaddr") when unknown */
    const char *file;       /* NULL when no line info */
    uint64_t line;          /* 0 when unknown */
    const char *module;     /* object path, NULL when no module contains ip */
    uint64_t fn_offset;     /* ip's offset in its function's symbol (the outermost frame at an
                               ip, when a symbol holds it), else 0: "f+0x2a" tells two calls in
                               f apart where there is no line information */
} mw_frame;

typedef struct mw_symbolizer mw_symbolizer;

/* Reports every module of p to libdw (objects that cannot be opened degrade to
 * module+offset names, never to an error). NULL only when out of memory. */
mw_symbolizer *mw_sym_new(const mw_proc *p);
void mw_sym_free(mw_symbolizer *s);
/* Frames of one address, innermost (inlined) first; *out stays valid until the next
 * mw_sym_addr/mw_sym_stack call (copy what you keep).
 * Return addresses (every stack-tree frame) are looked up at ip-1; exact pcs (is_return
 * false) as they are. Results are cached per address. Returns the number of frames (>= 1). */
size_t mw_sym_addr(mw_symbolizer *s, uint64_t ip, bool is_return, const mw_frame **out);
/* Frames of a whole stack (innermost first, frames inside the shim itself left out), at
 * most max; returns the count. */
size_t mw_sym_stack(mw_symbolizer *s, uint64_t stack, mw_frame *out, size_t max);
/* How many distinct addresses looked up so far lay outside every object, when the process
 * has no perf map to name them (generated code: JavaScript without node --perf-basic-prof);
 * 0 when it has one. */
size_t mw_sym_unnamed_jit(const mw_symbolizer *s);
/* The objects whose addresses were looked up so far but that could not be read (no such
 * file any more, changed since the run, ...): their frames read module+0xoffset. Iterates
 * from *it = 0; false when there are no more. */
bool mw_sym_unreadable(const mw_symbolizer *s, size_t *it, const char **path, const char **why);
/* Every frame symbolized so far (for the store's frames table). */
void mw_sym_foreach(const mw_symbolizer *s, void (*fn)(const mw_frame *f, void *arg), void *arg);

#endif /* MW_SYMBOLIZE_H */
