/*
 * test_format_runs.c — coded runs (TRACE-FORMAT.md 2.4, formats/mw_runs.c): the rank window
 * against a brute-force model, the writer's coder against the plain records it replaces (a
 * random multi-thread stream decodes to the same records either way, through the decoder and
 * through the reader), the coder left off, and forged runs that must be corruption. And the
 * repeats that go out through the coder (TRACE-FORMAT.md 2.5, formats/mw_repeat.c): the
 * finder's output against its input, looping threads through coder and finder against their
 * plain records, REPEAT records at and past their bounds.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "mw_format.h"

static uint64_t rng = 0x1234567887654321ull;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* ---- value symbols against TRACE-FORMAT.md 2.4's definition ---------------------------- */
/* The symbol as the format defines it: v < 16 is itself; else with c = bit length of v, 16 +
 * 8 (c - 5) + the three bits after the leading one, and c - 4 extra bits; past 33 bits, ESC. */
static unsigned spec_sym(uint64_t v, unsigned *e)
{
    *e = 0;
    if (v < 16) return (unsigned)v;
    unsigned c = 64u - (unsigned)__builtin_clzll(v);
    if (c > 33) return MW_SYM_ESC;
    *e = c - 4;
    return 16u + 8u * (c - 5u) + (unsigned)((v >> (c - 4)) & 7u);
}

static void check_sym(uint64_t v)
{
    unsigned e, se, de;
    uint64_t extra;
    unsigned sym = mw_sym_of(v, &e, &extra), want = spec_sym(v, &se);
    cr_assert_eq(sym, want, "v %llu: symbol %u, the format says %u", (unsigned long long)v, sym, want);
    if (sym == MW_SYM_ESC) return;
    cr_assert_eq(e, se, "v %llu: %u extra bits, the format says %u", (unsigned long long)v, e, se);
    cr_assert_eq(mw_sym_extra_bits(sym, &de), 0);
    cr_assert_eq(de, e, "v %llu: the decoder expects %u extra bits", (unsigned long long)v, de);
    cr_assert_eq(mw_sym_value(sym, e, extra), v, "v %llu does not come back", (unsigned long long)v);
}

Test(format_runs, value_symbols_match_the_format)
{
    for (uint64_t v = 0; v < 70000; v++) check_sym(v);
    for (unsigned b = 1; b < 64; b++) {  /* both sides of every power of two */
        uint64_t p = 1ull << b;
        check_sym(p - 1);
        check_sym(p);
        check_sym(p + 1);
    }
    check_sym(~0ull);
    for (int i = 0; i < 200000; i++) check_sym(rnd() >> (rnd() % 64));
}

/* ---- the window against a model: live[s] for every block s ------------------------------ */
Test(format_runs, window_rank_and_select_match_a_model)
{
    enum { N = 20000 };
    static unsigned char live[N + 1];
    mw_window w;
    memset(&w, 0, sizeof w);
    uint64_t r, s;
    cr_assert_eq(mw_win_select(&w, 0, &s), -1, "empty window");
    for (uint64_t step = 0; w.top < N; step++) {
        if (w.top == 0 || rnd() % 3 != 0) {
            mw_win_new(&w);
            live[w.top] = 1;
        } else {
            /* free a block: mostly recent, sometimes one that left the window */
            uint64_t back = rnd() % 8 == 0 ? rnd() % w.top : rnd() % (w.top < 300 ? w.top : 300);
            s = w.top - back;
            if (s >= 1) {
                mw_win_free(&w, s);
                live[s] = 0;
            }
        }
        if (step % 97 != 0) continue;
        /* every live block in the window: rank = live blocks after it, select inverts it */
        uint64_t low = w.top >= MW_WIN_BITS ? w.top - MW_WIN_BITS + 1 : 1, above = 0;
        for (uint64_t b = w.top; b >= low && b >= 1; b--) {
            if (live[b]) {
                cr_assert_eq(mw_win_rank(&w, b, &r), 0, "block %llu", (unsigned long long)b);
                cr_assert_eq(r, above);
                cr_assert_eq(mw_win_select(&w, r, &s), 0);
                cr_assert_eq(s, b);
                above++;
            } else {
                cr_assert_eq(mw_win_rank(&w, b, &r), -1, "freed block %llu has a rank", (unsigned long long)b);
            }
            if (b == 1) break;
        }
        cr_assert_eq(mw_win_select(&w, above, &s), -1, "rank past the live count");
        if (low > 1) cr_assert_eq(mw_win_rank(&w, low - 1, &r), -1, "block below the window");
    }
}

/* ---- a random multi-thread stream, plain and coded -------------------------------------- */
typedef struct buf {
    uint8_t *p;
    size_t n, cap;
    size_t marks[4096];   /* offsets where the coder asked for a compressed block to end */
    size_t nmarks;
} buf;

static void put(buf *b, const uint8_t *p, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 4096;
        b->p = realloc(b->p, b->cap);
        cr_assert_not_null(b->p);
    }
    memcpy(b->p + b->n, p, n);
    b->n += n;
}

static void emit_buf(void *ctx, const uint8_t *p, size_t n, int block_end)
{
    buf *b = ctx;
    put(b, p, n);
    if (block_end && b->nmarks < sizeof b->marks / sizeof b->marks[0]) b->marks[b->nmarks++] = b->n;
}

/* The preamble and a HEADER (allocation tracing, no addresses) at the start of both streams. */
static void start_streams(buf *plain, buf *coded)
{
    uint8_t b[256];
    size_t n = mw_enc_preamble(b, sizeof b);
    put(plain, b, n);
    put(coded, b, n);
    n = mw_enc_header(b, sizeof b, 1, 0, 4096, 0, 0, MW_HF_ALLOC_TRACING | MW_HF_NO_ADDRESSES, "x", 1, "", 0);
    put(plain, b, n);
    put(coded, b, n);
}

/* zstd level 1 size of a stream, ending a block at each mark (as the shim's writer does). */
static size_t zsize(const buf *b)
{
    ZSTD_CCtx *z = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(z, ZSTD_c_compressionLevel, 1);
    size_t cap = ZSTD_compressBound(b->n) + 4096, total = 0, from = 0;
    uint8_t *out = malloc(cap);
    for (size_t m = 0; m <= b->nmarks; m++) {
        size_t to = m < b->nmarks ? b->marks[m] : b->n;
        ZSTD_inBuffer in = { b->p + from, to - from, 0 };
        ZSTD_EndDirective mode = m < b->nmarks ? ZSTD_e_flush : ZSTD_e_end;
        for (;;) {
            ZSTD_outBuffer o = { out, cap, 0 };
            size_t r = ZSTD_compressStream2(z, &o, &in, mode);
            cr_assert(!ZSTD_isError(r));
            total += o.pos;
            if (r == 0) break;
        }
        from = to;
    }
    free(out);
    ZSTD_freeCCtx(z);
    return total;
}

#define NT 3
typedef struct gthread {
    uint64_t seq;
    mw_alloc_last last;
    uint64_t live[4096];      /* own live blocks, oldest first */
    size_t nlive;
    buf seg;                  /* records not yet "drained" */
    mw_window wwin;           /* the writer's window */
    int ok;
} gthread;

typedef struct stream_pair {
    buf plain, coded;
    size_t runs;
} stream_pair;

/* Sizes: program-like (mode 0, 1) or anything, escapes included (mode 2). */
static uint64_t rnd_size(unsigned mode)
{
    if (mode < 2) return rnd() % 16 == 0 ? 16 + rnd() % 8192 : 16 + rnd() % 1009;
    switch (rnd() % 16) {
    case 0: return rnd() % 16;
    case 1: return rnd() >> (rnd() % 64);
    case 2: return UINT64_MAX;
    default: return 16 + rnd() % 1009;
    }
}

/* The coder's columns, whether it leaves out TIMEs repeating the stream's time, and whether
 * it keeps a run open for the same thread's next drain (as the shim's writer does). */
static mw_run_cols g_cols;
static int g_drop_time, g_keep_open, g_repeat_finder;
static unsigned g_last_tidx;

/* As the writer does: a THREAD_SWITCH when the thread changes, and before anything the coder
 * did not write, the run it kept open. */
static void drain(gthread *t, unsigned tidx, stream_pair *sp, int code)
{
    uint8_t b[32];
    if (tidx != g_last_tidx) {
        mw_runs_flush(&g_cols, emit_buf, &sp->coded);
        size_t n = mw_enc_thread_switch(b, sizeof b, tidx);
        put(&sp->plain, b, n);
        put(&sp->coded, b, n);
        g_last_tidx = tidx;
    }
    put(&sp->plain, t->seg.p, t->seg.n);
    mw_runs_code(&t->wwin, &g_cols, t->seg.p, t->seg.n, &t->ok, code, emit_buf, &sp->coded);
    cr_assert(t->ok, "the coder could not parse the records it was given");
    t->seg.n = 0;
}

/* A generator's start: its threads' state, the coder's settings, both streams' preambles. */
static void gen_start(gthread *th, stream_pair *sp)
{
    memset(th, 0, NT * sizeof *th);
    g_cols.drop_same_time = g_drop_time;
    g_cols.keep_open = g_keep_open;
    g_cols.pend = 0;
    g_cols.repeats = g_repeat_finder;
    mw_repeat_init(&g_cols.rep);
    g_cols.now = MW_RUN_TIME_UNKNOWN;
    g_last_tidx = UINT32_MAX;
    static buf zero;
    for (unsigned i = 0; i < NT; i++) th[i].ok = 1;
    sp->plain = zero;
    sp->coded = zero;
    sp->runs = 0;
    start_streams(&sp->plain, &sp->coded);
}

