/*
 * perfmap.h — names of a process's JIT code from its perf map (perfmap.c): the
 * /tmp/perf-<pid>.map a runtime writes when asked (`node --perf-basic-prof`, Python 3.12's
 * `-X perf`), one "START SIZE name" line per piece of generated code. The symbolizer asks it
 * for addresses no loaded object holds, so a Node.js stack shows `makeThing app.js:1` where it
 * showed a bare address.
 */
#ifndef MW_PERFMAP_H
#define MW_PERFMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct mw_perfmap mw_perfmap;

/* A name of generated code, split for a frame: function, and for JavaScript the script and
 * line ("JS:~makeThing /app/x.js:1:19" -> makeThing, /app/x.js, 1; file NULL and line 0 when
 * the name carries none). Strings belong to the map. */
typedef struct mw_perfmap_sym {
    const char *function;
    const char *file;
    uint64_t line;
    uint64_t offset;        /* of the address in that code */
} mw_perfmap_sym;

/* Reads the map at path if it is the traced process's: a regular file (not followed through a
 * symlink) owned by uid, last written no earlier than since_s and no later than until_s
 * (seconds since the epoch; a map of another process that had the same pid later, or on
 * another machine, is not used). NULL when there is none or it does not qualify (why says
 * which, when why is given); lines that do not parse are skipped. Bounded: at most 4 M
 * entries, 8 KiB per line. */
mw_perfmap *mw_perfmap_load(const char *path, uid_t uid, int64_t since_s, int64_t until_s, char *why,
                            size_t whylen);
/* The code holding addr (the entry written last when several do); false when none. */
bool mw_perfmap_lookup(const mw_perfmap *m, uint64_t addr, mw_perfmap_sym *out);
size_t mw_perfmap_count(const mw_perfmap *m);
void mw_perfmap_free(mw_perfmap *m);

#endif /* MW_PERFMAP_H */
