/*
 * suppress.h — LeakSanitizer-style suppressions (suppress.c): `leak:PATTERN` lines matched
 * against the function, file and module names of every frame of a leak's stack.
 */
#ifndef MW_SUPPRESS_H
#define MW_SUPPRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "symbolize.h"

typedef struct mw_supp {
    char **patterns;
    uint64_t *hit_bytes;     /* per pattern: bytes it suppressed (summed over processes) */
    uint64_t *hit_blocks;
    size_t n;
} mw_supp;

void mw_supp_init(mw_supp *s);
void mw_supp_free(mw_supp *s);
/* Parses suppression text (name is used in messages). Lines: `leak:PATTERN`, `# comment`,
 * blank; surrounding whitespace ignored. Returns 0, or -1 with "NAME:LINE: reason" in err. */
int mw_supp_parse(mw_supp *s, const char *text, const char *name, char *err, size_t errlen);
/* Reads and parses a file: at most MW_SUPP_FILE_MAX bytes, no NUL bytes; -1 with
 * "cannot read suppressions PATH: reason" or a parse error in err. */
#define MW_SUPP_FILE_MAX (64u << 20)
int mw_supp_load(mw_supp *s, const char *path, char *err, size_t errlen);
/* LeakSanitizer's template match: substring match with `*` wildcards, `^` anchoring the
 * start and `$` the end. An empty string never matches. */
bool mw_supp_match(const char *pattern, const char *str);
/* Index of the first pattern matching any frame's function, file or module, or -1. */
int mw_supp_match_frames(const mw_supp *s, const mw_frame *f, size_t n);
/* Marks p's leak groups matched by s (may be NULL: none) as suppressed and recomputes
 * p->leak_*, p->supp_* and the per-mark leak figures. Call once per process after ingest. */
void mw_supp_apply(mw_supp *s, mw_proc *p, mw_symbolizer *sym);

#endif /* MW_SUPPRESS_H */