/* Generates `steps` events over NT threads; code: whether the coder makes runs. mode 0: random
 * churn over a few hundred live blocks with rare other records; 1: the same, frees mostly of
 * the latest blocks; 2: adversarial (other records often, live sets past the window, sizes of
 * any magnitude). */
static void generate(stream_pair *sp, size_t steps, int code, unsigned mode)
{
    static gthread th[NT];
    gen_start(th, sp);
    uint8_t b[256];
    size_t n;
    uint64_t clock = 0;
    for (size_t i = 0; i < steps; i++) {
        unsigned k = (unsigned)(rnd() % 16 < 13 ? 0 : rnd() % NT); /* thread 0 does most */
        gthread *t = &th[k];
        /* per mille: alloc, own free, other thread's free, realloc, time; the rest MARK */
        static const unsigned cut[3][5] = { { 495, 990, 991, 992, 999 }, { 480, 960, 970, 980, 995 },
                                            { 450, 900, 930, 950, 980 } };
        const unsigned *c = cut[mode];
        uint64_t r = rnd() % 1000;
        n = 0;
        if (mode < 2 && r < c[1]) r = t->nlive < 64 ? 0 : t->nlive > 256 ? c[0] : r;
        if (r < c[0] || t->nlive == 0) {
            if (t->nlive < 4096) {
                uint64_t stack = rnd() % 20 == 0 ? rnd() % 5 + 1 : 1, kind = rnd() % 30 == 0 ? 1 : 0;
                if (mode < 2) stack = 1, kind = 0;
                n = mw_enc_alloc_noaddr_hot(b, kind, rnd_size(mode), stack, &t->last);
                t->live[t->nlive++] = ++t->seq;
            }
        } else if (r < c[1]) {
            /* own free: by position among the live blocks (mode 1: mostly the latest three) */
            size_t j = mode == 1 && rnd() % 4 ? t->nlive - 1 - rnd() % (t->nlive < 3 ? t->nlive : 3)
                                              : (size_t)(rnd() % t->nlive);
            n = mw_enc_free(b, sizeof b, (mw_block_ref){ k, t->live[j] }, k, t->seq);
            memmove(&t->live[j], &t->live[j + 1], (t->nlive - j - 1) * sizeof t->live[0]);
            t->nlive--;
        } else if (r < c[2]) {
            /* another thread frees one of k's blocks: absolute form in its stream */
            unsigned o = (k + 1) % NT;
            size_t j = (size_t)(rnd() % t->nlive);
            n = mw_enc_free(b, sizeof b, (mw_block_ref){ k, t->live[j] }, o, th[o].seq);
            memmove(&t->live[j], &t->live[j + 1], (t->nlive - j - 1) * sizeof t->live[0]);
            t->nlive--;
            put(&th[o].seg, b, n);
            n = 0;
        } else if (r < c[3]) {
            size_t j = (size_t)(rnd() % t->nlive);
            n = mw_enc_realloc_noaddr(b, sizeof b, (mw_block_ref){ k, t->live[j] }, k, t->seq, rnd_size(mode), 3);
            memmove(&t->live[j], &t->live[j + 1], (t->nlive - j - 1) * sizeof t->live[0]);
            t->live[t->nlive - 1] = ++t->seq;
        } else if (r < c[4]) {
            if (rnd() % 2) clock += rnd() % 5000000;   /* or the same time again, from any thread */
            n = mw_enc_time(b, sizeof b, clock);
        } else {
            n = mw_enc_mark(b, sizeof b, "m", 1);
        }
        if (n) put(&t->seg, b, n);
        if (rnd() % 3000 == 0) drain(t, k, sp, code);
    }
    for (unsigned k = 0; k < NT; k++) {
        drain(&th[k], k, sp, code);
        free(th[k].seg.p);
    }
    mw_runs_flush(&g_cols, emit_buf, &sp->coded);
}

/* Structures built and torn down in building order (every other block, oldest first: steps
 * out of the window and into it), over NT threads, interrupted at random by every other kind
 * of event: allocations, frees of the latest blocks (ranks), frees far back (distances),
 * other threads' frees, TIMEs, MARKs. Version 5 codes the repeated steps as op 5 counts; each
 * interruption must write the pending count first. */
static void generate_teardowns(stream_pair *sp, size_t steps, int code)
{
    static gthread th[NT];
    static int tearing[NT];
    static size_t at[NT];
    memset(tearing, 0, sizeof tearing);
    gen_start(th, sp);
    uint8_t b[256];
    uint64_t clock = 0;
    for (size_t i = 0; i < steps; i++) {
        unsigned k = (unsigned)(rnd() % 8 < 6 ? 0 : rnd() % NT);
        gthread *t = &th[k];
        size_t n = 0;
        /* building: mostly allocations; tearing down: mostly the next free of the teardown
         * (a run ends at most other events: it must be long enough to be coded) */
        uint64_t r = rnd() % 100;
        if (tearing[k] && r >= 90) r = rnd() % 100 < 85 ? 0 : 90 + rnd() % 10;
        if (!tearing[k] && t->nlive >= 3000 + rnd() % 1000) {
            tearing[k] = 1;
            at[k] = 0;
        }
        if (tearing[k] && (at[k] >= t->nlive || t->nlive < 100)) tearing[k] = 0;
        if (r < 90 && tearing[k]) {
            size_t j = at[k]++;   /* the oldest not yet visited: every other block goes */
            n = mw_enc_free(b, sizeof b, (mw_block_ref){ k, t->live[j] }, k, t->seq);
            memmove(&t->live[j], &t->live[j + 1], (t->nlive - j - 1) * sizeof t->live[0]);
            t->nlive--;
        } else if ((r < 90 || r < 93) && t->nlive < 4096) {
            n = mw_enc_alloc_noaddr_hot(b, 0, 16 + rnd() % 64, 1, &t->last);
            t->live[t->nlive++] = ++t->seq;
        } else if (r < 95 && t->nlive) {
            /* a free of one of the latest (rank) or of any block (a distance when far) */
            size_t j = rnd() % 2 ? t->nlive - 1 - rnd() % (t->nlive < 3 ? t->nlive : 3) : (size_t)(rnd() % t->nlive);
            n = mw_enc_free(b, sizeof b, (mw_block_ref){ k, t->live[j] }, k, t->seq);
            memmove(&t->live[j], &t->live[j + 1], (t->nlive - j - 1) * sizeof t->live[0]);
            t->nlive--;
            if (j < at[k]) at[k]--;
        } else if (r < 96 && t->nlive) {
            unsigned o = (k + 1) % NT;
            size_t j = (size_t)(rnd() % t->nlive);
            n = mw_enc_free(b, sizeof b, (mw_block_ref){ k, t->live[j] }, o, th[o].seq);
            memmove(&t->live[j], &t->live[j + 1], (t->nlive - j - 1) * sizeof t->live[0]);
            t->nlive--;
            if (j < at[k]) at[k]--;
            put(&th[o].seg, b, n);
            n = 0;
        } else if (r < 99) {
            if (rnd() % 2) clock += 4194304;
            n = mw_enc_time(b, sizeof b, clock);
        } else {
            n = mw_enc_mark(b, sizeof b, "m", 1);
        }
        if (n) put(&t->seg, b, n);
        if (rnd() % 2000 == 0) drain(t, k, sp, code);
    }
    for (unsigned k = 0; k < NT; k++) {
        drain(&th[k], k, sp, code);
        free(th[k].seg.p);
    }
    mw_runs_flush(&g_cols, emit_buf, &sp->coded);
}

typedef struct evt {
    uint8_t type;
    uint64_t a, b, c, d, seq;
} evt;

/* REPEAT records decode_all met (their records are counted as events). */
static size_t g_repeats;

/* Decodes a whole in-memory stream into events (CODED_RUN and REPEAT records themselves left
 * out). */
static evt *decode_all(const buf *s, size_t *count, size_t *runs)
{
    mw_decoder d;
    mw_decoder_init(&d);
    size_t off = MW_PREAMBLE_LEN, cap = 1024, n = 0;
    evt *e = malloc(cap * sizeof *e);
    uint32_t v;
    cr_assert_eq(mw_decode_preamble(&d, s->p, s->n, &v), MW_OK);
    *runs = 0;
    for (;;) {
        mw_record rec;
        size_t used = 0;
        uint64_t seq = 0;
        int st = mw_decode_record(&d, s->p + off, s->n - off, off, &rec, &used, &seq);
        if (st == MW_NEED_MORE && off == s->n) break;
        cr_assert_eq(st, MW_OK, "status %d at %zu: %s", st, off, d.err);
        off += used;
        if (rec.type == MW_REC_CODED_RUN) {
            (*runs)++;
            continue;
        }
        if (rec.type == MW_REC_REPEAT) {
            g_repeats++;
            continue;
        }
        if (n == cap) e = realloc(e, (cap *= 2) * sizeof *e);
        evt x = { rec.type, 0, 0, 0, 0, 0 };
        switch (rec.type) {
        case MW_REC_ALLOC: x = (evt){ rec.type, rec.u.alloc.kind, rec.u.alloc.size, rec.u.alloc.stack, 0, seq }; break;
        case MW_REC_FREE: x = (evt){ rec.type, rec.u.free.ref.tidx, rec.u.free.ref.seq, 0, 0, 0 }; break;
        case MW_REC_REALLOC:
            x = (evt){ rec.type, rec.u.realloc.old.tidx, rec.u.realloc.old.seq, rec.u.realloc.size, rec.u.realloc.stack, seq };
            break;
        case MW_REC_TIME: x.a = rec.u.time.t_ns; break;
        case MW_REC_THREAD_SWITCH: x.a = rec.u.thread_switch.tidx; break;
        default: break;
        }
        e[n++] = x;
    }
    mw_decoder_free(&d);
    *count = n;
    return e;
}

