/*
 * hooks_cxx.c — C++ operator new and delete (all twenty forms: plain, array, nothrow,
 * aligned, sized), for a malloc behind the shim that defines its own.
 *
 * libstdc++'s operators call malloc, aligned_alloc and free, which the shim sees. jemalloc,
 * tcmalloc and mimalloc define the operators themselves, calling their allocator directly:
 * preloaded after the shim or linked as a library, their operators come before libstdc++'s
 * and every `new` of a C++ program went past the shim (reach_cxx's leaks were not in its
 * trace at all with any of the three, until 00:30 UTC on 2026-11-24). So the shim defines
 * the operators too. Each one finds the definition it stands in front of (the next one in
 * the lookup order; one in an object loaded RTLD_LOCAL when there is none) and:
 *   - when that is a foreign malloc's own (alloc_ranges.c, the object that defines the
 *     malloc behind the shim), does what it does through the shim: new is that allocator's
 *     malloc (aligned: posix_memalign) recorded with the caller's stack, delete its free.
 *     Out of memory, the allocator's own operator runs (the new_handler loop, bad_alloc or
 *     NULL), and a block it then returns is recorded;
 *   - otherwise (libstdc++'s, the common case) jumps to it: a tail call, so no frame of the
 *     shim's stays on the stack, exceptions and captured stacks are as before.
 */
#include <stdlib.h>

#include "mw_core.h"

enum cxx_op {
    OP_NEW, OP_NEWA, OP_NEW_NT, OP_NEWA_NT, OP_NEW_AL, OP_NEWA_AL, OP_NEW_AL_NT, OP_NEWA_AL_NT,
    OP_DEL, OP_DELA, OP_DEL_SZ, OP_DELA_SZ, OP_DEL_NT, OP_DELA_NT, OP_DEL_AL, OP_DELA_AL,
    OP_DEL_SZ_AL, OP_DELA_SZ_AL, OP_DEL_AL_NT, OP_DELA_AL_NT, OP_COUNT
};
static const char *const op_name[OP_COUNT] = {
    "_Znwm", "_Znam", "_ZnwmRKSt9nothrow_t", "_ZnamRKSt9nothrow_t",
    "_ZnwmSt11align_val_t", "_ZnamSt11align_val_t",
    "_ZnwmSt11align_val_tRKSt9nothrow_t", "_ZnamSt11align_val_tRKSt9nothrow_t",
    "_ZdlPv", "_ZdaPv", "_ZdlPvm", "_ZdaPvm", "_ZdlPvRKSt9nothrow_t", "_ZdaPvRKSt9nothrow_t",
    "_ZdlPvSt11align_val_t", "_ZdaPvSt11align_val_t", "_ZdlPvmSt11align_val_t",
    "_ZdaPvmSt11align_val_t", "_ZdlPvSt11align_val_tRKSt9nothrow_t",
    "_ZdaPvSt11align_val_tRKSt9nothrow_t",
};
static void *_Atomic op_next[OP_COUNT];

/* The shapes of the operators (std::align_val_t is a size_t, a nothrow_t reference a pointer). */
typedef void *(*new_fn)(size_t);
typedef void *(*new_nt_fn)(size_t, const void *);
typedef void *(*new_al_fn)(size_t, size_t);
typedef void *(*new_al_nt_fn)(size_t, size_t, const void *);
typedef void (*del_fn)(void *);
typedef void (*del_x_fn)(void *, size_t);          /* sized, or aligned */
typedef void (*del_nt_fn)(void *, const void *);
typedef void (*del_sz_al_fn)(void *, size_t, size_t);
typedef void (*del_al_nt_fn)(void *, size_t, const void *);

/* No definition anywhere but the shim's (nothing that calls the operators could be loaded
 * then; kept so that a call never jumps to NULL): the allocator's malloc and free. */
