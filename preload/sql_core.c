/*
 * sql_core.c — shared machinery of the SQL hooks: when a hook acts or passes through, the
 * per-thread context stack (SQL_BEGIN / SQL_END records and mw_thread_set_sql), query
 * registration (each fingerprint's text written once per process), resource records, and
 * lazy resolution of the real sqlite3_* / PQ* functions (mw_resolve_symbol also finds
 * libraries loaded RTLD_LOCAL, as Python's _sqlite3 loads libsqlite3).
 *
 * Nothing here runs unless a hooked SQL function is called: a program without SQL pays one
 * pthread_atfork registration (mw_atfork) at load time and nothing else.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "mw_core.h"
#include "sql_core.h"

/* ---- per-thread state ------------------------------------------------------------------ */
#define SQL_MAX_DEPTH 16u

typedef struct sql_tls {
    int inlib;                 /* >0: inside a real SQL library call made by one of our hooks */
    unsigned depth;            /* contexts in force (may exceed SQL_MAX_DEPTH: not stored) */
    uint64_t ctx[SQL_MAX_DEPTH];
    uint64_t fp[SQL_MAX_DEPTH];
} sql_tls;
static __thread sql_tls tls;

mw_thread *mw_sql_enter(void)
{
    if (tls.inlib > 0 || mw_in_guard())
        return NULL;
    mw_thread *t = mw_self();
    if (!t || !mw_cfg.sql)
        return NULL;
    return t;
}

void mw_sql_lib_enter(void) { tls.inlib++; }
void mw_sql_lib_leave(void) { tls.inlib--; }

int mw_sql_callback_enter(void)
{
    int saved = tls.inlib;
    tls.inlib = 0;
    return saved;
}
void mw_sql_callback_leave(int saved) { tls.inlib = saved; }

/* ---- real functions --------------------------------------------------------------------- */
static _Atomic int missing_reported;

void *mw_sql_resolve(const char *name, void *_Atomic *slot)
{
    void *p = atomic_load_explicit(slot, memory_order_acquire);
    if (MW_LIKELY(p != NULL))
        return p;
    int saved_errno = errno;
    int g = mw_guard_enter();
    p = mw_resolve_symbol(name);
    mw_guard_leave(g);
    if (p)
        atomic_store_explicit(slot, p, memory_order_release);
    else if (!atomic_exchange(&missing_reported, 1))
        mw_diag("%s was called but no loaded library defines it; returning the library's error "
                "value (reported once)", name);
    errno = saved_errno;
    return p;
}

/* ---- fingerprints seen by this process --------------------------------------------------- */
#define SEEN_SLOTS 16384u  /* 128 KiB of .bss, touched only by programs that run SQL */
#define SEEN_PROBES 32u

/* True when fp was not seen before (the caller writes its QUERY record). When its neighbourhood
 * is full (a program with more than ~10000 distinct queries) the answer is true: the text is
 * then written again, which readers accept; the probe length stays bounded. */
static _Atomic uint64_t seen[SEEN_SLOTS];
static _Atomic bool seen_used;

static bool seen_insert(uint64_t fp)
{
    if (!atomic_load_explicit(&seen_used, memory_order_relaxed))
        atomic_store(&seen_used, true);
    size_t i = (size_t)(fp * 0x9E3779B97F4A7C15ull >> 50) & (SEEN_SLOTS - 1);
    for (size_t n = 0; n < SEEN_PROBES; n++, i = (i + 1) & (SEEN_SLOTS - 1)) {
        uint64_t cur = atomic_load_explicit(&seen[i], memory_order_relaxed);
        if (cur == fp)
            return false;
        if (cur == 0) {
            uint64_t zero = 0;
            if (atomic_compare_exchange_strong(&seen[i], &zero, fp))
                return true;
            if (zero == fp)
                return false;
        }
    }
    return true;
}

