/*
 * hooks_alloc.c — the malloc family: malloc calloc realloc reallocarray free posix_memalign
 * aligned_alloc memalign valloc pvalloc malloc_usable_size.
 *
 * Each hook passes straight through while the shim is not tracing, inside the shim's own code
 * (recursion guard), or re-entered from a signal handler that interrupted a hook (counted as
 * lost). Otherwise: call the real function, then capture the stack, update the live-block
 * table (insert after the real allocation, remove BEFORE the real free, so an address reused
 * by another thread is never confused) and write the record into the thread's ring.
 * Allocations made before the real functions are known (dlsym calls calloc) come from the
 * bootstrap pool and are recognised by address. errno is preserved: nothing on the fast path
 * touches it, and the slow paths that might (thread set-up, libunwind, waiting for the writer)
 * save and restore it themselves.
 */
#include <dlfcn.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "live_impl.h"
#include "mw_core.h"

#define HOOK_FRAME __builtin_frame_address(0), __builtin_return_address(0)

static inline bool active(void)
{
    return MW_LIKELY(atomic_load_explicit(&mw_alloc_hot, memory_order_relaxed) != 0);
}

static inline __attribute__((always_inline)) void emit_free(mw_thread *t, mw_block_ref ref)
{
    size_t cap;
    uint8_t *q = mw_reserve_fast(t, 32, &cap);
    if (!q) return;
    size_t n = mw_enc_free_own(q, ref, t->tidx, t->seq); /* a reservation has >= 32 bytes */
    if (MW_UNLIKELY(!n)) n = mw_enc_free(q, cap, ref, t->tidx, t->seq);
    mw_commit_fast(t, n);
}

/* Records a new block: live table first (its id is the next seq), then the ALLOC record. */
static inline __attribute__((always_inline)) void note_alloc(mw_thread *t, bool own, unsigned kind, void *p, size_t size,
                                                            uint64_t stack)
{
    mw_live_block old;
    mw_block_ref ref = { t->tidx, t->seq + 1 };
    if (MW_UNLIKELY(mw_live_insert_t(t, own, (uintptr_t)p, size, ref, &old))) emit_free(t, old.ref);
    size_t cap;
    uint8_t *q = mw_reserve_fast(t, 40, &cap); /* >= MW_ENC_HOT_CAP: a reservation has need bytes */
    if (MW_LIKELY(q != NULL)) {
        size_t n = MW_LIKELY(!mw_cfg.addresses)
                       ? mw_enc_alloc_noaddr_hot(q, kind, size, stack, &t->alloc_last)
                       : mw_enc_alloc(q, cap, kind, size, stack, (uintptr_t)p, &t->prev_addr);
        if (n) t->seq++;
        mw_commit_fast(t, n);
        if (n) return;
    }
    mw_live_remove_t(t, own, (uintptr_t)p, NULL); /* not recorded: its free must not name it */
}

/* after_alloc for a thread without a state of its own right now: a new thread (set up here)
 * or an exiting one (the shared orphan stream). Out of line: the common path stays short. */
static __attribute__((noinline)) void after_alloc_slow(void *p, unsigned kind, size_t size, void *fa, void *ra)
{
    bool orph;
    mw_thread *t = mw_acquire(&orph);
    if (t) {
        uint64_t st = !mw_stack_ok(orph) ? 0 : mw_stack_capture(t, fa, ra);
        note_alloc(t, !orph, kind, p, size, st);
        mw_release(orph);
    }
}

/* Common tail of every allocating hook, called with the guard still raised from the real
 * call (nothing in between calls an allocator). */
static inline __attribute__((always_inline)) void after_alloc(void *p, unsigned kind, size_t size, void *fa, void *ra)
{
    if (!p) return;
    mw_thread *t = mw_tls_self;
    if (MW_LIKELY(t))
        note_alloc(t, true, kind, p, size, mw_stack_capture(t, fa, ra));
    else
        after_alloc_slow(p, kind, size, fa, ra);
}

static inline void ensure_real(void)
{
    if (MW_UNLIKELY(!mw_real.free)) mw_real_resolve();
}

