/*
 * store.h — the SQLite store (store.c) that ingested runs are written into. The schema is
 * analyzer/schema.sql, embedded as mw_schema_sql (schema_embed.c).
 */
#ifndef MW_STORE_H
#define MW_STORE_H

#include <stddef.h>

#include "model.h"
#include "symbolize.h"

extern const char mw_schema_sql[];

typedef struct mw_store mw_store;

/* Opens (creating if needed) the store at path (":memory:" allowed) and applies the schema.
 * NULL with one line in err on failure (unwritable path, not a memwatch store, ...). */
mw_store *mw_store_open(const char *path, char *err, size_t errlen);
/* Writes one process (one run) in a single transaction, replacing an earlier ingest of the
 * same trace (same pid, start time and trace file). sym (may be NULL) supplies the frames
 * symbolized so far. Returns 0, or -1 with err. */
int mw_store_write(mw_store *st, const mw_proc *p, const mw_symbolizer *sym, char *err,
                   size_t errlen);
void mw_store_close(mw_store *st);
/* Whether mw_store_open would take the existing file at path (none: yes), without writing to
 * it: 0, or -1 with one line in err (not a database, another database, another schema),
 * which advises choosing another `other` (the option that names the store). */
int mw_store_check(const char *path, const char *other, char *err, size_t errlen);
/* The underlying connection (tests query it). */
struct sqlite3 *mw_store_db(mw_store *st);

#endif /* MW_STORE_H */