static void *last_new(size_t n)
{
    void *p = mw_cxx_alloc(n ? n : 1, 0, __builtin_frame_address(0), __builtin_return_address(0));
    if (!p) abort(); /* no C++ runtime to throw bad_alloc with */
    return p;
}
static void *last_new_nt(size_t n, const void *nt)
{
    (void)nt;
    return mw_cxx_alloc(n ? n : 1, 0, __builtin_frame_address(0), __builtin_return_address(0));
}
static void *last_new_al(size_t n, size_t al)
{
    void *p = mw_cxx_alloc(n ? n : 1, al, __builtin_frame_address(0), __builtin_return_address(0));
    if (!p) abort();
    return p;
}
static void *last_new_al_nt(size_t n, size_t al, const void *nt)
{
    (void)nt;
    return mw_cxx_alloc(n ? n : 1, al, __builtin_frame_address(0), __builtin_return_address(0));
}
static void last_del(void *p) { mw_cxx_free(p); }
static void last_del_x(void *p, size_t x) { (void)x; mw_cxx_free(p); }
static void last_del_nt(void *p, const void *nt) { (void)nt; mw_cxx_free(p); }
static void last_del_sz_al(void *p, size_t sz, size_t al) { (void)sz; (void)al; mw_cxx_free(p); }
static void last_del_al_nt(void *p, size_t al, const void *nt) { (void)al; (void)nt; mw_cxx_free(p); }

static void *last_resort(enum cxx_op op)
{
    switch (op) {
    case OP_NEW: case OP_NEWA: return (void *)last_new;
    case OP_NEW_NT: case OP_NEWA_NT: return (void *)last_new_nt;
    case OP_NEW_AL: case OP_NEWA_AL: return (void *)last_new_al;
    case OP_NEW_AL_NT: case OP_NEWA_AL_NT: return (void *)last_new_al_nt;
    case OP_DEL: case OP_DELA: return (void *)last_del;
    case OP_DEL_SZ: case OP_DELA_SZ: case OP_DEL_AL: case OP_DELA_AL: return (void *)last_del_x;
    case OP_DEL_NT: case OP_DELA_NT: return (void *)last_del_nt;
    case OP_DEL_SZ_AL: case OP_DELA_SZ_AL: return (void *)last_del_sz_al;
    default: return (void *)last_del_al_nt;
    }
}

static __attribute__((noinline)) void *resolve(enum cxx_op op)
{
    void *f = mw_next_symbol(op_name[op]);
    if (!f) {
        /* the caller's C++ runtime was loaded RTLD_LOCAL (a Python extension's) */
        int g = mw_guard_enter();
        f = mw_resolve_symbol(op_name[op]);
        mw_guard_leave(g);
    }
    if (!f) f = last_resort(op);
    atomic_store_explicit(&op_next[op], f, memory_order_release);
    return f;
}

static inline void *next_of(enum cxx_op op)
{
    void *f = atomic_load_explicit(&op_next[op], memory_order_acquire);
    return MW_LIKELY(f != NULL) ? f : resolve(op);
}

/* The operator behind the shim's is a foreign malloc's own (decided at each call: the
 * allocator is known only once the shim has started). */
static inline bool routed(const void *f) { return MW_UNLIKELY(mw_alloc_foreign) && mw_alloc_by(f); }

/* new through the shim; out of memory, the allocator's own operator f (of shape `op`). */
static __attribute__((noinline)) void *new_routed(enum cxx_op op, void *f, size_t n, size_t al,
                                                  const void *nt, void *fa, void *ra)
{
    void *p = mw_cxx_alloc(n, al, fa, ra);
    if (MW_LIKELY(p != NULL)) return p;
    switch (op) {
    case OP_NEW: case OP_NEWA: p = ((new_fn)f)(n); break;
    case OP_NEW_NT: case OP_NEWA_NT: p = ((new_nt_fn)f)(n, nt); break;
    case OP_NEW_AL: case OP_NEWA_AL: p = ((new_al_fn)f)(n, al); break;
    default: p = ((new_al_nt_fn)f)(n, al, nt); break;
    }
    mw_cxx_note(p, n, al, fa, ra);
    return p;
}

/* The operator's frame stays while new_routed runs (its stack starts at the operator's
 * caller): the empty asm keeps that call from being a tail call. */
#define ROUTE_NEW(op, f, n, al, nt)                                                           \
    do {                                                                                      \
        if (routed(f)) {                                                                      \
            void *p_ = new_routed(op, f, n, al, nt, __builtin_frame_address(0),               \
                                  __builtin_return_address(0));                               \
            __asm__ volatile("" ::: "memory");                                                \
            return p_;                                                                        \
        }                                                                                     \
    } while (0)