/* The child of a fork writes its own trace: it must write every text again. */
static void after_fork_child(void)
{
    mw_sql_map_after_fork();
    if (!atomic_load(&seen_used))
        return; /* no SQL ran: leave the pages untouched */
    for (size_t i = 0; i < SEEN_SLOTS; i++)
        atomic_store_explicit(&seen[i], 0, memory_order_relaxed);
}

__attribute__((constructor)) static void sql_core_init(void)
{
    int g = mw_guard_enter();
    mw_atfork(NULL, NULL, after_fork_child);
    mw_guard_leave(g);
}

/* ---- queries and contexts ---------------------------------------------------------------- */
static _Atomic uint64_t next_ctx = 1;

uint64_t mw_sql_new_ctx(void) { return atomic_fetch_add_explicit(&next_ctx, 1, memory_order_relaxed); }

uint64_t mw_sql_query(mw_thread *t, unsigned db, const char *text, size_t n, unsigned flags,
                      size_t *consumed)
{
    char buf[MW_SQL_NORM_CAP];
    size_t len = mw_sql_normalize(text, n, flags, buf, sizeof buf, consumed, NULL);
    uint64_t fp = mw_sql_fingerprint(buf, len);
    if (seen_insert(fp)) {
        int g = mw_guard_enter();
        MW_EMIT(t, len + 48, mw_enc_sql_query, fp, db, buf, len);
        mw_guard_leave(g);
    }
    return fp;
}

static void set_top(mw_thread *t)
{
    unsigned d = tls.depth < SQL_MAX_DEPTH ? tls.depth : SQL_MAX_DEPTH;
    if (d)
        mw_thread_set_sql(t, tls.ctx[d - 1] & ~MW_SQL_CTX_RESUME, tls.fp[d - 1]);
    else
        mw_thread_set_sql(t, 0, 0);
}

void mw_sql_push(mw_thread *t, uint64_t ctx, uint64_t fp)
{
    int g = mw_guard_enter();
    MW_EMIT(t, 32, mw_enc_sql_begin_d, ctx, fp, &t->sql_base);
    if (tls.depth < SQL_MAX_DEPTH) {
        tls.ctx[tls.depth] = ctx;
        tls.fp[tls.depth] = fp;
    }
    tls.depth++;
    mw_thread_set_sql(t, ctx & ~MW_SQL_CTX_RESUME, fp);
    mw_guard_leave(g);
}

void mw_sql_pop(mw_thread *t, uint64_t ctx)
{
    int g = mw_guard_enter();
    MW_EMIT(t, 16, mw_enc_sql_end_d, ctx, t->sql_base);
    unsigned d = tls.depth < SQL_MAX_DEPTH ? tls.depth : SQL_MAX_DEPTH;
    bool found = false;
    for (unsigned i = d; i-- > 0;) {
        if (tls.ctx[i] == ctx) {
            memmove(&tls.ctx[i], &tls.ctx[i + 1], (d - 1 - i) * sizeof tls.ctx[0]);
            memmove(&tls.fp[i], &tls.fp[i + 1], (d - 1 - i) * sizeof tls.fp[0]);
            found = true;
            break;
        }
    }
    if (found || tls.depth > SQL_MAX_DEPTH)
        tls.depth--;
    set_top(t);
    mw_guard_leave(g);
}

/* ---- resources --------------------------------------------------------------------------- */
void mw_sql_res_open(mw_thread *t, unsigned type, const void *handle, uint64_t fp, unsigned db,
                     uint64_t stack)
{
    int g = mw_guard_enter();
    MW_EMIT(t, 64, mw_enc_sql_res_open, type, (uint64_t)(uintptr_t)handle, fp, stack, db);
    mw_guard_leave(g);
}

void mw_sql_res_close(mw_thread *t, unsigned type, const void *handle)
{
    int g = mw_guard_enter();
    MW_EMIT(t, 32, mw_enc_sql_res_close, type, (uint64_t)(uintptr_t)handle);
    mw_guard_leave(g);
}
