/*
 * sql_core.h — what the SQL hook files (sql_sqlite.c, sql_pq.c, sql_api.c) share: the
 * per-thread SQL context stack, query registration (fingerprint + QUERY record once), resource
 * records, lazy resolution of the real library functions, and a small handle -> query map.
 *
 * Hook shape (every hook):
 *     real = SQL_REAL(fn);  if (!real) return <library error>;
 *     t = mw_sql_enter();   if (!t) return real(...);           pass-through
 *     ... bookkeeping ...; mw_sql_lib_enter(); r = real(...); mw_sql_lib_leave(); ...
 * mw_sql_enter() returns NULL (pass through) when MEMWATCH_SQL=0, tracing is off, the thread is
 * inside the shim, or the call comes from inside the SQL library itself (sqlite3_exec calls
 * sqlite3_prepare_v2/step/finalize, PQexec calls PQgetResult/PQclear, all through the PLT).
 */
#ifndef MW_SQL_CORE_H
#define MW_SQL_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mw_shim.h"
#include "sql_fingerprint.h"

/* ---- sql_core.c ------------------------------------------------------------------------- */
/* Resolves a real library function once (slot caches it); NULL when no loaded object defines
 * it, after one diagnostic line per process. */
void *mw_sql_resolve(const char *name, void *_Atomic *slot);
#define SQL_REAL(fn)                                                                          \
    ({                                                                                        \
        static void *_Atomic mw_slot_##fn;                                                    \
        (__typeof__(&fn))mw_sql_resolve(#fn, &mw_slot_##fn);                                  \
    })

mw_thread *mw_sql_enter(void);
void mw_sql_lib_enter(void);
void mw_sql_lib_leave(void);
/* Inside a callback the library makes into the program (sqlite3_exec's row callback): hooks
 * called from there are the program's own calls again. Returns the state to restore. */
int mw_sql_callback_enter(void);
void mw_sql_callback_leave(int saved);

uint64_t mw_sql_new_ctx(void);
/* Normalizes + fingerprints text (n == SIZE_MAX: NUL-terminated) and writes the QUERY record the
 * first time this process sees the fingerprint. *consumed as in mw_sql_normalize. */
uint64_t mw_sql_query(mw_thread *t, unsigned db, const char *text, size_t n, unsigned flags,
                      size_t *consumed);
/* Context stack of the calling thread: BEGIN/END records + mw_thread_set_sql. */
void mw_sql_push(mw_thread *t, uint64_t ctx, uint64_t fp);
void mw_sql_pop(mw_thread *t, uint64_t ctx);  /* ctx need not be on top (adapters) */
/* Resource records. The creating stack comes from mw_stack_here(t), which must be called in
 * the exported hook's own body (it starts at the hook's return address): SQL_STACK_HERE. */
#define SQL_STACK_HERE(t) mw_stack_here(t)
void mw_sql_res_open(mw_thread *t, unsigned type, const void *handle, uint64_t fp, unsigned db,
                     uint64_t stack);
void mw_sql_res_close(mw_thread *t, unsigned type, const void *handle);

/* ---- sql_map.c: uint64 key -> entry, sharded, raw-mmap storage, no malloc --------------- */
typedef struct mw_sql_entry {
    uint64_t key;
    uint64_t fp;        /* query fingerprint */
    uint64_t ctx;       /* context of the current / next execution */
    uint64_t aux;       /* owner handle (PGconn of a named statement) */
    uint32_t state;     /* hook-defined (execution state) */
    uint32_t db;
} mw_sql_entry;
typedef struct mw_sql_map mw_sql_map;
extern mw_sql_map mw_sql_stmts;     /* sqlite3_stmt* -> its query */
extern mw_sql_map mw_sql_pending;   /* PGconn* -> query whose results are being fetched */
extern mw_sql_map mw_sql_named;     /* hash(PGconn*, statement name) -> prepared query */
bool mw_sql_map_put(mw_sql_map *m, const mw_sql_entry *e);      /* false: out of memory */
bool mw_sql_map_get(mw_sql_map *m, uint64_t key, mw_sql_entry *out);
bool mw_sql_map_take(mw_sql_map *m, uint64_t key, mw_sql_entry *out);
void mw_sql_map_drop_aux(mw_sql_map *m, uint64_t aux);         /* removes entries of an owner */
void mw_sql_map_after_fork(void);                               /* child: reset the locks */

#endif /* MW_SQL_CORE_H */