static void same_events(const stream_pair *sp, size_t *runs_out)
{
    size_t np, nc, rp, rc;
    evt *p = decode_all(&sp->plain, &np, &rp);
    evt *c = decode_all(&sp->coded, &nc, &rc);
    cr_assert_eq(rp, 0);
    cr_assert_eq(np, nc, "plain %zu events, coded %zu", np, nc);
    for (size_t i = 0; i < np; i++)
        cr_assert(p[i].type == c[i].type && p[i].a == c[i].a && p[i].b == c[i].b && p[i].c == c[i].c &&
                      p[i].d == c[i].d && p[i].seq == c[i].seq,   /* not memcmp: the padding */
                  "event %zu: type %u/%u a %llu/%llu b %llu/%llu seq %llu/%llu", i, p[i].type, c[i].type,
                  (unsigned long long)p[i].a, (unsigned long long)c[i].a, (unsigned long long)p[i].b,
                  (unsigned long long)c[i].b, (unsigned long long)p[i].seq, (unsigned long long)c[i].seq);
    free(p);
    free(c);
    *runs_out = rc;
}

Test(format_runs, coded_stream_decodes_to_the_same_records)
{
    for (unsigned pass = 0; pass < 6; pass++) {
        unsigned mode = pass % 3;
        g_keep_open = pass >= 3;   /* runs kept open across a thread's drains, or not */
        stream_pair sp;
        generate(&sp, 300000, 1, mode);
        size_t runs;
        same_events(&sp, &runs);
        cr_assert_gt(runs, 10, "mode %u: only %zu runs", mode, runs);
        /* what the runs are for: random frees take less after compression (the columns
         * entropy-coded apart); mode 2 is only about decoding */
        size_t zc = zsize(&sp.coded), zp = zsize(&sp.plain);
        if (mode == 0)
            cr_assert_lt(zc * 10, zp * 9, "compressed, coded %zu bytes, plain %zu", zc, zp);

        /* the same through the reader (runs expanded across its calls) */
        char err[256];
        mw_reader *r = mw_reader_open_mem(sp.coded.p, sp.coded.n, err, sizeof err);
        cr_assert_not_null(r, "%s", err);
        mw_record rec;
        size_t allocs = 0, frees = 0;
        int st;
        while ((st = mw_reader_next(r, &rec, NULL)) == MW_OK) {
            allocs += rec.type == MW_REC_ALLOC || rec.type == MW_REC_REALLOC;
            frees += rec.type == MW_REC_FREE;
        }
        cr_assert_eq(st, MW_EOF, "%s", mw_reader_error(r));
        cr_assert_gt(allocs, 100000);
        cr_assert_gt(frees, 100000);
        mw_reader_close(r);
        free(sp.plain.p);
        free(sp.coded.p);
    }
    g_keep_open = 0;
}

/* Events other than TIME, each with the stream's time at it; *times counts the TIMEs. */
static evt *timed_events(const buf *s, size_t *count, size_t *times)
{
    size_t n, runs, k = 0;
    evt *e = decode_all(s, &n, &runs);
    uint64_t now = 0;
    *times = 0;
    for (size_t i = 0; i < n; i++) {
        if (e[i].type == MW_REC_TIME) {
            now = e[i].a;
            (*times)++;
            continue;
        }
        e[k] = e[i];
        e[k++].d = now;   /* d is unused by every event decode_all keeps */
    }
    *count = k;
    return e;
}

/* The same events at the same times in both streams of a pair (the coded one may leave out
 * TIMEs that repeat the stream's time); *tp, *tc: the TIMEs each holds. */
static void same_timed_events(const stream_pair *sp, size_t *tp, size_t *tc)
{
    size_t np, nc;
    evt *p = timed_events(&sp->plain, &np, tp);
    evt *c = timed_events(&sp->coded, &nc, tc);
    cr_assert_eq(np, nc, "plain %zu events, coded %zu", np, nc);
    for (size_t i = 0; i < np; i++)
        cr_assert(p[i].type == c[i].type && p[i].a == c[i].a && p[i].b == c[i].b && p[i].c == c[i].c &&
                      p[i].d == c[i].d && p[i].seq == c[i].seq,
                  "event %zu (type %u/%u, a %llu/%llu, b %llu/%llu, seq %llu/%llu) at time %llu/%llu", i, p[i].type,
                  c[i].type, (unsigned long long)p[i].a, (unsigned long long)c[i].a, (unsigned long long)p[i].b,
                  (unsigned long long)c[i].b, (unsigned long long)p[i].seq, (unsigned long long)c[i].seq,
                  (unsigned long long)p[i].d, (unsigned long long)c[i].d);
    free(p);
    free(c);
}

/* The writer's setting: TIMEs that repeat the stream's time are left out, in runs and out of
 * them, and every other event keeps its time. */
Test(format_runs, repeated_times_left_out)
{
    g_drop_time = 1;
    for (unsigned pass = 0; pass < 6; pass++) {
        unsigned mode = pass % 3;
        g_keep_open = pass >= 3;
        for (int code = 0; code < 2; code++) {
            stream_pair sp;
            generate(&sp, 300000, code, mode);
            size_t tp, tc;
            same_timed_events(&sp, &tp, &tc);
            cr_assert_gt(tp, 100, "mode %u: %zu TIMEs generated", mode, tp);
            /* half of them repeat the clock, fewer the stream's time (threads are drained
             * out of order) */
            cr_log_info("mode %u code %d: %zu of %zu TIMEs kept", mode, code, tc, tp);
            cr_assert_lt(tc * 10, tp * 8, "mode %u code %d: %zu of %zu TIMEs kept", mode, code, tc, tp);
            free(sp.plain.p);
            free(sp.coded.p);
        }
    }
    g_drop_time = 0;
    g_keep_open = 0;
}

/* The ops of a stream's CODED_RUNs, and the events they stand for. */
static void run_ops_and_events(const buf *s, size_t *ops, size_t *events)
{
    mw_decoder d;
    mw_decoder_init(&d);
    uint32_t v;
    cr_assert_eq(mw_decode_preamble(&d, s->p, s->n, &v), MW_OK);
    size_t off = MW_PREAMBLE_LEN;
    *ops = *events = 0;
    while (off < s->n || d.run.left) {
        mw_record rec;
        size_t used = 0;
        uint64_t seq;
        cr_assert_eq(mw_decode_record(&d, s->p + off, s->n - off, off, &rec, &used, &seq), MW_OK, "%s", d.err);
        if (rec.type == MW_REC_CODED_RUN) *ops += rec.u.coded_run.ops;
        else if (!used) ++*events;
        off += used;
    }
    mw_decoder_free(&d);
}

Test(format_runs, interrupted_teardowns_decode_to_the_same_records)
{
    for (unsigned pass = 0; pass < 8; pass++) {
        g_keep_open = pass & 1;
        g_drop_time = pass >> 1 & 1;
        int code = pass >> 2 & 1;
        stream_pair sp;
        generate_teardowns(&sp, 400000, code);
        size_t runs = 0, tp, tc;
        if (g_drop_time)   /* the writer's setting */
            same_timed_events(&sp, &tp, &tc);
        else
            same_events(&sp, &runs);
        /* the teardowns' repeated steps are op 5 counts: the runs hold many more events than ops */
        size_t ops, events;
        run_ops_and_events(&sp.coded, &ops, &events);
        cr_assert_gt(ops, 100, "pass %u: %zu ops", pass, ops);
        /* (the coder on: one op per allocation as well) */
        cr_assert_lt(code ? ops + 20000 : ops * 2, events, "pass %u: %zu ops for %zu events", pass, ops, events);
        free(sp.plain.p);
        free(sp.coded.p);
    }
    g_drop_time = 0;
    g_keep_open = 0;
}

/* The writer's setting: THREAD_STARTs become THREAD_START_Ds (tid against the stream's
 * previous THREAD_START); after bytes the coder passed unparsed, one is written absolute. */
