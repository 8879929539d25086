/*
 * sql_fingerprint.h — SQL text normalization and query fingerprints.
 *
 * A fingerprint is XXH3_64bits of the normalized text: literals replaced by `?`, comments
 * dropped, whitespace collapsed, literal-only IN lists and repeated VALUES rows collapsed. `WHERE id = 1` and
 * `WHERE id = 2` get one fingerprint. The code is self-contained (no malloc, no shim state), so
 * the unit tests can #include sql_fingerprint.c directly. README `section:sql` states the rules.
 */
#ifndef MW_SQL_FINGERPRINT_H
#define MW_SQL_FINGERPRINT_H

#include <stddef.h>
#include <stdint.h>

#include "mw_format.h"

/* Size of the output buffer callers pass (the normalized text is capped at MW_MAX_STR - 1). */
#define MW_SQL_NORM_CAP MW_MAX_STR

/* mw_sql_normalize flags */
#define MW_SQL_ONE_STATEMENT 0x01u /* stop after the first top-level ';' (sqlite3_prepare*) */

/* Normalizes sql[0..n) (n == SIZE_MAX: NUL-terminated) into out (cap bytes, NUL-terminated).
 * Returns the normalized length. *consumed (if non-NULL) receives how many input bytes were
 * read (with MW_SQL_ONE_STATEMENT: up to and including the first top-level ';'). *truncated (if
 * non-NULL) is set to 1 when the output was cut at cap - 1 bytes. A NULL sql normalizes to "". */
size_t mw_sql_normalize(const char *sql, size_t n, unsigned flags, char *out, size_t cap,
                        size_t *consumed, int *truncated);

/* XXH3_64bits of the normalized text; never 0 (0 means "no SQL context"). */
uint64_t mw_sql_fingerprint(const char *norm, size_t len);

#endif /* MW_SQL_FINGERPRINT_H */