#define NEW_OP(name, op)                                                                      \
    MW_EXPORT void *name(size_t n)                                                            \
    {                                                                                         \
        void *f = next_of(op);                                                                \
        ROUTE_NEW(op, f, n, 0, NULL);                                                         \
        return ((new_fn)f)(n);                                                                \
    }
#define NEW_NT_OP(name, op)                                                                   \
    MW_EXPORT void *name(size_t n, const void *nt)                                            \
    {                                                                                         \
        void *f = next_of(op);                                                                \
        ROUTE_NEW(op, f, n, 0, nt);                                                           \
        return ((new_nt_fn)f)(n, nt);                                                         \
    }
#define NEW_AL_OP(name, op)                                                                   \
    MW_EXPORT void *name(size_t n, size_t al)                                                 \
    {                                                                                         \
        void *f = next_of(op);                                                                \
        ROUTE_NEW(op, f, n, al, NULL);                                                        \
        return ((new_al_fn)f)(n, al);                                                         \
    }
#define NEW_AL_NT_OP(name, op)                                                                \
    MW_EXPORT void *name(size_t n, size_t al, const void *nt)                                 \
    {                                                                                         \
        void *f = next_of(op);                                                                \
        ROUTE_NEW(op, f, n, al, nt);                                                          \
        return ((new_al_nt_fn)f)(n, al, nt);                                                  \
    }

NEW_OP(_Znwm, OP_NEW)
NEW_OP(_Znam, OP_NEWA)
NEW_NT_OP(_ZnwmRKSt9nothrow_t, OP_NEW_NT)
NEW_NT_OP(_ZnamRKSt9nothrow_t, OP_NEWA_NT)
NEW_AL_OP(_ZnwmSt11align_val_t, OP_NEW_AL)
NEW_AL_OP(_ZnamSt11align_val_t, OP_NEWA_AL)
NEW_AL_NT_OP(_ZnwmSt11align_val_tRKSt9nothrow_t, OP_NEW_AL_NT)
NEW_AL_NT_OP(_ZnamSt11align_val_tRKSt9nothrow_t, OP_NEWA_AL_NT)

/* delete: the allocator's free through the shim, or a jump to the operator. */
#define DEL_OP(name, op, type, params, args)                                                  \
    MW_EXPORT void name params                                                                \
    {                                                                                         \
        void *f = next_of(op);                                                                \
        if (routed(f)) {                                                                      \
            mw_cxx_free(p);                                                                   \
            return;                                                                           \
        }                                                                                     \
        ((type)f) args;                                                                       \
    }

DEL_OP(_ZdlPv, OP_DEL, del_fn, (void *p), (p))
DEL_OP(_ZdaPv, OP_DELA, del_fn, (void *p), (p))
DEL_OP(_ZdlPvm, OP_DEL_SZ, del_x_fn, (void *p, size_t sz), (p, sz))
DEL_OP(_ZdaPvm, OP_DELA_SZ, del_x_fn, (void *p, size_t sz), (p, sz))
DEL_OP(_ZdlPvRKSt9nothrow_t, OP_DEL_NT, del_nt_fn, (void *p, const void *nt), (p, nt))
DEL_OP(_ZdaPvRKSt9nothrow_t, OP_DELA_NT, del_nt_fn, (void *p, const void *nt), (p, nt))
DEL_OP(_ZdlPvSt11align_val_t, OP_DEL_AL, del_x_fn, (void *p, size_t al), (p, al))
DEL_OP(_ZdaPvSt11align_val_t, OP_DELA_AL, del_x_fn, (void *p, size_t al), (p, al))
DEL_OP(_ZdlPvmSt11align_val_t, OP_DEL_SZ_AL, del_sz_al_fn, (void *p, size_t sz, size_t al), (p, sz, al))
DEL_OP(_ZdaPvmSt11align_val_t, OP_DELA_SZ_AL, del_sz_al_fn, (void *p, size_t sz, size_t al), (p, sz, al))
DEL_OP(_ZdlPvSt11align_val_tRKSt9nothrow_t, OP_DEL_AL_NT, del_al_nt_fn, (void *p, size_t al, const void *nt),
       (p, al, nt))
DEL_OP(_ZdaPvSt11align_val_tRKSt9nothrow_t, OP_DELA_AL_NT, del_al_nt_fn, (void *p, size_t al, const void *nt),
       (p, al, nt))