Test(format_runs, thread_starts_delta_coded)
{
    static const uint64_t tids[] = { 1000, 1001, 1003, 999, 5, 40000000000ull, UINT64_MAX, 0, 77, 78 };
    const size_t nt = sizeof tids / sizeof tids[0];
    static mw_run_cols cols;
    memset(&cols, 0, sizeof cols);
    cols.delta_tids = 1;
    static buf coded;
    memset(&coded, 0, sizeof coded);
    uint8_t b[256];
    size_t n = mw_enc_preamble(b, sizeof b);
    put(&coded, b, n);
    n = mw_enc_header(b, sizeof b, 1, 0, 4096, 0, 0, MW_HF_ALLOC_TRACING | MW_HF_NO_ADDRESSES, "x", 1, "", 0);
    put(&coded, b, n);
    mw_window w[nt];
    memset(w, 0, sizeof w);
    size_t d_records = 0;
    for (size_t i = 0; i < nt; i++) {
        uint8_t seg[512];
        size_t m = mw_enc_thread_start(seg, sizeof seg, i, tids[i], 0, "worker", 6);
        size_t sw = mw_enc_thread_switch(b, sizeof b, i);
        put(&coded, b, sw);
        /* thread 4's records do not parse as far as the coder knows (*ok clear): copied as they are */
        int ok = i != 4;
        size_t before = coded.n;
        mw_runs_code(&w[i], &cols, seg, m, &ok, 1, emit_buf, &coded);
        cr_assert_eq(ok, i != 4);
        d_records += coded.p[before] == MW_REC_THREAD_START_D;
        /* the first, and the first after unparsed bytes, go absolute; every other one as a delta */
        cr_assert_eq(coded.p[before], i == 0 || i == 4 || i == 5 ? MW_REC_THREAD_START : MW_REC_THREAD_START_D,
                     "THREAD_START %zu written as type %#x", i, coded.p[before]);
    }
    cr_assert_eq(d_records, nt - 3);
    mw_decoder d;
    mw_decoder_init(&d);
    size_t off = MW_PREAMBLE_LEN, k = 0;
    uint32_t v;
    cr_assert_eq(mw_decode_preamble(&d, coded.p, coded.n, &v), MW_OK);
    while (off < coded.n) {
        mw_record rec;
        size_t used = 0;
        uint64_t seq = 0;
        cr_assert_eq(mw_decode_record(&d, coded.p + off, coded.n - off, off, &rec, &used, &seq), MW_OK, "%s", d.err);
        off += used;
        if (rec.type != MW_REC_THREAD_START) continue;
        cr_assert_lt(k, nt);
        cr_assert_eq(rec.u.thread_start.tidx, k);
        cr_assert_eq(rec.u.thread_start.tid, tids[k], "THREAD_START %zu: tid %llu, want %llu", k,
                     (unsigned long long)rec.u.thread_start.tid, (unsigned long long)tids[k]);
        cr_assert_eq(rec.u.thread_start.name.len, 6);
        cr_assert(memcmp(rec.u.thread_start.name.ptr, "worker", 6) == 0);
        k++;
    }
    cr_assert_eq(k, nt);
    mw_decoder_free(&d);
    free(coded.p);
}

/* With the coder off for everything else it still looks for runs of frees older than the
 * window (FREE_DIST / FREE_STEP): in the adversarial mode, whose live sets pass the window,
 * such frees come at random among other records, in runs too short to code, which must leave
 * the step base (mw_window.far) where the reader has it: every event decodes the same. */
Test(format_runs, coder_off_short_far_runs_stay_plain)
{
    stream_pair sp;
    generate(&sp, 300000, 0, 2);
    size_t runs;
    same_events(&sp, &runs);
    free(sp.plain.p);
    free(sp.coded.p);
}

Test(format_runs, coder_off_copies_the_records)
{
    stream_pair sp;
    generate(&sp, 50000, 0, 0);
    cr_assert_eq(sp.coded.n, sp.plain.n);
    cr_assert(memcmp(sp.coded.p, sp.plain.p, sp.plain.n) == 0);
    free(sp.plain.p);
    free(sp.coded.p);
}

/* A structure freed in the order it was built (bigheap: 200 000 blocks, every other one
 * freed, oldest first) while the coder leaves everything else plain (records that repeat):
 * the frees are steps, also those of blocks inside the rank window, where they were left as
 * plain records, each naming a new distance; from version 5 the same step again is one op 5
 * for all of them (100 000 frees: a run of a few bytes, where they were four runs of 64 KB
 * of repeated bytes), and its columns end no compressed block. The events decode the same. */
Test(format_runs, frees_in_building_order_stay_steps_into_the_window)
{
    enum { N = 200000 };
    static mw_run_cols cols;
    static buf plain, coded;
    static uint8_t seg[N * 8];
    memset(&cols, 0, sizeof cols);
    cols.now = MW_RUN_TIME_UNKNOWN;
    start_streams(&plain, &coded);
    mw_alloc_last last = {0};
    size_t sn = 0;
    for (uint64_t i = 1; i <= N; i++) sn += mw_enc_alloc_noaddr_hot(seg + sn, 0, 16 + i % 48, 1, &last);
    size_t alloc_bytes = sn;
    for (uint64_t s = 1; s <= N; s += 2) sn += mw_enc_free(seg + sn, sizeof seg - sn, (mw_block_ref){ 0, s }, 0, N);
    put(&plain, seg, sn);
    mw_window w = {0};
    int ok = 1;
    mw_runs_code(&w, &cols, seg, sn, &ok, 0, emit_buf, &coded);
    cr_assert(ok);
    stream_pair sp = { plain, coded, 0 };
    size_t runs;
    same_events(&sp, &runs);
    cr_expect_geq(runs, 1, "no coded run");
    /* what is left plain: the allocations, and no free */
    size_t left_plain = 0;
    mw_decoder d;
    mw_decoder_init(&d);
    uint32_t v;
    cr_assert_eq(mw_decode_preamble(&d, coded.p, coded.n, &v), MW_OK);
    size_t off = MW_PREAMBLE_LEN;
    while (off < coded.n) {
        mw_record rec;
        size_t used = 0;
        uint64_t seq = 0;
        cr_assert_eq(mw_decode_record(&d, coded.p + off, coded.n - off, off, &rec, &used, &seq), MW_OK);
        if (rec.type == MW_REC_FREE && used > 0) left_plain++; /* a run's events take no bytes */
        off += used;
    }
    mw_decoder_free(&d);
    cr_expect_eq(left_plain, 0, "%zu of %d frees left plain", left_plain, N / 2);
    cr_expect_eq(runs, 1, "%zu runs", runs);
    cr_expect_lt(coded.n, MW_PREAMBLE_LEN + alloc_bytes + 32, "the frees took %zu bytes",
                 coded.n - MW_PREAMBLE_LEN - alloc_bytes);
    cr_expect_eq(coded.nmarks, 0, "%zu compressed blocks ended in %zu runs", coded.nmarks, runs);
    free(plain.p);
    free(coded.p);
}

/* A record the coder cannot parse: everything from there is copied, and the coder stays off. */
Test(format_runs, unparsable_records_are_copied_and_coding_stops)
{
    static mw_run_cols cols;
    mw_window w;
    memset(&w, 0, sizeof w);
    static buf in, out;
    uint8_t b[64];
    mw_alloc_last last = { 0 };
    for (int i = 0; i < 100; i++) {
        put(&in, b, mw_enc_alloc_noaddr_hot(b, 0, 32, 1, &last));
        put(&in, b, mw_enc_free(b, sizeof b, (mw_block_ref){ 0, (uint64_t)i + 1 }, 0, (uint64_t)i + 1));
    }
    size_t good = in.n;
    static const uint8_t cut[] = { MW_REC_MARK, 0x7f, 'x' }; /* length past the end */
    put(&in, cut, sizeof cut);
    int ok = 1;
    mw_runs_code(&w, &cols, in.p, in.n, &ok, 1, emit_buf, &out);
    cr_assert_eq(ok, 0);
    /* the plain tail is there byte for byte, after what was coded */
    cr_assert_geq(out.n, sizeof cut);
    cr_assert(memcmp(out.p + out.n - sizeof cut, cut, sizeof cut) == 0);
    /* the first record is the full ALLOC, then the run */
    cr_assert_eq(out.p[2 + in.p[1]], MW_REC_CODED_RUN, "the good part was coded: %02x %02x %02x", out.p[0], out.p[1], out.p[2 + in.p[1]]);
    size_t before = out.n;
    mw_runs_code(&w, &cols, in.p, good, &ok, 1, emit_buf, &out);
    cr_assert_eq(out.n - before, good, "with ok clear, records are copied");
    cr_assert(memcmp(out.p + before, in.p, good) == 0);
    free(in.p);
    free(out.p);
}

/* ---- forged runs ------------------------------------------------------------------------ */
/* preamble (version `version`), HEADER (no addresses), one full ALLOC (if alloc_first), then
 * `len` bytes; read to the end. Returns the last status; the ALLOCs and FREEs read, and
 * REPEATs (each ALLOC's seq checked to be its number). */
static int decode_tail(unsigned version, int alloc_first, const uint8_t *tail, size_t len, char *err, size_t errlen,
                       size_t *allocs, size_t *frees, size_t *reps)
{
    buf s = { 0 };
    uint8_t b[256];
    size_t n = mw_enc_preamble(b, sizeof b);
    b[8] = (uint8_t)version;
    put(&s, b, n);
    put(&s, b, mw_enc_header(b, sizeof b, 1, 0, 4096, 0, 0, MW_HF_NO_ADDRESSES, "x", 1, "", 0));
    mw_alloc_last last = { 0 };
    if (alloc_first) put(&s, b, mw_enc_alloc_noaddr_hot(b, 0, 8, 1, &last));
    put(&s, tail, len);
    char e[256];
    mw_reader *r = mw_reader_open_mem(s.p, s.n, e, sizeof e);
    cr_assert_not_null(r, "%s", e);
    mw_record rec;
    uint64_t seq;
    int st;
    *allocs = *frees = *reps = 0;
    while ((st = mw_reader_next(r, &rec, &seq)) == MW_OK) {
        *allocs += rec.type == MW_REC_ALLOC;
        *frees += rec.type == MW_REC_FREE;
        *reps += rec.type == MW_REC_REPEAT;
        if (rec.type == MW_REC_ALLOC) cr_assert_eq(seq, *allocs, "ALLOC %zu has seq %llu", *allocs, (unsigned long long)seq);
    }
    snprintf(err, errlen, "%s", mw_reader_error(r));
    mw_reader_close(r);
    free(s.p);
    return st;
}

