/*
 * memwatch.h — the public C ABI of memwatch (installed to $(PREFIX)/include).
 *
 * Any program may call these. Under the shim (LD_PRELOAD=libmemwatch_preload.so, or a
 * dlopen of it) they act; without the shim they are harmless: every function is declared
 * weak, so a program built against this header links and runs without memwatch, and the
 * address of an absent function is NULL:
 *
 *     int64_t id = memwatch_watch ? memwatch_watch(&balance, sizeof balance, "balance",
 *                                                  MEMWATCH_TRACK_THREADS) : -ENOSYS;
 *
 * Calling a weak function directly without the shim would jump to address 0, so test it (or
 * MEMWATCH_PRESENT()) first. Define MEMWATCH_NO_WEAK before including to get plain (strong)
 * declarations, e.g. when linking against the shim directly.
 */
#ifndef MEMWATCH_H
#define MEMWATCH_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MEMWATCH_TRACK_THREADS  0x01u  /* record writer thread ids and names      */
#define MEMWATCH_TRACK_SQL      0x02u  /* tag writes with the SQL context in force */
#define MEMWATCH_TRACK_ALL_VARS 0x04u  /* adapter-defined: watch all of a scope    */
#define MEMWATCH_TRACK_LOCALS   0x08u  /* adapter relocated a local to a page     */
#define MEMWATCH_MUTATION_FULL  0x10u  /* record old and new bytes, not only ranges */

#if defined(MEMWATCH_NO_WEAK)
#define MEMWATCH_DECL
#else
#define MEMWATCH_DECL __attribute__((weak))
#endif

/* Watch a whole page-aligned range the caller owns (touched, lifetime >= the watch).
 * Returns an id > 0, or -errno. */
MEMWATCH_DECL int64_t memwatch_register_page(void *page_base, size_t size, unsigned flags);
MEMWATCH_DECL int     memwatch_unregister_page(int64_t id);
/* Attach key=value metadata to a watch (adapters: type, source variable, ...). */
MEMWATCH_DECL int     memwatch_update_metadata(int64_t id, const char *key, const char *value);
/* Watch any byte range (need not be page aligned). Returns an id > 0, or -errno. */
MEMWATCH_DECL int64_t memwatch_watch(void *addr, size_t len, const char *name, unsigned flags);
MEMWATCH_DECL int     memwatch_unwatch(int64_t id);
/* SQL context for drivers the shim cannot see; returns a context handle for sql_end. */
MEMWATCH_DECL uint64_t memwatch_sql_begin(const char *db, const char *query);
MEMWATCH_DECL void    memwatch_sql_end(uint64_t ctx);
/* Phase / test boundaries in the trace. */
MEMWATCH_DECL void    memwatch_mark(const char *label);
/* Source location for this thread's next write event (interpreted languages). */
MEMWATCH_DECL void    memwatch_set_location(const char *file, int line, const char *function);

/* True when the shim is loaded (preloaded or dlopen'ed with RTLD_GLOBAL). */
#define MEMWATCH_PRESENT() (&memwatch_mark != 0)

#ifdef __cplusplus
}
#endif
#endif /* MEMWATCH_H */