/* Pass straight through: not tracing, or inside the shim. A hook entered while this thread
 * is inside another hook (not inside the shim's own code) is a signal handler that
 * interrupted the shim: its call cannot be recorded in order, so it is counted as lost. */
static inline bool pass_through(void)
{
    if (MW_LIKELY(mw_tls_guard == 0 && active())) return false;
    if (MW_UNLIKELY(atomic_load_explicit(&mw_state, memory_order_relaxed) == MW_ST_UNINIT)) {
        mw_lazy_init();
        if (mw_tls_guard == 0 && active()) return false;
    }
    if (MW_UNLIKELY(mw_tls_guard == 0 &&
                    atomic_load_explicit(&mw_fork_restart_pending, memory_order_relaxed) == MW_RESTART_AFTER_HOOK)) {
        mw_fork_restart(); /* a child forked by a signal handler inside a hook (init.c) */
        if (active()) return false;
    }
    if (mw_in_interrupted_hook() && mw_tls_self && active())
        mw_count_lost(1, 0);
    return true;
}
#define PASS_THROUGH() MW_UNLIKELY(pass_through())

MW_EXPORT void *malloc(size_t n)
{
    if (MW_UNLIKELY(!mw_real.malloc)) {
        if (mw_tls_guard) return mw_pool_alloc(n, 16);
        mw_real_resolve();
    }
    if (PASS_THROUGH()) return mw_real.malloc(n);
    mw_tls_guard++;
    void *p = mw_real.malloc(n);
    after_alloc(p, MW_AK_MALLOC, n, HOOK_FRAME);
    mw_tls_guard--;
    return p;
}

MW_EXPORT void *calloc(size_t a, size_t b)
{
    if (MW_UNLIKELY(!mw_real.calloc)) {
        size_t n;
        if (__builtin_mul_overflow(a, b, &n)) return NULL;
        if (mw_tls_guard) return mw_pool_alloc(n, 16); /* static pool memory is zeroed */
        mw_real_resolve();
    }
    if (PASS_THROUGH()) return mw_real.calloc(a, b);
    mw_tls_guard++;
    void *p = mw_real.calloc(a, b);
    after_alloc(p, MW_AK_CALLOC, a * b, HOOK_FRAME);
    mw_tls_guard--;
    return p;
}

/* The FREE of p's block, if it is traced: before the real free, so that an address reused by
 * another thread meanwhile is never confused. */
static inline __attribute__((always_inline)) void record_free(mw_thread *t, bool own, void *p)
{
    mw_live_block b;
    if (mw_live_remove_t(t, own, (uintptr_t)p, &b)) emit_free(t, b.ref);
}

/* record_free for a thread without a state of its own right now (see after_alloc_slow). */
static __attribute__((noinline)) void record_free_slow(void *p)
{
    bool orph;
    mw_thread *t = mw_acquire(&orph);
    if (t) {
        record_free(t, !orph, p);
        mw_release(orph);
    }
}

static inline __attribute__((always_inline)) void free_hooked(void *p)
{
    if (!p) return;
    if (MW_UNLIKELY(mw_pool_owns(p))) return;
    ensure_real();
    if (PASS_THROUGH()) {
        mw_real.free(p);
        return;
    }
    mw_tls_guard++;
    mw_thread *t = mw_tls_self;
    if (MW_LIKELY(t))
        record_free(t, true, p);
    else
        record_free_slow(p);
    mw_real.free(p); /* last: free leaves errno alone (glibc >= 2.33) */
    mw_tls_guard--;
}

MW_EXPORT void free(void *p) { free_hooked(p); }