/* The forged run's payload after the ALLOC (if alloc_first). */
static int decode_forged(const uint8_t *payload, size_t plen, char *err, size_t errlen, int alloc_first)
{
    uint8_t b[256];
    size_t n = mw_enc_raw(b, sizeof b, MW_REC_CODED_RUN, payload, plen), a, f, r;
    return decode_tail(MW_FORMAT_VERSION, alloc_first, b, n, err, errlen, &a, &f, &r);
}

Test(format_runs, forged_runs_are_corruption)
{
    char err[256];
    /* n_ops n_rsym n_ssym n_raw n_misc, then the columns */
    static const uint8_t overrun[] = { 5, 0, 0, 0, 0, 1, 1 };          /* 5 ops, 2 bytes */
    static const uint8_t bad_sym[] = { 1, 0, 1, 0, 0, MW_OP_ALLOC, 250 };
    static const uint8_t no_bits[] = { 1, 0, 1, 0, 0, MW_OP_ALLOC, 200 }; /* needs extra bits */
    static const uint8_t no_rank[] = { 1, 1, 0, 0, 0, MW_OP_FREE_RANK, 3 }; /* one live block */
    static const uint8_t bad_op[] = { 1, 0, 0, 0, 0, 9 };
    static const uint8_t far[] = { 1, 0, 0, 0, 1, MW_OP_FREE_DIST, 5 };  /* distance 5 of 1 */
    static const uint8_t no_misc[] = { 1, 0, 0, 0, 0, MW_OP_TIME };
    static const uint8_t step_far[] = { 1, 1, 0, 0, 0, MW_OP_FREE_STEP, 10 }; /* step +5 from 0, of 1 */
    static const uint8_t step_neg[] = { 1, 1, 0, 0, 0, MW_OP_FREE_STEP, 1 };  /* step -1 from 0 */
    static const uint8_t step_nosym[] = { 1, 0, 0, 0, 0, MW_OP_FREE_STEP };
    static const uint8_t step_zero[] = { 1, 1, 0, 0, 0, MW_OP_FREE_STEP, 0 };  /* block 0 */
    static const struct { const uint8_t *p; size_t n; const char *what; } cases[] = {
        { overrun, sizeof overrun, "column lengths overrun" },
        { bad_sym, sizeof bad_sym, "bad symbol" },
        { no_bits, sizeof no_bits, "size column overrun" },
        { no_rank, sizeof no_rank, "no live block of that rank" },
        { bad_op, sizeof bad_op, "unknown op" },
        { far, sizeof far, "bad block reference" },
        { no_misc, sizeof no_misc, "misc column overrun" },
        { step_far, sizeof step_far, "bad block reference" },
        { step_neg, sizeof step_neg, "bad block reference" },
        { step_nosym, sizeof step_nosym, "rank column overrun" },
        { step_zero, sizeof step_zero, "bad block reference" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int st = decode_forged(cases[i].p, cases[i].n, err, sizeof err, 1);
        cr_assert_eq(st, MW_CORRUPT, "case %zu: status %d (%s)", i, st, err);
        cr_assert(strstr(err, "CODED_RUN") && strstr(err, cases[i].what), "case %zu: %s", i, err);
    }
    /* an ALLOC op before the thread's first full ALLOC */
    static const uint8_t alloc_op[] = { 1, 0, 1, 0, 0, MW_OP_ALLOC, 8 };
    cr_assert_eq(decode_forged(alloc_op, sizeof alloc_op, err, sizeof err, 0), MW_CORRUPT);
    cr_assert(strstr(err, "no earlier ALLOC"), "%s", err);
    /* a valid one: free rank 0 (the ALLOC), then an ALLOC of size 300 (symbol 16+8*4+1, 5 bits 12) */
    static const uint8_t good[] = { 2, 1, 1, 1, 0, MW_OP_FREE_RANK, MW_OP_ALLOC, 0, 49, 12 };
    cr_assert_eq(decode_forged(good, sizeof good, err, sizeof err, 1), MW_EOF, "%s", err);
    /* and a step of +1 from block 0: the ALLOC's block */
    static const uint8_t good_step[] = { 1, 1, 0, 0, 0, MW_OP_FREE_STEP, 2 };
    cr_assert_eq(decode_forged(good_step, sizeof good_step, err, sizeof err, 1), MW_EOF, "%s", err);
    /* a run of no ops as the stream's first decodes to nothing (its columns once pointed at
     * NULL + 0, which clang's UBSan in `make fuzz` reports; gcc's, which these tests use,
     * does not check that) */
    static const uint8_t empty[] = { 0, 0, 0, 0, 0 };
    cr_assert_eq(decode_forged(empty, sizeof empty, err, sizeof err, 1), MW_EOF, "%s", err);
}

/* FREE_STEP came with version 4: in a version 3 stream it is an unknown op. */
Test(format_runs, version_3_has_no_free_step)
{
    mw_decoder d;
    mw_decoder_init(&d);
    uint8_t pre[MW_PREAMBLE_LEN], b[256];
    mw_enc_preamble(pre, sizeof pre);
    pre[8] = 3;
    cr_assert_eq(mw_decode_preamble(&d, pre, sizeof pre, NULL), MW_OK);
    size_t n = mw_enc_header(b, sizeof b, 1, 0, 4096, 0, 0, MW_HF_NO_ADDRESSES, "x", 1, "", 0);
    mw_alloc_last last = { 0 };
    n += mw_enc_alloc_noaddr_hot(b + n, 0, 8, 1, &last);
    static const uint8_t payload[] = { 1, 1, 0, 0, 0, MW_OP_FREE_STEP, 2 };
    n += mw_enc_raw(b + n, sizeof b - n, MW_REC_CODED_RUN, payload, sizeof payload);
    mw_record rec;
    size_t off = 0, used;
    int st;
    while ((st = mw_decode_record(&d, b + off, n - off, off, &rec, &used, NULL)) == MW_OK) off += used;
    cr_assert_eq(st, MW_CORRUPT, "status %d", st);
    cr_assert(strstr(d.err, "unknown op"), "%s", d.err);
    mw_decoder_free(&d);
}

/* Op 5 (version 5) by hand: after an op 4 of step z it stands for n more frees of that step;
 * without an op 4 before it in the run, with a step of 0, a count of 0 or over the thread's
 * blocks, or repeats that run past the newest block, the run is corrupt (an untrusted count
 * cannot make the reader loop for nothing); in a version 4 stream it is an unknown op. */
static int decode_step_again(unsigned version, const uint8_t *payload, size_t plen, uint64_t *freed, size_t cap,
                             size_t *nfreed, char *err, size_t errcap)
{
    mw_decoder d;
    mw_decoder_init(&d);
    uint8_t pre[MW_PREAMBLE_LEN], b[512];
    mw_enc_preamble(pre, sizeof pre);
    pre[8] = (uint8_t)version;
    cr_assert_eq(mw_decode_preamble(&d, pre, sizeof pre, NULL), MW_OK);
    size_t n = mw_enc_header(b, sizeof b, 1, 0, 4096, 0, 0, MW_HF_NO_ADDRESSES, "x", 1, "", 0);
    mw_alloc_last last = { 0 };
    for (int i = 0; i < 10; i++) n += mw_enc_alloc_noaddr_hot(b + n, 0, 8, 1, &last);
    n += mw_enc_raw(b + n, sizeof b - n, MW_REC_CODED_RUN, payload, plen);
    mw_record rec;
    size_t off = 0, used;
    int st;
    *nfreed = 0;
    while ((st = mw_decode_record(&d, b + off, n - off, off, &rec, &used, NULL)) == MW_OK) {
        if (rec.type == MW_REC_FREE) {
            cr_assert_lt(*nfreed, cap);
            freed[(*nfreed)++] = rec.u.free.ref.seq;
        }
        off += used;
        if (off == n && d.run.left == 0) {   /* the input and the run's events all read */
            st = MW_EOF;
            break;
        }
    }
    snprintf(err, errcap, "%s", d.err);
    mw_decoder_free(&d);
    return st;
}

Test(format_runs, step_again_op_and_its_bounds)
{
    uint64_t freed[32];
    size_t nf;
    char err[256];
    /* ops 4 (step 2), 5 (n 3), 4 (step 1), 5 (n 1): blocks 2, 4, 6, 8, then 9, 10 */
    static const uint8_t ok[] = { 4, 2, 0, 0, 2, 4, 5, 4, 5, 4, 2, 3, 1 };
    cr_assert_eq(decode_step_again(5, ok, sizeof ok, freed, 32, &nf, err, sizeof err), MW_EOF, "%s", err);
    static const uint64_t want[] = { 2, 4, 6, 8, 9, 10 };
    cr_assert_eq(nf, 6);
    for (size_t i = 0; i < nf; i++) cr_assert_eq(freed[i], want[i], "free %zu", i);
    static const struct { uint8_t p[16]; size_t n; const char *err; } bad[] = {
        { { 1, 0, 0, 0, 1, 5, 3 }, 7, "without a step" },          /* op 5 first */
        { { 3, 2, 0, 0, 1, 4, 4, 5, 2, 0, 3 }, 11, "without a step" }, /* after a step of 0 */
        { { 2, 1, 0, 0, 1, 4, 5, 2, 0 }, 9, "bad repeat count" },  /* n 0 */
        { { 2, 1, 0, 0, 1, 4, 5, 2, 11 }, 9, "bad repeat count" }, /* n over the 10 blocks */
        { { 2, 1, 0, 0, 1, 4, 5, 4, 8 }, 9, "bad block reference" }, /* 2 + 8 x 2 > 10 */
        { { 2, 1, 0, 0, 0, 4, 5, 2 }, 8, "misc column overrun" },  /* no count */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int st = decode_step_again(5, bad[i].p, bad[i].n, freed, 32, &nf, err, sizeof err);
        cr_assert_eq(st, MW_CORRUPT, "case %zu: status %d", i, st);
        cr_assert(strstr(err, bad[i].err), "case %zu: %s", i, err);
    }
    cr_assert_eq(decode_step_again(4, ok, sizeof ok, freed, 32, &nf, err, sizeof err), MW_CORRUPT);
    cr_assert(strstr(err, "unknown op"), "%s", err);
}

/* A program that frees a big structure in the order it built it (and another the other way):
 * frees far older than the window, each a step of the same few blocks from the last, coded in
 * runs even with the coder off for everything else (plain records of such frees do not
 * repeat), and decoded back to the same events. */
Test(format_runs, teardown_in_order_coded_as_steps)
{
    for (int code = 0; code < 2; code++) {
        static buf in;
        stream_pair sp;
        memset(&sp, 0, sizeof sp);
        in.n = 0;
        uint8_t b[256];
        start_streams(&sp.plain, &sp.coded);
        mw_alloc_last last = { 0 };
        enum { N = 60000 };
        static size_t ends[2 * N];   /* where each record ends: the writer drains whole records */
        size_t nrec = 0;
        for (uint64_t i = 0; i < N; i++) {
            put(&in, b, mw_enc_alloc_noaddr_hot(b, 0, 16 + i % 48, 1, &last));
            ends[nrec++] = in.n;
        }
        size_t allocs_end = in.n;
        for (uint64_t s = 2; s <= N; s += 2) {
            put(&in, b, mw_enc_free(b, sizeof b, (mw_block_ref){ 0, s }, 0, N));
            ends[nrec++] = in.n;
        }
        for (int64_t s = N - 1; s >= 1; s -= 2) {
            put(&in, b, mw_enc_free(b, sizeof b, (mw_block_ref){ 0, (uint64_t)s }, 0, N));
            ends[nrec++] = in.n;
        }
        mw_window w;
        memset(&w, 0, sizeof w);
        int ok = 1;
        put(&sp.plain, in.p, in.n);
        for (size_t r = 0, at = 0; r < nrec;) { /* in pieces of about 64 KiB, as the writer drains */
            while (r + 1 < nrec && ends[r + 1] - at <= 65536) r++;
            mw_runs_code(&w, &g_cols, in.p + at, ends[r] - at, &ok, code, emit_buf, &sp.coded);
            cr_assert(ok);
            at = ends[r++];
        }
        size_t runs;
        same_events(&sp, &runs);
        cr_assert_gt(runs, 0, "code %d", code);
        /* the frees: next to nothing once compressed, where the plain records take 3 bytes each */
        buf frees_plain = { in.p + allocs_end, in.n - allocs_end, in.n - allocs_end, { 0 }, 0 };
        size_t zc = zsize(&sp.coded), zp = zsize(&frees_plain);
        cr_assert_lt(zc * 20, zp, "code %d: whole coded stream %zu bytes, the plain frees alone %zu", code, zc, zp);
        free(sp.plain.p);
        free(sp.coded.p);
    }
}

/* The op count of each CODED_RUN of a stream, in order; returns how many runs. */
static size_t run_lengths(const buf *s, size_t *ops, size_t cap)
{
    mw_decoder d;
    mw_decoder_init(&d);
    uint32_t v;
    cr_assert_eq(mw_decode_preamble(&d, s->p, s->n, &v), MW_OK);
    size_t off = MW_PREAMBLE_LEN, n = 0;
    while (off < s->n) {
        mw_record rec;
        size_t used = 0;
        uint64_t seq = 0;
        cr_assert_eq(mw_decode_record(&d, s->p + off, s->n - off, off, &rec, &used, &seq), MW_OK, "%s", d.err);
        if (rec.type == MW_REC_CODED_RUN) {
            const uint8_t *q = s->p + rec.offset + 1, *end = s->p + s->n;
            uint64_t len, nops;
            cr_assert_eq(mw_get_uv(&q, end, &len), 0);
            cr_assert_eq(mw_get_uv(&q, end, &nops), 0);
            cr_assert_lt(n, cap);
            ops[n++] = (size_t)nops;
        }
        off += used;
    }
    mw_decoder_free(&d);
    return n;
}

/* The writer drains a thread's ring wherever it happens to stand: with cols.keep_open, a
 * teardown's run goes on over the drains (and over TIMEs, the coder on or off), so every run
 * but the last has the most ops a run takes, and with the coder off the teardown is one run
 * (its steps one op 5 between TIMEs); without it each drain ended a run (bigheap: 113 runs
 * of 3 000 to 32 768 frees, each with a header of its own and a few plain frees at the
 * drain's end). The events decode the same. */
Test(format_runs, runs_go_on_over_the_drains_of_one_thread)
{
    for (int code = 0; code < 2; code++) {
        static buf in;
        stream_pair sp;
        memset(&sp, 0, sizeof sp);
        in.n = 0;
        static mw_run_cols cols;
        memset(&cols, 0, sizeof cols);
        cols.keep_open = 1;
        cols.now = MW_RUN_TIME_UNKNOWN;
        uint8_t b[256];
        start_streams(&sp.plain, &sp.coded);
        mw_alloc_last last = { 0 };
        enum { N = 200000 };
        static size_t ends[2 * N];
        size_t nrec = 0;
        uint64_t clock = 0;
        for (uint64_t i = 0; i < N; i++) {
            put(&in, b, mw_enc_alloc_noaddr_hot(b, 0, 16 + i % 48, 1, &last));
            ends[nrec++] = in.n;
        }
        for (uint64_t s = 1; s <= N; s += 2) {
            if (s % 5001 == 0) { /* the clock moved */
                put(&in, b, mw_enc_time(b, sizeof b, clock += 4194304));
                ends[nrec++] = in.n;
            }
            put(&in, b, mw_enc_free(b, sizeof b, (mw_block_ref){ 0, s }, 0, N));
            ends[nrec++] = in.n;
        }
        mw_window w;
        memset(&w, 0, sizeof w);
        int ok = 1;
        put(&sp.plain, in.p, in.n);
        for (size_t r = 0, at = 0; r < nrec;) { /* drains of 1 to 40 000 bytes */
            size_t want = 1 + (size_t)(rnd() % 40000);
            while (r + 1 < nrec && ends[r + 1] - at <= want) r++;
            mw_runs_code(&w, &cols, in.p + at, ends[r] - at, &ok, code, emit_buf, &sp.coded);
            cr_assert(ok);
            at = ends[r++];
        }
        mw_runs_flush(&cols, emit_buf, &sp.coded);
        cr_assert_eq(cols.pend, 0);
        size_t runs;
        same_events(&sp, &runs);
        static size_t ops[4096];
        size_t nr = run_lengths(&sp.coded, ops, 4096);
        cr_assert_eq(nr, runs);
        /* the coder on: runs from the first allocation to the last free, one op per
         * allocation; off: the allocations stay plain, one run from the first free, an op 5
         * and a TIME op each time the clock moved, and ranks for the last 1 024 frees (in the
         * window) */
        if (code) {
            cr_assert_eq(nr, (N + MW_RUN_MAX_OPS - 1) / MW_RUN_MAX_OPS, "code 1: %zu runs", nr);
        } else {
            cr_assert_eq(nr, 1, "code 0: %zu runs", nr);
            cr_assert_lt(ops[0], 100, "code 0: %zu ops", ops[0]);
        }
        for (size_t i = 0; i + 1 < nr; i++)
            cr_assert_eq(ops[i], MW_RUN_MAX_OPS, "code %d: run %zu of %zu has %zu ops", code, i, nr, ops[i]);
        free(sp.plain.p);
        free(sp.coded.p);
    }
}

/* In a version 2 stream type 0x18 is unassigned: skipped by its length. */
Test(format_runs, version_2_skips_type_0x18)
{
    mw_decoder d;
    mw_decoder_init(&d);
    uint8_t pre[MW_PREAMBLE_LEN];
    mw_enc_preamble(pre, sizeof pre);
    pre[8] = 2;
    cr_assert_eq(mw_decode_preamble(&d, pre, sizeof pre, NULL), MW_OK);
    static const uint8_t payload[] = { 1, 0, 0, 0, 0, 9 };
    uint8_t b[32];
    size_t n = mw_enc_raw(b, sizeof b, MW_REC_CODED_RUN, payload, sizeof payload);
    mw_record rec;
    size_t used;
    cr_assert_eq(mw_decode_record(&d, b, n, 0, &rec, &used, NULL), MW_OK);
    cr_assert_eq(used, n);
    cr_assert_eq(d.run.left, 0);
    mw_decoder_free(&d);
}

/* ---- REPEAT (version 6, TRACE-FORMAT.md 2.5, formats/mw_repeat.c) -------------------- */
/* Loops: each thread goes round a body of its own (allocations of fixed sizes, frees of
 * blocks a fixed number of allocations back), many times over, interrupted at random by
 * TIMEs, MARKs, allocations of other sizes, frees far back and other threads' frees; drained at
 * random points, each drain coded (code 1, as while records do not repeat) one time in
 * `coded_one_in` (0: never). */
static void generate_loops(stream_pair *sp, size_t steps, unsigned coded_one_in)
{
    static gthread th[NT];
    static struct { unsigned len, at; uint8_t op[64]; uint16_t v[64]; } body[NT];
    gen_start(th, sp);
    for (unsigned k = 0; k < NT; k++) {
        /* as many frees as allocations (the live set stays as big): op 0 allocates v bytes,
         * op 1 frees the live block v places from the latest */
        unsigned allocs = 1 + (unsigned)(rnd() % 30), len = 0, frees = 0;
        for (unsigned j = 0; j < allocs; j++) {
            body[k].op[len] = 0;
            body[k].v[len++] = (uint16_t)(16 + rnd() % 300);
            if (rnd() % 2) {
                body[k].op[len] = 1;
                body[k].v[len++] = (uint16_t)(rnd() % 3);
                frees++;
            }
        }
        for (; frees < allocs; frees++) {
            body[k].op[len] = 1;
            body[k].v[len++] = (uint16_t)(rnd() % 3);
        }
        body[k].len = len;
        body[k].at = 0;
    }
    uint8_t b[256];
    uint64_t clock = 0;
    for (size_t i = 0; i < steps; i++) {
        unsigned k = (unsigned)(rnd() % 64 < 60 ? 0 : rnd() % NT);
        gthread *t = &th[k];
        size_t n = 0;
        /* per 100 000 events: 5 interruptions (loops go round for thousands of events) */
        uint64_t r = rnd() % 100000;
        r = r < 99995 ? 0 : 990 + (r - 99995) * 2;
        if (t->nlive >= 4000) r = 995;   /* keep the live set bounded: free the oldest */
        if (r < 990) {
            unsigned j = body[k].at;
            body[k].at = (j + 1) % body[k].len;
            if (body[k].op[j] == 0 || t->nlive <= body[k].v[j]) {
                n = mw_enc_alloc_noaddr_hot(b, 0, body[k].op[j] == 0 ? body[k].v[j] : 7, 1, &t->last);
                t->live[t->nlive++] = ++t->seq;
            } else {
                size_t at = t->nlive - 1 - body[k].v[j];
                n = mw_enc_free(b, sizeof b, (mw_block_ref){ k, t->live[at] }, k, t->seq);
                memmove(&t->live[at], &t->live[at + 1], (t->nlive - at - 1) * sizeof t->live[0]);
                t->nlive--;
            }
        } else if (r < 993) {
            if (rnd() % 2) clock += 8388608;
            n = mw_enc_time(b, sizeof b, clock);
        } else if (r < 994) {
            n = mw_enc_mark(b, sizeof b, "m", 1);
        } else if (r < 996 && t->nlive) {
            size_t at = r == 995 ? 0 : (size_t)(rnd() % t->nlive);
            unsigned o = rnd() % 2 ? k : (k + 1) % NT;   /* its own thread, or another */
            n = mw_enc_free(b, sizeof b, (mw_block_ref){ k, t->live[at] }, o, th[o].seq);
            memmove(&t->live[at], &t->live[at + 1], (t->nlive - at - 1) * sizeof t->live[0]);
            t->nlive--;
            if (o != k) {
                put(&th[o].seg, b, n);
                n = 0;
            }
        } else {
            n = mw_enc_alloc_noaddr_hot(b, rnd() % 8 == 0, 1000 + rnd() % 5000, 1 + rnd() % 3, &t->last);
            t->live[t->nlive++] = ++t->seq;
        }
        if (n) put(&t->seg, b, n);
        if (rnd() % 5000 == 0) drain(t, k, sp, coded_one_in && rnd() % coded_one_in == 0);
    }
    for (unsigned k = 0; k < NT; k++) {
        drain(&th[k], k, sp, 0);
        free(th[k].seg.p);
    }
    mw_runs_flush(&g_cols, emit_buf, &sp->coded);
}

Test(format_runs, repeated_stretches_come_back_from_repeats)
{
    g_repeat_finder = 1;
    for (unsigned pass = 0; pass < 8; pass++) {
        g_keep_open = pass & 1;
        g_drop_time = (pass >> 1) & 1;
        stream_pair sp;
        g_repeats = 0;
        generate_loops(&sp, 400000, pass < 4 ? 0 : 3);
        /* both decoded (REPEATs counted in g_repeats); with TIMEs that repeat the stream's
         * time left out, every other event at the same time */
        size_t runs, tp, tc;
        if (g_drop_time) same_timed_events(&sp, &tp, &tc);
        else same_events(&sp, &runs);
        cr_assert_gt(g_repeats, 5, "pass %u: %zu REPEATs", pass, g_repeats);
        cr_assert_eq(g_repeats, g_cols.rep.written, "pass %u", pass);
        /* what they are for: the loops' records written once per stretch of repeats, and
         * less after compression too (passes 4 on mix in coded runs: only about decoding) */
        if (pass < 4) {
            cr_assert_lt(sp.coded.n * 4, sp.plain.n, "pass %u: %zu bytes from %zu", pass, sp.coded.n, sp.plain.n);
            size_t zc = zsize(&sp.coded), zp = zsize(&sp.plain);
            cr_assert_lt(zc, zp, "pass %u: compressed %zu bytes, plain %zu", pass, zc, zp);
        }
        /* the same through the reader */
        char err[256];
        mw_reader *r = mw_reader_open_mem(sp.coded.p, sp.coded.n, err, sizeof err);
        cr_assert_not_null(r, "%s", err);
        mw_record rec;
        int st;
        size_t allocs = 0;
        while ((st = mw_reader_next(r, &rec, NULL)) == MW_OK) allocs += rec.type == MW_REC_ALLOC;
        cr_assert_eq(st, MW_EOF, "%s", mw_reader_error(r));
        cr_assert_gt(allocs, 100000);
        mw_reader_close(r);
        free(sp.plain.p);
        free(sp.coded.p);
    }
    /* the finder off (as before version 6): no REPEAT */
    g_repeat_finder = 0;
    g_drop_time = 0;
    stream_pair sp;
    g_repeats = 0;
    generate_loops(&sp, 100000, 0);
    size_t runs;
    same_events(&sp, &runs);
    cr_assert_eq(g_repeats, 0);
    free(sp.plain.p);
    free(sp.coded.p);
    g_keep_open = g_drop_time = 0;
}

/* The finder by itself: a stretch repeated to just under MW_REP_MIN_BYTES stays plain (the
 * output is the input), one repeated past it is one REPEAT, its leftover part of a stretch
 * plain after it; fed one record per call or all at once, the output is the same. */
static void feed_records(mw_repeat *f, const uint8_t *p, size_t n, int one_by_one, buf *out)
{
    if (!one_by_one) {
        mw_repeat_feed(f, f, p, n, emit_buf, out);
    } else {
        for (size_t at = 0, len; at < n; at += len) {
            cr_assert_eq(mw_record_size(p + at, n - at, &len), 0);
            mw_repeat_feed(f, f, p + at, len, emit_buf, out);
        }
    }
    mw_repeat_flush(f, emit_buf, out);
}

Test(format_runs, repeat_finder_thresholds_and_drains)
{
    static mw_repeat f;
    uint8_t stretch[64];
    mw_alloc_last last = { 1, 1, 1 };
    size_t sl = 0;
    for (unsigned j = 0; j < 20; j++) sl += mw_enc_alloc_noaddr_hot(stretch + sl, 1, 16 + j, 1, &last);
    cr_assert_eq(sl, 40);
    for (int one = 0; one < 2; one++) {
        /* 102 stretches: 4080 bytes, under the 4096 a REPEAT needs */
        buf in = { 0 }, out = { 0 };
        for (unsigned i = 0; i < 102; i++) put(&in, stretch, sl);
        mw_repeat_init(&f);
        feed_records(&f, in.p, in.n, one, &out);
        cr_assert_eq(f.written, 0);
        cr_assert_eq(out.n, in.n);
        cr_assert_eq(memcmp(out.p, in.p, in.n), 0);
        /* 1000 stretches and half of one more: the first as is, a REPEAT of 999, the half */
        in.n = out.n = 0;
        for (unsigned i = 0; i < 1000; i++) put(&in, stretch, sl);
        put(&in, stretch, sl / 2);
        mw_repeat_init(&f);
        feed_records(&f, in.p, in.n, one, &out);
        cr_assert_eq(f.written, 1, "one by one %d", one);
        cr_assert_eq(out.n, sl + 4 + sl + sl / 2, "%zu bytes", out.n);
        cr_assert_eq(memcmp(out.p, stretch, sl), 0);
        cr_assert_eq(out.p[sl], MW_REC_REPEAT);
        cr_assert_eq(out.p[sl + 1], 2 + sl);          /* payload: count (2 bytes), the stretch */
        cr_assert_eq(out.p[sl + 2], 0xe7);           /* 999 */
        cr_assert_eq(out.p[sl + 3], 0x07);
        cr_assert_eq(memcmp(out.p + sl + 4, stretch, sl), 0);
        cr_assert_eq(memcmp(out.p + 2 * sl + 4, stretch, sl / 2), 0);
        free(in.p);
        free(out.p);
    }
}

Test(format_runs, repeat_records_and_their_bounds)
{
    char err[256];
    size_t a, f, rp;
    uint8_t rec[MW_REPEAT_MAX_PATTERN + 64], pat[MW_REPEAT_MAX_PATTERN + 1];
    /* ALLOC_SAME 10, FREE_NEAR 0 (it), ALLOC_SAME 20: three times */
    const uint8_t body[] = { MW_REC_ALLOC_SAME, 10, MW_REC_FREE_NEAR, MW_REC_ALLOC_SAME, 20 };
    size_t n = mw_enc_repeat(rec, sizeof rec, 3, body, sizeof body);
    cr_assert_eq(n, 1 + 1 + 1 + sizeof body);
    cr_assert_eq(decode_tail(MW_FORMAT_VERSION, 1, rec, n, err, sizeof err, &a, &f, &rp), MW_EOF, "%s", err);
    cr_assert_eq(a, 1 + 6);
    cr_assert_eq(f, 3);
    cr_assert_eq(rp, 1);
    /* before version 6 the type is unassigned: skipped by its length */
    cr_assert_eq(decode_tail(5, 1, rec, n, err, sizeof err, &a, &f, &rp), MW_EOF, "%s", err);
    cr_assert_eq(a, 1);
    cr_assert_eq(f, 0);
    cr_assert_eq(rp, 1);   /* as a record of a type unknown to the version */
    /* the encoder's bounds */
    memset(pat, 0x80, sizeof pat);   /* FREE_NEARs */
    cr_assert_eq(mw_enc_repeat(rec, sizeof rec, 0, body, sizeof body), 0);
    cr_assert_eq(mw_enc_repeat(rec, sizeof rec, 1, body, 0), 0);
    cr_assert_gt(mw_enc_repeat(rec, sizeof rec, 1, pat, MW_REPEAT_MAX_PATTERN), 0);
    cr_assert_eq(mw_enc_repeat(rec, sizeof rec, 1, pat, MW_REPEAT_MAX_PATTERN + 1), 0);
    cr_assert_gt(mw_enc_repeat(rec, sizeof rec, MW_REPEAT_MAX_BYTES / 4, pat, 4), 0);
    cr_assert_eq(mw_enc_repeat(rec, sizeof rec, MW_REPEAT_MAX_BYTES / 4 + 1, pat, 4), 0);
    cr_assert_eq(mw_enc_repeat(rec, 7, 3, body, sizeof body), 0);
    /* forged ones: corruption, named */
    static const uint8_t header[] = { MW_REC_HEADER, 1, 6 };
    static const uint8_t run[] = { MW_REC_CODED_RUN, 5, 0, 0, 0, 0, 0 };
    static const uint8_t nested[] = { MW_REC_REPEAT, 3, 1, MW_REC_ALLOC_SAME, 9 };
    static const uint8_t cut[] = { MW_REC_ALLOC_SAME, 10, MW_REC_MARK, 5, 1 };
    static const uint8_t cut_uv[] = { MW_REC_ALLOC_SAME, 0x88 };
    static const uint8_t far[] = { MW_REC_FREE_NEAR + 9 };   /* distance 9 of 1 block */
    const struct { const uint8_t *p; size_t n; uint64_t count; const char *what; } cases[] = {
        { body, 0, 1, "no records or a count of 0" },
        { body, sizeof body, 0, "no records or a count of 0" },
        { header, sizeof header, 1, "a HEADER, CODED_RUN or REPEAT among" },
        { run, sizeof run, 1, "a HEADER, CODED_RUN or REPEAT among" },
        { nested, sizeof nested, 1, "a HEADER, CODED_RUN or REPEAT among" },
        { cut, sizeof cut, 1, "cut short or malformed" },
        { cut_uv, sizeof cut_uv, 1, "cut short or malformed" },
        { pat, MW_REPEAT_MAX_PATTERN + 1, 1, "over the limits" },
        { body, 1, MW_REPEAT_MAX_BYTES + 1ull, "over the limits" },
        { far, sizeof far, 2, "bad block reference in FREE" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t payload[MW_REPEAT_MAX_PATTERN + 16], *q = mw_put_uv(payload, cases[i].count);
        memcpy(q, cases[i].p, cases[i].n);
        n = mw_enc_raw(rec, sizeof rec, MW_REC_REPEAT, payload, (size_t)(q - payload) + cases[i].n);
        cr_assert_gt(n, 0);
        int st = decode_tail(MW_FORMAT_VERSION, 1, rec, n, err, sizeof err, &a, &f, &rp);
        cr_assert_eq(st, MW_CORRUPT, "case %zu: status %d (%s)", i, st, err);
        cr_assert(strstr(err, cases[i].what), "case %zu: %s", i, err);
        /* the offset named is the REPEAT's: after preamble 12, HEADER and the ALLOC */
        cr_assert(strstr(err, "at stream offset"), "case %zu: %s", i, err);
    }
    /* a malformed count */
    static const uint8_t bad_count[] = { MW_REC_REPEAT, 11, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f };
    cr_assert_eq(decode_tail(MW_FORMAT_VERSION, 1, bad_count, sizeof bad_count, err, sizeof err, &a, &f, &rp), MW_CORRUPT);
    cr_assert(strstr(err, "malformed count in REPEAT"), "%s", err);
}

/* The finder's output with its REPEATs written out as the records they stand for. */
static void expand_repeats(const buf *in, buf *out)
{
    out->n = 0;
    for (size_t at = 0, len; at < in->n; at += len) {
        cr_assert_eq(mw_record_size(in->p + at, in->n - at, &len), 0, "at %zu of %zu", at, in->n);
        if (in->p[at] != MW_REC_REPEAT) {
            put(out, in->p + at, len);
            continue;
        }
        const uint8_t *q = in->p + at + 1, *end = in->p + at + len;
        uint64_t plen, count;
        cr_assert_eq(mw_get_uv(&q, end, &plen), 0);
        cr_assert_eq(mw_get_uv(&q, end, &count), 0);
        cr_assert_gt(count, 1);
        for (uint64_t i = 0; i < count; i++) put(out, q, (size_t)(end - q));
    }
}

/* Random streams of a few kinds of records, repeating at random, fed in random pieces with
 * flushes between some: the output stands for exactly the input. */
Test(format_runs, repeat_finder_output_stands_for_its_input)
{
    static mw_repeat f;
    static const uint8_t kinds[][4] = { { MW_REC_ALLOC_SAME, 16 }, { MW_REC_ALLOC_SAME, 17 }, { MW_REC_FREE_NEAR },
                                        { MW_REC_FREE_NEAR + 1 }, { MW_REC_TIME, 1, 0 }, { MW_REC_TIME, 1, 5 },
                                        { MW_REC_MARK, 2, 1, 'm' } };
    static const size_t klen[] = { 2, 2, 1, 1, 3, 3, 4 };
    for (unsigned pass = 0; pass < 200; pass++) {
        buf in = { 0 }, out = { 0 }, back = { 0 };
        /* stretches of 1..40 records, each repeated 1..300 times, over and over */
        size_t target = 20000 + rnd() % 200000;
        while (in.n < target) {
            uint8_t st[40 * 4];
            size_t sl = 0, nrec = 1 + rnd() % (rnd() % 2 ? 4 : 40);
            for (size_t j = 0; j < nrec; j++) {
                unsigned k = (unsigned)(rnd() % 7);
                memcpy(st + sl, kinds[k], klen[k]);
                sl += klen[k];
            }
            for (uint64_t times = 1 + rnd() % 300; times; times--) put(&in, st, sl);
        }
        mw_repeat_init(&f);
        size_t at = 0;
        while (at < in.n) {
            size_t piece = 0, len;   /* whole records, 1..5000 bytes of them */
            size_t want = 1 + rnd() % 5000;
            while (at + piece < in.n && piece < want) {
                cr_assert_eq(mw_record_size(in.p + at + piece, in.n - at - piece, &len), 0);
                piece += len;
            }
            mw_repeat_feed(&f, f.hist, in.p + at, piece, emit_buf, &out);
            at += piece;
            if (rnd() % 4 == 0) mw_repeat_flush(&f, emit_buf, &out);
        }
        mw_repeat_flush(&f, emit_buf, &out);
        expand_repeats(&out, &back);
        cr_assert_eq(back.n, in.n, "pass %u: %zu bytes back of %zu (%zu REPEATs)", pass, back.n, in.n, (size_t)f.written);
        cr_assert_eq(memcmp(back.p, in.p, in.n), 0, "pass %u", pass);
        free(in.p);
        free(out.p);
        free(back.p);
    }
}
