/*
 * mw_runs.c — coded runs (TRACE-FORMAT.md 2.4): the rank window's scans and the writer's
 * CODED_RUN coder. Linked into the shim (no allocation, no stdio, no locks) and into the
 * analyzer; the decoder side of a run is in mw_decode.c. See mw_runs.h for the design.
 */
#include "mw_format.h"

#include <string.h>

_Static_assert(MW_RUN_REC_MAX >= MW_MAX_STR + 64u, "a rewritten THREAD_START fits");

/* ---- the rank window ------------------------------------------------------------------ */
static inline uint64_t win_word(const mw_window *w, uint64_t s) { return w->bits[(s / 64u) % MW_WIN_WORDS]; }

/* Lowest seq the window still covers. */
static inline uint64_t win_low(const mw_window *w)
{
    return w->top >= MW_WIN_BITS ? w->top - MW_WIN_BITS + 1 : 1;
}

/* Bits lo..hi (0..63, lo <= hi) of a word. */
static inline uint64_t bit_range(unsigned lo, unsigned hi)
{
    uint64_t upto = hi == 63 ? ~0ull : (1ull << (hi + 1)) - 1;
    return upto & ~((1ull << lo) - 1);
}

/* Set bits per byte of x. */
static inline uint64_t byte_counts(uint64_t x)
{
    x = x - ((x >> 1) & 0x5555555555555555ull);
    x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
    return (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0full;
}
static inline __attribute__((always_inline)) unsigned pop64(uint64_t x) { return (unsigned)__builtin_popcountll(x); }

/* rank and select run once per coded free on both sides: where the CPU has POPCNT (every
 * x86-64 since 2008, not in the baseline ABI) a copy of each compiled for it runs; the default
 * copy counts with a library call. The choice is glibc's (its table of CPU features, filled
 * in before any program code runs), looked up at the first call. Not target_clones: its
 * resolvers made libgcc run its own CPU detection in every process the shim starts in, a
 * dozen CPUID instructions that a virtual machine traps (10 us each here): 70-110 us of the
 * ~1.3 ms a traced process costs at start (median of 5 alternating runs of 400 spawns of
 * /bin/true, 2026-11-23). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && __has_include(<sys/platform/x86.h>)
#include <stdatomic.h>
#include <sys/platform/x86.h>
#define POPCNT_DISPATCH 1
#define POPCNT_TARGET __attribute__((target("popcnt")))
static _Atomic int popcnt_state; /* 0 not looked up yet, 1 absent, 2 present */
static inline int have_popcnt(void)
{
    int st = atomic_load_explicit(&popcnt_state, memory_order_relaxed);
    if (__builtin_expect(st == 0, 0)) {
        st = CPU_FEATURE_ACTIVE(POPCNT) ? 2 : 1;
        atomic_store_explicit(&popcnt_state, st, memory_order_relaxed);
    }
    return st == 2;
}
#else
#define POPCNT_DISPATCH 0
#endif

/* Position of the set bit of b with `rank` set bits above it (rank < pop64(b)). */
static inline unsigned select_from_top(uint64_t b, unsigned rank)
{
    uint64_t bc = byte_counts(b);
    unsigned byte = 7;
    for (;; byte--) {
        unsigned c = (unsigned)(bc >> (8 * byte)) & 0xffu;
        if (rank < c) break;
        rank -= c;
    }
    unsigned v = (unsigned)(b >> (8 * byte)) & 0xffu;
    for (; rank; rank--) v &= ~(1u << (31 - __builtin_clz(v))); /* drop the highest */
    return 8 * byte + 31 - (unsigned)__builtin_clz(v);
}

/* mw_win_rank's body, inlined into the coder (one POPCNT dispatch per call of the coder, not
 * one per free). */
static inline __attribute__((always_inline)) int win_rank(const mw_window *w, uint64_t s, uint64_t *rank)
{
    if (s < win_low(w) || s > w->top || !(win_word(w, s) >> (s % 64u) & 1)) return -1;
    uint64_t sw = s / 64u, tw = w->top / 64u, r;
    uint64_t upto_top = ~((~0ull << (w->top % 64u)) << 1);   /* bits up to top in its word */
    uint64_t d = tw - sw;
    if (__builtin_expect(d <= 3, 1)) {
        /* s and top at most 3 words apart (nearly every free of a program that keeps its
         * live blocks few, as churn does): four words under masks, without the branches on
         * the distance that mispredict at random */
        uint64_t above_s = (~0ull << (s % 64u)) << 1;           /* bits after s in its word */
        uint64_t m0 = above_s & (upto_top | (0 - (uint64_t)(d != 0)));
        uint64_t m1 = (0 - (uint64_t)(d > 1)) | ((0 - (uint64_t)(d == 1)) & upto_top);
        uint64_t m2 = (0 - (uint64_t)(d > 2)) | ((0 - (uint64_t)(d == 2)) & upto_top);
        uint64_t m3 = (0 - (uint64_t)(d == 3)) & upto_top;
        *rank = pop64(w->bits[sw % MW_WIN_WORDS] & m0) + pop64(w->bits[(sw + 1) % MW_WIN_WORDS] & m1) +
                pop64(w->bits[(sw + 2) % MW_WIN_WORDS] & m2) + pop64(w->bits[(sw + 3) % MW_WIN_WORDS] & m3);
        return 0;
    }
    if (sw == tw) {
        r = pop64(win_word(w, s) & upto_top & ~((2ull << (s % 64u)) - 1));
    } else {
        /* the rest of s's word, the whole words between, top's word up to top (its higher
         * bits are the window's oldest blocks) */
        r = s % 64u == 63 ? 0 : pop64(win_word(w, s) >> (s % 64u + 1));
        for (uint64_t k = sw + 1; k < tw; k++) r += pop64(w->bits[k % MW_WIN_WORDS]);
        r += pop64(w->bits[tw % MW_WIN_WORDS] & upto_top);
    }
    *rank = r;
    return 0;
}

#if POPCNT_DISPATCH
static POPCNT_TARGET int win_rank_popcnt(const mw_window *w, uint64_t s, uint64_t *rank) { return win_rank(w, s, rank); }
#endif
int mw_win_rank(const mw_window *w, uint64_t s, uint64_t *rank)
{
#if POPCNT_DISPATCH
    if (have_popcnt()) return win_rank_popcnt(w, s, rank);
#endif
    return win_rank(w, s, rank);
}

static inline __attribute__((always_inline)) int win_select(const mw_window *w, uint64_t rank, uint64_t *s)
{
    uint64_t low = win_low(w);
    if (w->top == 0) return -1;
    for (uint64_t x = w->top;;) {
        uint64_t lo = x - x % 64u;
        if (lo < low) lo = low;
        uint64_t b = win_word(w, x) & bit_range(lo % 64u, x % 64u);
        uint64_t c = pop64(b);
        if (rank < c) {
            *s = x - x % 64u + select_from_top(b, (unsigned)rank);
            return 0;
        }
        rank -= c;
        if (lo == low) return -1;
        x = lo - 1;
    }
}

#if POPCNT_DISPATCH
static POPCNT_TARGET int win_select_popcnt(const mw_window *w, uint64_t rank, uint64_t *s) { return win_select(w, rank, s); }
#endif
int mw_win_select(const mw_window *w, uint64_t rank, uint64_t *s)
{
#if POPCNT_DISPATCH
    if (have_popcnt()) return win_select_popcnt(w, rank, s);
#endif
    return win_select(w, rank, s);
}

/* ---- writer: building one run --------------------------------------------------------- */
/* The column fill levels and the bit accumulator while a run is built: a local of
 * mw_runs_code, so they stay in registers (the column stores are bytes, which the compiler
 * must assume alias any field of mw_run_cols); written back to the columns' owner only when a
 * run is emitted or kept open (pend_pos). */
typedef mw_run_pos run_pos;

/* v's n bits (n <= 29) after the pending ones; whole bytes go out with one 8-byte store (raw[]
 * has 8 bytes of slack), the rest stays pending: at most 7 + 29 bits, so no shift reaches 64. */
static inline void put_bits(mw_run_cols *c, run_pos *k, uint64_t v, unsigned n)
{
    k->acc |= v << k->nacc;
    k->nacc += n;
    uint64_t out = k->acc;
    memcpy(c->raw + k->raw, &out, 8);
    unsigned whole = k->nacc / 8u;
    k->raw += whole;
    k->acc >>= 8u * whole;
    k->nacc -= 8u * whole;
}

static inline void put_misc(mw_run_cols *c, run_pos *k, uint64_t v)
{
    k->misc = (size_t)(mw_put_uv(c->misc + k->misc, v) - c->misc);
}

/* The value's symbol; its extra bits go to the bit column, an escaped value to misc. */
static inline uint8_t put_value(mw_run_cols *c, run_pos *k, uint64_t v)
{
    unsigned e;
    uint64_t extra;
    unsigned sym = mw_sym_of(v, &e, &extra);
    if (__builtin_expect(sym == MW_SYM_ESC, 0))
        put_misc(c, k, v);
    else
        put_bits(c, k, extra, e);   /* e = 0 adds nothing: no branch on it */
    return (uint8_t)sym;
}

/* A column of one repeated byte (a structure freed in order: every op a step, every step
 * the same) needs no Huffman table of its own: zstd codes it as one long match, and a block
 * ended after it costs more than the column. */
static int uniform(const uint8_t *p, size_t n)
{
    return n > 1 && memcmp(p, p + 1, n - 1) == 0;
}

static inline void pos_reset(run_pos *k) { *k = (run_pos){ 0 }; }

/* Version 5: the frees of the run's last step repeated since (k->again) go out as one op 5,
 * before any other op; the hot paths only test k->again. */
static __attribute__((noinline)) void put_again(mw_run_cols *c, run_pos *k)
{
    c->ops[k->ops++] = MW_OP_STEP_AGAIN;
    put_misc(c, k, k->again);
    k->again = 0;
}
#define FLUSH_AGAIN(c, k)                                                                     \
    do {                                                                                      \
        if (__builtin_expect((k)->again != 0, 0)) put_again(c, k);                            \
    } while (0)

/* A FREE of block s as a step from the thread's far block (op 4, value v = the zigzagged
 * step), or, when v is the run's last op 4 step again, one more of that step (counted, to go
 * out as one op 5): a structure freed in the order it was built is then a few bytes for any
 * number of frees, where it was two bytes each (bigheap's 2 M frees: 4 MB of columns). */
static inline void put_step(mw_window *w, mw_run_cols *c, run_pos *k, uint64_t s, uint64_t v)
{
    if (k->has_step && v == k->step_v && v != 0) {
        k->again++;
        k->rep++;
    } else {
        FLUSH_AGAIN(c, k);
        c->ops[k->ops++] = MW_OP_FREE_STEP;
        c->rsym[k->rsym++] = put_value(c, k, v);
        k->step_v = v;
        k->has_step = 1;
    }
    w->far = s;
}

/* Plain records out: through the repeat finder while the records repeat (code 0, with
 * c->repeats), else as they are. */
static inline void out_plain(mw_run_cols *c, const mw_window *w, const int code, const uint8_t *p, size_t n,
                             mw_run_emit emit, void *ctx)
{
    if (!n) return;
    if (!code && c->repeats) mw_repeat_feed(&c->rep, w, p, n, emit, ctx);
    else emit(ctx, p, n, 0);
}

/* Before anything else goes out: the records the finder holds. */
static inline void out_held(mw_run_cols *c, mw_run_emit emit, void *ctx)
{
    if (mw_repeat_pending(&c->rep)) mw_repeat_flush(&c->rep, emit, ctx);
}

/* Writes the run as one CODED_RUN record: header and ops, then one column per piece. A column
 * big enough to be worth its own compressed block ends one. */
static void emit_run(mw_run_cols *c, run_pos *k, mw_run_emit emit, void *ctx)
{
    out_held(c, emit, ctx);
    FLUSH_AGAIN(c, k);
    if (k->nacc) put_bits(c, k, 0, 8 - k->nacc);
    c->n_ops = k->ops;
    c->n_rsym = k->rsym;
    c->n_ssym = k->ssym;
    c->n_raw = k->raw;
    c->n_misc = k->misc;
    uint8_t h[64], *q = h + 6;   /* room for type + length, filled in below */
    q = mw_put_uv(q, c->n_ops);
    q = mw_put_uv(q, c->n_rsym);
    q = mw_put_uv(q, c->n_ssym);
    q = mw_put_uv(q, c->n_raw);
    q = mw_put_uv(q, c->n_misc);
    size_t fields = (size_t)(q - (h + 6));
    uint64_t len = fields + c->n_ops + c->n_rsym + c->n_ssym + c->n_raw + c->n_misc;
    uint8_t lenb[10];
    size_t ln = (size_t)(mw_put_uv(lenb, len) - lenb);
    uint8_t *start = h + 6 - ln - 1;
    start[0] = MW_REC_CODED_RUN;
    memcpy(start + 1, lenb, ln);
    const size_t big = 4096;
    emit(ctx, start, (size_t)(q - start), 0);
    const uint8_t *col[5] = { c->ops, c->rsym, c->ssym, c->raw, c->misc };
    size_t len5[5] = { c->n_ops, c->n_rsym, c->n_ssym, c->n_raw, c->n_misc };
    for (unsigned i = 0; i < 5; i++)
        if (len5[i])
            emit(ctx, col[i], len5[i], i < 4 && len5[i] >= big && !uniform(col[i], len5[i]));
    pos_reset(k);
}

/* ---- writer: parsing the thread's records --------------------------------------------- */
/* A block reference of this thread's stream: the own block it names (0 = another thread's). */
static inline int own_target(const mw_window *w, const uint8_t **pp, const uint8_t *end, uint64_t *s)
{
    uint64_t a, seq;
    if (mw_get_uv(pp, end, &a)) return -1;
    if (a & 1) {
        if (mw_get_uv(pp, end, &seq)) return -1;
        *s = 0; /* absolute form: the shim writes it only for other threads' blocks */
        return 0;
    }
    if ((a >> 1) > w->top) return -1;
    *s = w->top - (a >> 1);
    return 0;
}

/* Records that repeat leave near frees plain, but a structure freed in order reaches the
 * window still in steps a few blocks apart: as plain records each names a new distance
 * (bigheap's last 1 000 frees: 4 KB of records, 1.5 KB of trace), as steps they are one
 * repeated value. Out of line: the ranked path of random churn stays as it was. */
static __attribute__((noinline)) int step_in_window(mw_window *w, mw_run_cols *c, run_pos *k, uint64_t s)
{
    put_step(w, c, k, s, mw_zigzag((int64_t)(s - w->far)));
    w->bits[(s / 64u) % MW_WIN_WORDS] &= ~(1ull << (s % 64u)); /* s is in the window */
    return 1;
}

/* An own-thread FREE of block s: ranked if it is in the window (added to the run only with
 * near), else coded as a distance or a step (always added). Returns 1 for the latter. */
static inline __attribute__((always_inline)) int run_free(mw_window *w, mw_run_cols *c, run_pos *k, uint64_t s,
                                                          int near)
{
    uint64_t r;
    if (win_rank(w, s, &r) == 0) {
        if (near) {
            FLUSH_AGAIN(c, k);
            c->ops[k->ops++] = MW_OP_FREE_RANK;
            c->rsym[k->rsym++] = put_value(c, k, r);
        } else if (__builtin_expect(w->far != 0 && s - w->far < 8, 0)) {
            return step_in_window(w, c, k, s);
        }
        w->bits[(s / 64u) % MW_WIN_WORDS] &= ~(1ull << (s % 64u)); /* s is in the window */
        return 0;
    }
    /* older than the window: its distance back, or its step from the last such free */
    uint64_t dist = w->top - s, step = mw_zigzag((int64_t)(s - w->far));
    if (step < dist) {
        put_step(w, c, k, s, step);
    } else {
        FLUSH_AGAIN(c, k);
        c->ops[k->ops++] = MW_OP_FREE_DIST;
        put_misc(c, k, dist);
        w->far = s;
    }
    mw_win_free(w, s);
    return 1;
}

static inline __attribute__((always_inline)) void runs_code(mw_window *w, mw_run_cols *c, const uint8_t *p,
                                                           size_t n, int *ok, const int code,
                                                           mw_run_emit emit, void *ctx)
{
    const uint8_t *end = p + n, *plain = p; /* plain: start of bytes not yet emitted */
    const uint8_t *run_start = NULL;        /* first record of the current run */
    uint64_t far0 = w->far;                 /* w->far when the run began: a run left as plain
                                               records must not move it (only coded FREE ops
                                               do, on the reader's side) */
    run_pos k;
    pos_reset(&k);
    if (code) out_held(c, emit, ctx);   /* the finder works only while records repeat */
    if (c->pend) {
        /* the run this window's last call left open goes on from here (its records are
         * coded already: nothing before p is needed) */
        c->pend = 0;
        if (c->pend_w == w && *ok) {
            k = c->pend_pos;
            run_start = p;
        } else {
            emit_run(c, &c->pend_pos, emit, ctx);
        }
    }
    if (!*ok) {
        out_held(c, emit, ctx);
        if (n) emit(ctx, p, n, 0);
        c->now = MW_RUN_TIME_UNKNOWN;   /* whatever TIMEs and tids those bytes held */
        c->tid_known = 0;
        return;
    }
    const uint8_t *rec = p;
    while (p < end) {
        rec = p;
        unsigned type = *p++;
        int coded = 0;
        size_t rewrite = 0;   /* length of a rewritten record in c->rec */
        if (type >= MW_REC_FREE_NEAR) {
            uint64_t d = type - MW_REC_FREE_NEAR;
            if (d > w->top) goto bad;
            uint64_t far_before = w->far;
            if (run_free(w, c, &k, w->top - d, code) || code) {
                if (!run_start) { run_start = rec; far0 = far_before; }
                coded = 1;
            }
        } else if (type == MW_REC_ALLOC_SAME) {
            uint64_t size;
            /* the sizes of small blocks: one or two varint bytes, read without the loop and
             * without a branch on which (sizes fall on both sides of 128 at random) */
            if (__builtin_expect(end - p >= 2 && !(p[0] & p[1] & 0x80), 1)) {
                unsigned two = p[0] >> 7;
                size = (uint64_t)(p[0] & 0x7f) | ((uint64_t)p[1] << 7 & (0 - (uint64_t)two));
                p += 1 + two;
            } else if (mw_get_uv(&p, end, &size)) {
                goto bad;
            }
            mw_win_new(w);
            if (code) {
                if (!run_start) { run_start = rec; far0 = w->far; }
                FLUSH_AGAIN(c, &k);
                c->ops[k.ops++] = MW_OP_ALLOC;
                c->ssym[k.ssym++] = put_value(c, &k, size);
                coded = 1;
            }
        } else {
            uint64_t len;
            if (mw_get_uv(&p, end, &len) || len > (uint64_t)(end - p)) goto bad;
            const uint8_t *q = p, *pend = p + len;
            p = pend;
            uint64_t v, s;
            switch (type) {
            case MW_REC_TIME:
                if (mw_get_uv(&q, pend, &v)) goto bad;
                if (c->drop_same_time) {
                    if (v == c->now) {
                        /* inside a run that will be coded (it has enough ops): no op; else
                         * the run so far stays plain records, and this one is cut out */
                        if (run_start && k.ops + k.rep < MW_RUN_MIN_OPS) {
                            pos_reset(&k);
                            run_start = NULL;
                            w->far = far0;
                        }
                        if (!run_start) {
                            if (rec > plain) out_plain(c, w, code, plain, (size_t)(rec - plain), emit, ctx);
                            plain = p;
                        }
                        continue;
                    }
                    c->now = v;
                }
                if (!code && !run_start) break;   /* a teardown's run goes on over it */
                if (!run_start) { run_start = rec; far0 = w->far; }
                FLUSH_AGAIN(c, &k);
                c->ops[k.ops++] = MW_OP_TIME;
                put_misc(c, &k, v);
                coded = 1;
                break;
            case MW_REC_FREE:
                if (own_target(w, &q, pend, &s)) goto bad;
                if (s) {
                    uint64_t far_before = w->far;
                    if (run_free(w, c, &k, s, code) || code) {
                        if (!run_start) { run_start = rec; far0 = far_before; }
                        coded = 1;
                    }
                }
                break;
            case MW_REC_ALLOC:
            case MW_REC_INHERIT:
                mw_win_new(w);
                break;
            case MW_REC_THREAD_START:
                if (c->delta_tids) {
                    uint64_t tidx, tid, parent, nlen;
                    if (mw_get_uv(&q, pend, &tidx) || mw_get_uv(&q, pend, &tid) ||
                        mw_get_uv(&q, pend, &parent) || mw_get_uv(&q, pend, &nlen) ||
                        nlen > (uint64_t)(pend - q))
                        goto bad;
                    if (c->tid_known)
                        rewrite = mw_enc_thread_start_d(c->rec, sizeof c->rec, tidx, tid, parent, q,
                                                        (size_t)nlen, &c->last_tid);
                    c->last_tid = tid;   /* written absolute: the base on both sides from here */
                    c->tid_known = 1;
                }
                break;
            case MW_REC_REALLOC:
                if (own_target(w, &q, pend, &s)) goto bad;
                if (s) mw_win_free(w, s);
                mw_win_new(w);
                break;
            default:
                break;
            }
        }
        if (coded) {
            /* full; or one short with repeats pending, which the next record or the run's end
             * writes as an op 5 before anything else */
            if (k.ops + (k.again != 0) >= MW_RUN_MAX_OPS) {
                if (run_start > plain) out_plain(c, w, code, plain, (size_t)(run_start - plain), emit, ctx);
                emit_run(c, &k, emit, ctx);
                plain = p;
                run_start = NULL;
            }
            continue;
        }
        /* a record that ends the run */
        if (run_start) {
            if (k.ops + k.rep >= MW_RUN_MIN_OPS) {
                if (run_start > plain) out_plain(c, w, code, plain, (size_t)(run_start - plain), emit, ctx);
                emit_run(c, &k, emit, ctx);
                plain = rec;
            } else {
                pos_reset(&k); /* too short: its records stay as they are */
                w->far = far0;
            }
            run_start = NULL;
        }
        if (rewrite) {
            if (rec > plain) out_plain(c, w, code, plain, (size_t)(rec - plain), emit, ctx);
            out_held(c, emit, ctx);
            emit(ctx, c->rec, rewrite, 0);
            plain = p;
        }
    }
    if (run_start && k.ops + k.rep >= MW_RUN_MIN_OPS) {
        if (run_start > plain) out_plain(c, w, code, plain, (size_t)(run_start - plain), emit, ctx);
        if (c->keep_open) {
            c->pend = 1;
            c->pend_w = w;
            c->pend_pos = k;
        } else {
            emit_run(c, &k, emit, ctx);
        }
        plain = end;
    } else if (run_start) {
        w->far = far0; /* too short: plain records */
    }
    if (end > plain) out_plain(c, w, code, plain, (size_t)(end - plain), emit, ctx);
    return;
bad:
    *ok = 0;
    c->now = MW_RUN_TIME_UNKNOWN;
    c->tid_known = 0;
    /* the run before the bad record parsed fine (both sides' windows agree up to it); from the
     * bad record on, everything is copied */
    if (run_start && k.ops + k.rep >= MW_RUN_MIN_OPS) {
        if (run_start > plain) out_plain(c, w, code, plain, (size_t)(run_start - plain), emit, ctx);
        emit_run(c, &k, emit, ctx);
        plain = rec;
    } else if (run_start) {
        w->far = far0;
    }
    if (rec > plain) out_plain(c, w, code, plain, (size_t)(rec - plain), emit, ctx);
    out_held(c, emit, ctx);
    if (end > rec) emit(ctx, rec, (size_t)(end - rec), 0);
}

void mw_runs_flush(mw_run_cols *c, mw_run_emit emit, void *ctx)
{
    out_held(c, emit, ctx);   /* held records came before the open run */
    if (!c->pend) return;
    c->pend = 0;
    emit_run(c, &c->pend_pos, emit, ctx);
}

/* The loop compiled twice, code a constant in each: random churn's ranked path carries no
 * test for what only the other one does (its in-window steps, step_in_window). */
static inline __attribute__((always_inline)) void runs_code_any(mw_window *w, mw_run_cols *c, const uint8_t *p,
                                                               size_t n, int *ok, int code, mw_run_emit emit,
                                                               void *ctx)
{
    if (code) runs_code(w, c, p, n, ok, 1, emit, ctx);
    else runs_code(w, c, p, n, ok, 0, emit, ctx);
}
#if POPCNT_DISPATCH
static POPCNT_TARGET void runs_code_popcnt(mw_window *w, mw_run_cols *c, const uint8_t *p, size_t n, int *ok,
                                           int code, mw_run_emit emit, void *ctx)
{
    runs_code_any(w, c, p, n, ok, code, emit, ctx);
}
static void runs_code_default(mw_window *w, mw_run_cols *c, const uint8_t *p, size_t n, int *ok, int code,
                              mw_run_emit emit, void *ctx)
{
    runs_code_any(w, c, p, n, ok, code, emit, ctx);
}
#endif
void mw_runs_code(mw_window *w, mw_run_cols *c, const uint8_t *p, size_t n, int *ok, int code, mw_run_emit emit,
                  void *ctx)
{
#if POPCNT_DISPATCH
    if (have_popcnt()) runs_code_popcnt(w, c, p, n, ok, code, emit, ctx);
    else runs_code_default(w, c, p, n, ok, code, emit, ctx);
#else
    runs_code_any(w, c, p, n, ok, code, emit, ctx);
#endif
}