/* realloc and reallocarray share this: `kind` is used when there was no tracked old block. */
static void *do_realloc(void *p, size_t n, unsigned kind, void *(*call)(void *, size_t, size_t),
                        size_t a, size_t b, void *fa, void *ra)
{
    if (PASS_THROUGH()) return call(p, a, b);
    int e;
    bool orph;
    mw_tls_guard++;
    mw_thread *t = mw_acquire(&orph);
    if (!t) {
        void *q = call(p, a, b);
        mw_tls_guard--;
        return q;
    }
    mw_live_block old;
    bool had = p && mw_live_remove_t(t, !orph, (uintptr_t)p, &old);
    void *q = call(p, a, b);
    e = errno;
    if (q) {
        uint64_t st = !mw_stack_ok(orph) ? 0 : mw_stack_capture(t, fa, ra);
        if (had) {
            mw_live_block stale;
            mw_block_ref ref = { t->tidx, t->seq + 1 };
            if (mw_live_insert_t(t, !orph, (uintptr_t)q, n, ref, &stale)) emit_free(t, stale.ref);
            size_t cap;
            uint8_t *w = mw_reserve(t, 48, &cap);
            size_t used = 0;
            if (w) {
                used = mw_cfg.addresses
                           ? mw_enc_realloc(w, cap, old.ref, t->tidx, t->seq, n, st, (uintptr_t)q,
                                            &t->prev_addr)
                           : mw_enc_realloc_noaddr(w, cap, old.ref, t->tidx, t->seq, n, st);
                if (used) t->seq++;
                mw_commit(t, used);
            }
            if (!used) mw_live_remove_t(t, !orph, (uintptr_t)q, NULL);
        } else {
            note_alloc(t, !orph, kind, q, n, st);
        }
    } else if (had) {
        if (n == 0)
            emit_free(t, old.ref); /* realloc(p, 0) freed p */
        else
            mw_live_insert_t(t, !orph, (uintptr_t)p, old.size, old.ref, NULL); /* failed: p still live */
    }
    mw_release(orph);
    mw_tls_guard--;
    errno = e;
    return q;
}

static void *call_realloc(void *p, size_t a, size_t b) { (void)b; return mw_real.realloc(p, a); }
/* glibc's reallocarray calls realloc through the PLT (i.e. our hook): after the overflow check
 * the hook calls realloc itself, so the call is recorded once. */
static void *call_reallocarray(void *p, size_t a, size_t b) { return mw_real.realloc(p, a * b); }

/* realloc of a bootstrap-pool block: move it to the real heap (traced as a new block). */
static void *pool_realloc(void *p, size_t n, void *fa, void *ra)
{
    size_t old = mw_pool_usable(p);
    void *q;
    if (!mw_real.malloc) {
        q = mw_pool_alloc(n, 16);
        if (q) memcpy(q, p, old < n ? old : n);
        return q;
    }
    if (PASS_THROUGH()) {
        q = mw_real.malloc(n ? n : 1);
        if (q) memcpy(q, p, old < n ? old : n);
        return q;
    }
    mw_tls_guard++;
    q = mw_real.malloc(n ? n : 1);
    if (q) memcpy(q, p, old < n ? old : n);
    after_alloc(q, MW_AK_REALLOC, n, fa, ra);
    mw_tls_guard--;
    return q;
}

MW_EXPORT void *realloc(void *p, size_t n)
{
    if (MW_UNLIKELY(p && mw_pool_owns(p))) return pool_realloc(p, n, HOOK_FRAME);
    if (MW_UNLIKELY(!mw_real.realloc)) {
        if (mw_tls_guard) return p ? NULL : mw_pool_alloc(n, 16);
        mw_real_resolve();
    }
    return do_realloc(p, n, MW_AK_REALLOC, call_realloc, n, 0, HOOK_FRAME);
}

/* The realloc the program's own allocator has, when one comes before the shim
 * (mw_malloc_shadowed) but defines no reallocarray (glibc's malloc-debug library): calls of
 * reallocarray reach the shim, whose C-library realloc would hand the program a block its
 * allocator does not know (malloc-debug's free then aborts: "free(): invalid pointer").
 * NULL when there is none. */
static void *(*shadow_realloc(void))(void *, size_t)
{
    static void *(*f)(void *, size_t);
    static bool looked;
    if (!looked) {
        void *g = dlvsym(RTLD_DEFAULT, "realloc", "GLIBC_2.2.5");
        if (!g) g = dlsym(RTLD_DEFAULT, "realloc");
        /* not the shim's own (whose address, taken here, is the global one: the shadow's) */
        Dl_info gi, si;
        bool ours = g && dladdr(g, &gi) && dladdr((void *)shadow_realloc, &si) && gi.dli_fbase == si.dli_fbase;
        f = g && !ours ? (void *(*)(void *, size_t))g : NULL;
        looked = true;
    }
    return f;
}

