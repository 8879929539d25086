/*
 * pathsame.h — whether two paths name the same file, existing or still to be made: the
 * analyzer and the runner refuse to write a report over a trace, the store or another report.
 */
#ifndef MW_PATHSAME_H
#define MW_PATHSAME_H

#include <stdbool.h>

/* Both exist: the same file (links and other spellings count). Neither exists: they will be
 * the same file once made (the same real directory and file name). One exists: false. */
bool mw_path_same(const char *a, const char *b);

#endif /* MW_PATHSAME_H */