MW_EXPORT void *reallocarray(void *p, size_t a, size_t b)
{
    size_t n;
    if (__builtin_mul_overflow(a, b, &n)) {
        errno = ENOMEM;
        return NULL;
    }
    if (MW_UNLIKELY(mw_malloc_shadowed) && shadow_realloc() && !(p && mw_pool_owns(p))) return shadow_realloc()(p, n);
    if (MW_UNLIKELY(p && mw_pool_owns(p))) return pool_realloc(p, n, HOOK_FRAME);
    ensure_real();
    return do_realloc(p, n, MW_AK_REALLOCARRAY, call_reallocarray, a, b, HOOK_FRAME);
}

MW_EXPORT int posix_memalign(void **out, size_t align, size_t n)
{
    ensure_real();
    if (PASS_THROUGH()) return mw_real.posix_memalign(out, align, n);
    mw_tls_guard++;
    int rc = mw_real.posix_memalign(out, align, n);
    if (rc == 0) after_alloc(*out, MW_AK_POSIX_MEMALIGN, n, HOOK_FRAME);
    mw_tls_guard--;
    return rc;
}

#define ALIGNED_HOOK(name, kind, params, args, size_expr)                     \
    MW_EXPORT void *name params                                               \
    {                                                                         \
        ensure_real();                                                        \
        if (PASS_THROUGH()) return mw_real.name args;                         \
        mw_tls_guard++;                                                       \
        void *p = mw_real.name args;                                          \
        after_alloc(p, kind, size_expr, HOOK_FRAME);                          \
        mw_tls_guard--;                                                       \
        return p;                                                             \
    }

ALIGNED_HOOK(aligned_alloc, MW_AK_ALIGNED_ALLOC, (size_t al, size_t n), (al, n), n)
ALIGNED_HOOK(memalign, MW_AK_MEMALIGN, (size_t al, size_t n), (al, n), n)
ALIGNED_HOOK(valloc, MW_AK_VALLOC, (size_t n), (n), n)
/* pvalloc rounds the size up to whole pages (at least one): record what it allocated */
ALIGNED_HOOK(pvalloc, MW_AK_PVALLOC, (size_t n), (n),
             n ? (n + (size_t)getpagesize() - 1) & ~((size_t)getpagesize() - 1) : (size_t)getpagesize())

/* ---- C++ operator new and delete, routed here by hooks_cxx.c -------------------------------
 * When the operators the program would call are a foreign malloc's own (jemalloc's), which
 * never call malloc: they are malloc / aligned memory and free of that allocator. fa, ra: the
 * operator's frame, so the stack starts at its caller. */
static inline void *cxx_real(size_t n, size_t align)
{
    if (!align) return mw_real.malloc(n);
    void *p = NULL;
    return mw_real.posix_memalign(&p, align < sizeof(void *) ? sizeof(void *) : align, n) == 0 ? p : NULL;
}

void *mw_cxx_alloc(size_t n, size_t align, void *fa, void *ra)
{
    ensure_real();
    if (PASS_THROUGH()) return cxx_real(n, align);
    mw_tls_guard++;
    void *p = cxx_real(n, align);
    after_alloc(p, align ? MW_AK_ALIGNED_ALLOC : MW_AK_MALLOC, n, fa, ra);
    mw_tls_guard--;
    return p;
}

void mw_cxx_note(void *p, size_t n, size_t align, void *fa, void *ra)
{
    if (!p || PASS_THROUGH()) return;
    mw_tls_guard++;
    after_alloc(p, align ? MW_AK_ALIGNED_ALLOC : MW_AK_MALLOC, n, fa, ra);
    mw_tls_guard--;
}

void mw_cxx_free(void *p) { free_hooked(p); }

MW_EXPORT size_t malloc_usable_size(void *p)
{
    if (!p) return 0;
    if (mw_pool_owns(p)) return mw_pool_usable(p);
    ensure_real();
    return mw_real.malloc_usable_size(p);
}
