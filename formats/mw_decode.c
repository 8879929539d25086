/*
 * mw_decode.c — the bounds-checked record decoder (analyzer side; the shim never links it).
 *
 * mw_decode_record is the analyzer's hot loop, so it decodes straight out of the caller's
 * buffer (byte strings point into it), allocates nothing per record, and reads varints with an
 * inlined one-byte fast path. Every varint is limited to 10 bytes, every length is checked
 * against the remaining payload, and a payload longer than MW_MAX_RECORD_PAYLOAD is
 * corruption. A record's known fields that overrun its payload make it MW_CORRUPT (d->err
 * names the record type and the stream offset); bytes past the known fields are ignored and
 * unknown record types are returned with only type/offset/length, so newer writers can add
 * fields and records without breaking this reader.
 *
 * Cross-record state (mw_decoder): the current thread (THREAD_SWITCH), and per thread index
 * the ALLOC/REALLOC address base and sequence counter, in arrays grown with realloc. The
 * decoder resolves FREE/REALLOC block references to absolute (tidx, seq), returns the implicit
 * sequence number of each ALLOC/REALLOC, and turns address deltas into absolute addresses.
 * Version 2 streams also have the compact ALLOC_SAME and FREE_NEAR forms (no length field),
 * decoded here into ordinary ALLOC and FREE records, with the per-thread kind/stack of the last
 * full ALLOC. State is only changed by records that decode completely.
 */
#include "mw_format.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- payload cursor --------------------------------------------------------------------- */
typedef struct cur {
    const uint8_t *p, *end;
    int bad; /* a field overran the payload or a varint was malformed */
} cur;

/* Slow path of a varint (mw_get_uv): marks the cursor bad when cut short or malformed. */
static uint64_t uv_slow(cur *c)
{
    uint64_t v;
    if (mw_get_uv(&c->p, c->end, &v) == 0) return v;
    c->bad = 1;
    c->p = c->end;
    return 0;
}

static inline __attribute__((always_inline)) uint64_t rd_uv(cur *c)
{
    const uint8_t *p = c->p;
    if (__builtin_expect(c->end - p >= 2, 1)) { /* 1- and 2-byte varints inline */
        if (p[0] < 0x80) {
            c->p = p + 1;
            return p[0];
        }
        if (p[1] < 0x80) {
            c->p = p + 2;
            return (uint64_t)(p[0] & 0x7f) | (uint64_t)p[1] << 7;
        }
    } else if (p < c->end && p[0] < 0x80) {
        c->p = p + 1;
        return p[0];
    }
    return uv_slow(c);
}

static inline int64_t rd_sv(cur *c) { return mw_unzigzag(rd_uv(c)); }

static inline mw_bytes rd_bytes(cur *c)
{
    mw_bytes b = { NULL, 0 };
    uint64_t n = rd_uv(c);
    if (n > (uint64_t)(c->end - c->p)) {
        c->bad = 1;
        c->p = c->end;
        return b;
    }
    b.ptr = c->p;
    b.len = (size_t)n;
    c->p += n;
    return b;
}

/* ---- decoder state ---------------------------------------------------------------------- */
void mw_decoder_init(mw_decoder *d)
{
    memset(d, 0, sizeof *d);
}

void mw_decoder_free(mw_decoder *d)
{
    free(d->prev_addr);
    free(d->seq);
    free(d->sql_base);
    free(d->alloc_last);
    free(d->node_last);
    if (d->win)
        for (size_t i = 0; i < d->nthreads; i++) free(d->win[i]);
    free(d->win);
    free(d->run.buf);
    d->win = NULL;
    d->run.buf = NULL;
    d->run.cap = 0;
    d->run.left = 0;
    d->rep.left = 0;
    d->prev_addr = d->seq = d->sql_base = NULL;
    d->alloc_last = NULL;
    d->node_last = NULL;
    d->nthreads = 0;
}

/* Grows one per-thread array from old to n elements, the new ones zeroed; 0 on success. */
static int grow_zeroed(void **arr, size_t elem, size_t old, size_t n)
{
    unsigned char *p = realloc(*arr, n * elem);
    if (!p) return -1;
    memset(p + old * elem, 0, (n - old) * elem);
    *arr = p;
    return 0;
}

/* Makes tidx addressable in the per-thread arrays; 0 on success. */
static int ensure_thread(mw_decoder *d, uint64_t tidx)
{
    if (tidx < d->nthreads) return 0;
    if (tidx > MW_MAX_TIDX) return -1;
    size_t o = d->nthreads, n = o ? o : 16;
    while (n <= tidx) n *= 2;
    if (grow_zeroed((void **)&d->prev_addr, sizeof *d->prev_addr, o, n) ||
        grow_zeroed((void **)&d->seq, sizeof *d->seq, o, n) ||
        grow_zeroed((void **)&d->sql_base, sizeof *d->sql_base, o, n) ||
        grow_zeroed((void **)&d->alloc_last, sizeof *d->alloc_last, o, n) ||
        grow_zeroed((void **)&d->node_last, sizeof *d->node_last, o, n) ||
        grow_zeroed((void **)&d->win, sizeof *d->win, o, n))
        return -1;
    d->nthreads = n;
    return 0;
}

static int corrupt(mw_decoder *d, const char *what, unsigned type, uint64_t off)
{
    snprintf(d->err, sizeof d->err, "corrupt trace: %s in %s record (type 0x%02x) at stream offset %llu",
             what, mw_record_type_name(type), type, (unsigned long long)off);
    return MW_CORRUPT;
}

int mw_decode_preamble(mw_decoder *d, const uint8_t *p, size_t n, uint32_t *version)
{
    size_t k = n < MW_MAGIC_LEN ? n : MW_MAGIC_LEN;
    if (memcmp(p, MW_MAGIC, k) != 0) {
        snprintf(d->err, sizeof d->err,
                 "not a memwatch trace: bad magic at stream offset 0 (expected \"MEMWATCH\")");
        return MW_CORRUPT;
    }
    if (n < MW_PREAMBLE_LEN) return MW_NEED_MORE;
    uint32_t v = (uint32_t)p[8] | ((uint32_t)p[9] << 8);
    if (version) *version = v;
    d->version = v;
    if (v == 0) {
        snprintf(d->err, sizeof d->err,
                 "corrupt trace: format version 0 in the preamble at stream offset 8");
        return MW_CORRUPT;
    }
    if (v > MW_FORMAT_VERSION) {
        snprintf(d->err, sizeof d->err, "trace format version %u is newer than this analyzer (%u)",
                 v, MW_FORMAT_VERSION);
        return MW_BAD_VERSION;
    }
    return MW_OK;
}

/* The current thread's block dist ALLOC/REALLOC records back (own-thread form, FREE_NEAR). */
static inline int own_ref(const mw_decoder *d, uint64_t dist, mw_block_ref *ref)
{
    uint64_t have = d->cur_tidx < d->nthreads ? d->seq[d->cur_tidx] : 0;
    if (dist > have) return -1;
    ref->tidx = d->cur_tidx;
    ref->seq = have - dist;
    return 0;
}

/* The stream's format version; 0 (no preamble seen) decodes as the current one. */
static inline uint32_t ver(const mw_decoder *d) { return d->version ? d->version : MW_FORMAT_VERSION; }

/* Version 3: the current thread's rank window (allocated on first use), NULL without memory
 * or in older streams. */
static mw_window *cur_win(mw_decoder *d)
{
    if (ver(d) < 3 || d->cur_tidx >= d->nthreads) return NULL;
    mw_window **w = &d->win[d->cur_tidx];
    if (!*w) *w = calloc(1, sizeof **w);
    return *w;
}

/* An own-thread reference (own form, FREE_NEAR, run ops) freed block seq: the window forgets
 * it. Absolute-form references never touch the window (TRACE-FORMAT.md 2.4). */
static inline void own_freed(mw_decoder *d, uint64_t seq)
{
    if (ver(d) >= 3 && d->cur_tidx < d->nthreads && d->win[d->cur_tidx])
        mw_win_free(d->win[d->cur_tidx], seq);
}

/* Resolves a FREE/REALLOC block reference (see mw_enc_free) against the current thread.
 * *own: the reference had the own-thread form. */
static inline int rd_ref(cur *c, mw_decoder *d, mw_block_ref *ref, int *own)
{
    uint64_t a = rd_uv(c);
    *own = !(a & 1);
    if (a & 1) {
        ref->tidx = a >> 1;
        ref->seq = rd_uv(c);
        return ref->tidx > MW_MAX_TIDX ? -1 : 0;
    }
    return own_ref(d, a >> 1, ref);
}

/* A new block in the current thread's stream (ALLOC, REALLOC): its absolute address from the
 * delta (when the trace records addresses) and its implicit sequence number. Returns nonzero
 * when the thread table cannot grow. */
static inline int next_block(mw_decoder *d, int has_addr, int64_t delta, uint64_t *addr,
                             uint64_t *seq_out)
{
    if (d->cur_tidx >= d->nthreads && ensure_thread(d, d->cur_tidx)) return -1;
    *addr = 0;
    if (has_addr) {
        *addr = d->prev_addr[d->cur_tidx] + (uint64_t)delta;
        d->prev_addr[d->cur_tidx] = *addr;
    }
    if (ver(d) >= 3) {
        mw_window *w = cur_win(d);
        if (!w) return -1;
        mw_win_new(w);
    }
    uint64_t s = ++d->seq[d->cur_tidx];
    if (seq_out) *seq_out = s;
    return 0;
}

/* The version 2 compact forms: FREE_NEAR (one byte) and ALLOC_SAME (type + uv size). */
static int decode_compact(mw_decoder *d, const uint8_t *p, size_t n, uint64_t stream_offset,
                          mw_record *rec, size_t *used, uint64_t *seq_out)
{
    unsigned type = p[0];
    rec->offset = stream_offset;
    if (type >= MW_REC_FREE_NEAR) {
        if (own_ref(d, type - MW_REC_FREE_NEAR, &rec->u.free.ref))
            return corrupt(d, "bad block reference", type, stream_offset);
        own_freed(d, rec->u.free.ref.seq);
        rec->type = MW_REC_FREE;
        rec->length = 0;
        *used = 1;
        return MW_OK;
    }
    cur c = { p + 1, p + (n < 11 ? n : 11), 0 };
    uint64_t size = rd_uv(&c);
    if (c.bad) {
        if (n < 11) return MW_NEED_MORE;
        return corrupt(d, "malformed size", type, stream_offset);
    }
    if (!(d->hflags & MW_HF_NO_ADDRESSES))
        return corrupt(d, "compact form in a trace with addresses", type, stream_offset);
    if (d->cur_tidx >= d->nthreads || !d->alloc_last[d->cur_tidx].valid)
        return corrupt(d, "no earlier ALLOC in this thread", type, stream_offset);
    const mw_alloc_last *last = &d->alloc_last[d->cur_tidx];
    uint64_t addr;
    if (next_block(d, 0, 0, &addr, seq_out))
        return corrupt(d, "thread table exhausted", type, stream_offset);
    rec->type = MW_REC_ALLOC;
    rec->length = (uint64_t)(c.p - p - 1);
    rec->u.alloc.kind = last->kind;
    rec->u.alloc.size = size;
    rec->u.alloc.stack = last->stack;
    rec->u.alloc.addr = 0;
    *used = (size_t)(c.p - p);
    return MW_OK;
}

/* ---- CODED_RUN (version 3; op FREE_STEP from version 4, STEP_AGAIN from 5; TRACE-FORMAT.md 2.4) */
/* Starts expanding a run: its columns are copied (the caller's buffer does not outlive this
 * call) and its events are returned by the next calls, before any further input. */
static int run_begin(mw_decoder *d, cur *c, mw_record *rec, uint64_t stream_offset)
{
    uint64_t n_ops = rd_uv(c), n_rs = rd_uv(c), n_ss = rd_uv(c), n_raw = rd_uv(c), n_misc = rd_uv(c);
    if (c->bad) return corrupt(d, "fields overrun the payload or a varint is malformed", MW_REC_CODED_RUN, stream_offset);
    uint64_t room = (uint64_t)(c->end - c->p), need = 0;
    const uint64_t lens[5] = { n_ops, n_rs, n_ss, n_raw, n_misc };
    for (unsigned i = 0; i < 5; i++) {
        if (lens[i] > room - need)
            return corrupt(d, "column lengths overrun the payload", MW_REC_CODED_RUN, stream_offset);
        need += lens[i];
    }
    if (d->cur_tidx >= d->nthreads && ensure_thread(d, d->cur_tidx))
        return corrupt(d, "thread table exhausted", MW_REC_CODED_RUN, stream_offset);
    if (need > d->run.cap) {
        uint8_t *b = realloc(d->run.buf, (size_t)need);
        if (!b) return corrupt(d, "out of memory for the run's columns", MW_REC_CODED_RUN, stream_offset);
        d->run.buf = b;
        d->run.cap = (size_t)need;
    }
    if (need) memcpy(d->run.buf, c->p, (size_t)need);
    /* a run with empty columns may come before any buffer exists: point them at a static
     * byte, not at NULL (NULL + 0 is undefined behaviour, UBSan under `make fuzz` said so) */
    static const uint8_t no_columns[1];
    const uint8_t *q = need ? d->run.buf : no_columns;
    d->run.ops = q;
    d->run.rs = q += n_ops;
    d->run.rs_end = d->run.ss = q += n_rs;
    d->run.ss_end = d->run.raw = q += n_ss;
    d->run.raw_end = d->run.misc = q += n_raw;
    d->run.misc_end = q + n_misc;
    d->run.acc = 0;
    d->run.nacc = 0;
    d->run.offset = stream_offset;
    d->run.left = n_ops;
    d->run.has_step = 0;
    d->run.again = 0;
    rec->u.coded_run.ops = n_ops;
    return MW_OK;
}

/* e extra bits (at most 29) from the bit column, least significant first. */
static int run_bits(mw_decoder *d, unsigned e, uint64_t *v)
{
    while (d->run.nacc < e) {
        if (d->run.raw >= d->run.raw_end) return -1;
        d->run.acc |= (uint64_t)*d->run.raw++ << d->run.nacc;
        d->run.nacc += 8;
    }
    *v = d->run.acc & ((1ull << e) - 1);
    d->run.acc >>= e;
    d->run.nacc -= e;
    return 0;
}

static int run_misc(mw_decoder *d, uint64_t *v)
{
    cur m = { d->run.misc, d->run.misc_end, 0 };
    *v = rd_uv(&m);
    d->run.misc = m.p;
    return m.bad ? -1 : 0;
}

/* The value behind the next symbol of a column (mw_runs.h). */
static int run_value(mw_decoder *d, const uint8_t **col, const uint8_t *end, uint64_t *v)
{
    if (*col >= end) return -1;
    unsigned sym = *(*col)++, e;
    if (sym == MW_SYM_ESC) return run_misc(d, v);
    if (mw_sym_extra_bits(sym, &e)) return -1;
    uint64_t extra = 0;
    if (e && run_bits(d, e, &extra)) return -1;
    *v = mw_sym_value(sym, e, extra);
    return 0;
}

static int run_corrupt(mw_decoder *d, const char *what)
{
    d->run.left = 0;
    d->run.again = 0;
    return corrupt(d, what, MW_REC_CODED_RUN, d->run.offset);
}

/* The run's next event, as an ordinary record of the current thread. */
static int run_next(mw_decoder *d, mw_record *rec, size_t *used, uint64_t *seq_out)
{
    unsigned op = *d->run.ops;
    uint64_t v;
    rec->offset = d->run.offset;
    rec->length = 0;
    *used = 0;
    switch (op) {
    case MW_OP_FREE_RANK: {
        mw_window *w = d->win[d->cur_tidx];
        if (run_value(d, &d->run.rs, d->run.rs_end, &v)) return run_corrupt(d, "rank column overrun or bad symbol");
        uint64_t s;
        if (!w || mw_win_select(w, v, &s)) return run_corrupt(d, "no live block of that rank");
        mw_win_free(w, s);
        rec->type = MW_REC_FREE;
        rec->u.free.ref = (mw_block_ref){ d->cur_tidx, s };
        break;
    }
    case MW_OP_FREE_DIST:
    case MW_OP_FREE_STEP:
    case MW_OP_STEP_AGAIN: {
        mw_window *w = d->win[d->cur_tidx];
        if (op == MW_OP_FREE_DIST) {
            if (run_misc(d, &v)) return run_corrupt(d, "misc column overrun");
        } else {
            /* version 4: a step from the block the last FREE_DIST / FREE_STEP named; version
             * 5: op 5 is a count of frees, each the run's last op 4 step again */
            if (op == MW_OP_FREE_STEP) {
                if (ver(d) < 4) return run_corrupt(d, "unknown op");
                if (run_value(d, &d->run.rs, d->run.rs_end, &v)) return run_corrupt(d, "rank column overrun or bad symbol");
                d->run.step_z = v;
                d->run.has_step = 1;
            } else {
                if (ver(d) < 5) return run_corrupt(d, "unknown op");
                if (!d->run.again) {
                    uint64_t n;
                    if (run_misc(d, &n)) return run_corrupt(d, "misc column overrun");
                    /* each repeat names another block (a step of 0 is refused), so a count
                     * over the thread's blocks cannot be right: the expansion stays bounded
                     * by what the stream created */
                    if (!d->run.has_step || d->run.step_z == 0)
                        return run_corrupt(d, "op 5 without a step to repeat");
                    if (n == 0 || n > d->seq[d->cur_tidx]) return run_corrupt(d, "bad repeat count");
                    d->run.again = n;
                }
                v = d->run.step_z;
            }
            uint64_t s = (w ? w->far : 0) + (uint64_t)mw_unzigzag(v), top = d->seq[d->cur_tidx];
            if (s == 0 || s > top) return run_corrupt(d, "bad block reference");
            v = top - s;
        }
        if (own_ref(d, v, &rec->u.free.ref)) return run_corrupt(d, "bad block reference");
        if (w) w->far = rec->u.free.ref.seq;
        own_freed(d, rec->u.free.ref.seq);
        rec->type = MW_REC_FREE;
        if (op == MW_OP_STEP_AGAIN && --d->run.again) return MW_OK;   /* the op goes on */
        break;
    }
    case MW_OP_ALLOC: {
        if (run_value(d, &d->run.ss, d->run.ss_end, &v)) return run_corrupt(d, "size column overrun or bad symbol");
        if (!(d->hflags & MW_HF_NO_ADDRESSES)) return run_corrupt(d, "compact ALLOC in a trace with addresses");
        const mw_alloc_last *last = &d->alloc_last[d->cur_tidx];
        if (!last->valid) return run_corrupt(d, "no earlier ALLOC in this thread");
        uint64_t addr;
        if (next_block(d, 0, 0, &addr, seq_out)) return run_corrupt(d, "thread table exhausted");
        rec->type = MW_REC_ALLOC;
        rec->u.alloc.kind = last->kind;
        rec->u.alloc.size = v;
        rec->u.alloc.stack = last->stack;
        rec->u.alloc.addr = 0;
        break;
    }
    case MW_OP_TIME:
        if (run_misc(d, &v)) return run_corrupt(d, "misc column overrun");
        rec->type = MW_REC_TIME;
        rec->u.time.t_ns = v;
        break;
    default:
        return run_corrupt(d, "unknown op");
    }
    d->run.ops++;
    d->run.left--;
    return MW_OK;
}

/* A REACH_C section of count values: as deltas (count svs) or as runs (uv len - 1, sv
 * delta, the lens adding up to count). -1: runs that overrun the count; an overrun of the
 * payload sets c->bad. Each pass reads at least a byte: bounded by the payload. */
static int reach_c_section(cur *c, uint64_t count, int runs)
{
    if (!runs) {
        for (uint64_t i = 0; i < count && !c->bad; i++) (void)rd_uv(c);
        return 0;
    }
    for (uint64_t covered = 0; covered < count && !c->bad;) {
        uint64_t lm1 = rd_uv(c);
        (void)rd_uv(c);
        if (c->bad) break;
        if (lm1 >= count - covered) return -1;
        covered += lm1 + 1;
    }
    return 0;
}

static int decode_one(mw_decoder *d, const uint8_t *p, size_t n, uint64_t stream_offset,
                      mw_record *rec, size_t *used, uint64_t *seq_out);

/* ---- REPEAT (version 6, TRACE-FORMAT.md 2.5) ------------------------------------------- */
/* Starts a REPEAT: its records are checked to be whole records of the kinds a pattern may
 * hold, copied (the caller's buffer does not outlive this call), and returned by the next
 * calls, count times over, before any further input. */
static int rep_begin(mw_decoder *d, cur *c, mw_record *rec, uint64_t stream_offset)
{
    uint64_t count = rd_uv(c);
    if (c->bad) return corrupt(d, "malformed count", MW_REC_REPEAT, stream_offset);
    size_t len = (size_t)(c->end - c->p);
    if (count == 0 || len == 0) return corrupt(d, "no records or a count of 0", MW_REC_REPEAT, stream_offset);
    if (len > MW_REPEAT_MAX_PATTERN || count > MW_REPEAT_MAX_BYTES / len)
        return corrupt(d, "records or count over the limits", MW_REC_REPEAT, stream_offset);
    for (size_t at = 0, sz; at < len; at += sz) {
        unsigned t = c->p[at];
        if (mw_record_size(c->p + at, len - at, &sz))
            return corrupt(d, "its last record is cut short or malformed", MW_REC_REPEAT, stream_offset);
        if (t == MW_REC_HEADER || t == MW_REC_CODED_RUN || t == MW_REC_REPEAT)
            return corrupt(d, "a HEADER, CODED_RUN or REPEAT among its records", MW_REC_REPEAT, stream_offset);
    }
    memcpy(d->rep.buf, c->p, len);
    d->rep.len = len;
    d->rep.pos = 0;
    d->rep.left = count;
    d->rep.offset = stream_offset;
    rec->u.repeat.count = count;
    rec->u.repeat.bytes = len;
    return MW_OK;
}

/* The next record of the REPEAT being replayed. */
static int rep_next(mw_decoder *d, mw_record *rec, size_t *used, uint64_t *seq_out)
{
    size_t u = 0;
    int st = decode_one(d, d->rep.buf + d->rep.pos, d->rep.len - d->rep.pos, d->rep.offset, rec, &u, seq_out);
    if (st != MW_OK) {
        d->rep.left = 0;
        /* whole records were checked at the start: only a record's fields can be wrong */
        return st == MW_NEED_MORE ? corrupt(d, "a record cut short", MW_REC_REPEAT, d->rep.offset) : st;
    }
    d->rep.pos += u;
    if (d->rep.pos >= d->rep.len) {
        d->rep.pos = 0;
        d->rep.left--;
    }
    *used = 0;
    return MW_OK;
}

int mw_decode_record(mw_decoder *d, const uint8_t *p, size_t n, uint64_t stream_offset,
                     mw_record *rec, size_t *used, uint64_t *seq_out)
{
    if (d->run.left) return run_next(d, rec, used, seq_out);
    if (d->rep.left) return rep_next(d, rec, used, seq_out);
    return decode_one(d, p, n, stream_offset, rec, used, seq_out);
}

static int decode_one(mw_decoder *d, const uint8_t *p, size_t n, uint64_t stream_offset,
                      mw_record *rec, size_t *used, uint64_t *seq_out)
{
    if (n < 1) return MW_NEED_MORE;
    unsigned type = p[0];
    if ((type >= MW_REC_FREE_NEAR || type == MW_REC_ALLOC_SAME) && d->version != 1)
        return decode_compact(d, p, n, stream_offset, rec, used, seq_out);
    if (n < 2) return MW_NEED_MORE;
    /* payload length: a varint of at most 10 bytes right after the type byte */
    cur h = { p + 1, p + (n < 11 ? n : 11), 0 };
    uint64_t len = rd_uv(&h);
    if (h.bad) {
        /* with fewer than 10 length bytes available the varint was only cut short */
        if (n < 11) return MW_NEED_MORE;
        return corrupt(d, "malformed payload length", type, stream_offset);
    }
    if (len > MW_MAX_RECORD_PAYLOAD)
        return corrupt(d, "payload length over the 1 MiB limit", type, stream_offset);
    size_t hdr = (size_t)(h.p - p);
    if (n - hdr < len) return MW_NEED_MORE;

    cur c = { h.p, h.p + len, 0 };
    rec->type = (uint8_t)type;
    rec->offset = stream_offset;
    rec->length = len;
    *used = hdr + (size_t)len;

    switch (type) {
    case MW_REC_ALLOC: {
        uint64_t kind = rd_uv(&c), size = rd_uv(&c), stack = rd_uv(&c);
        int has_addr = !(d->hflags & MW_HF_NO_ADDRESSES);
        int64_t delta = has_addr ? rd_sv(&c) : 0;
        if (c.bad) break;
        uint64_t addr;
        if (next_block(d, has_addr, delta, &addr, seq_out))
            return corrupt(d, "thread table exhausted", type, stream_offset);
        rec->u.alloc.kind = kind;
        rec->u.alloc.size = size;
        rec->u.alloc.stack = stack;
        rec->u.alloc.addr = addr;
        d->alloc_last[d->cur_tidx] = (mw_alloc_last){ kind, stack, 1 };
        return MW_OK;
    }
    case MW_REC_FREE: {
        int own;
        if (rd_ref(&c, d, &rec->u.free.ref, &own))
            return corrupt(d, "bad block reference", type, stream_offset);
        if (c.bad) break;
        if (own) own_freed(d, rec->u.free.ref.seq);
        return MW_OK;
    }
    case MW_REC_REALLOC: {
        mw_block_ref old;
        int own;
        if (rd_ref(&c, d, &old, &own))
            return corrupt(d, "bad block reference", type, stream_offset);
        uint64_t size = rd_uv(&c), stack = rd_uv(&c);
        int has_addr = !(d->hflags & MW_HF_NO_ADDRESSES);
        int64_t delta = has_addr ? rd_sv(&c) : 0;
        if (c.bad) break;
        if (own) own_freed(d, old.seq);
        uint64_t addr;
        if (next_block(d, has_addr, delta, &addr, seq_out))
            return corrupt(d, "thread table exhausted", type, stream_offset);
        rec->u.realloc.old = old;
        rec->u.realloc.size = size;
        rec->u.realloc.stack = stack;
        rec->u.realloc.addr = addr;
        return MW_OK;
    }
    case MW_REC_THREAD_SWITCH: {
        uint64_t t = rd_uv(&c);
        if (c.bad) break;
        if (t > MW_MAX_TIDX)
            return corrupt(d, "thread index over the 2^20 limit", type, stream_offset);
        if (ensure_thread(d, t))
            return corrupt(d, "thread table exhausted", type, stream_offset);
        d->cur_tidx = t;
        rec->u.thread_switch.tidx = t;
        return MW_OK;
    }
    case MW_REC_STACK_NODE:
        rec->u.stack_node.id = rd_uv(&c);
        rec->u.stack_node.parent = rd_uv(&c);
        rec->u.stack_node.ip = rd_uv(&c);
        break;
    case MW_REC_STACK_NODE_D: {
        if (d->version == 1) return MW_OK; /* unassigned in version 1: an unknown record */
        int64_t did = rd_sv(&c);
        uint64_t back = rd_uv(&c);
        int64_t dip = rd_sv(&c);
        if (c.bad) break;
        if (d->cur_tidx >= d->nthreads && ensure_thread(d, d->cur_tidx))
            return corrupt(d, "thread table exhausted", type, stream_offset);
        mw_node_last *l = &d->node_last[d->cur_tidx];
        uint64_t id = l->id + 1 + (uint64_t)did;
        if (back > id) return corrupt(d, "parent after the node", type, stream_offset);
        rec->type = MW_REC_STACK_NODE;
        rec->u.stack_node.id = id;
        rec->u.stack_node.parent = id - back;
        rec->u.stack_node.ip = l->ip + (uint64_t)dip;
        *l = (mw_node_last){ id, rec->u.stack_node.ip };
        return MW_OK;
    }
    case MW_REC_TIME:
        rec->u.time.t_ns = rd_uv(&c);
        break;
    case MW_REC_HEADER: {
        uint64_t v = rd_uv(&c);
        rec->u.header.version = v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
        rec->u.header.pid = rd_uv(&c);
        rec->u.header.ppid = rd_uv(&c);
        rec->u.header.ptr_size = rd_uv(&c);
        rec->u.header.page_size = rd_uv(&c);
        rec->u.header.endian = rd_uv(&c);
        rec->u.header.start_realtime_ns = rd_uv(&c);
        rec->u.header.start_mono_ns = rd_uv(&c);
        rec->u.header.flags = rd_uv(&c);
        rec->u.header.exe = rd_bytes(&c);
        rec->u.header.argv = rd_bytes(&c);
        if (c.bad) break;
        d->hflags = rec->u.header.flags; /* says how ALLOC/REALLOC that follow are laid out */
        return MW_OK;
    }
    case MW_REC_END:
        rec->u.end.t_ns = rd_uv(&c);
        rec->u.end.lost_events = rd_uv(&c);
        rec->u.end.lost_bytes = rd_uv(&c);
        rec->u.end.reason = rd_uv(&c);
        rec->u.end.exit_status = rd_sv(&c);
        break;
    case MW_REC_THREAD_START:
        rec->u.thread_start.tidx = rd_uv(&c);
        rec->u.thread_start.tid = rd_uv(&c);
        rec->u.thread_start.parent_tidx = rd_uv(&c);
        rec->u.thread_start.name = rd_bytes(&c);
        if (!c.bad) d->last_tid = rec->u.thread_start.tid;
        break;
    case MW_REC_THREAD_START_D: {
        if (ver(d) < 3) return MW_OK; /* unassigned before version 3: an unknown record */
        rec->u.thread_start.tidx = rd_uv(&c);
        uint64_t tid = d->last_tid + (uint64_t)rd_sv(&c);
        rec->u.thread_start.parent_tidx = rd_uv(&c);
        rec->u.thread_start.name = rd_bytes(&c);
        if (c.bad) break;
        rec->type = MW_REC_THREAD_START;
        rec->u.thread_start.tid = d->last_tid = tid;
        break;
    }
    case MW_REC_THREAD_NAME:
        rec->u.thread_name.tidx = rd_uv(&c);
        rec->u.thread_name.name = rd_bytes(&c);
        break;
    case MW_REC_THREAD_END:
        rec->u.thread_end.tidx = rd_uv(&c);
        break;
    case MW_REC_MODULE_LOAD:
        rec->u.module_load.id = rd_uv(&c);
        rec->u.module_load.bias = rd_uv(&c);
        rec->u.module_load.start = rd_uv(&c);
        rec->u.module_load.size = rd_uv(&c);
        rec->u.module_load.build_id = rd_bytes(&c);
        rec->u.module_load.path = rd_bytes(&c);
        break;
    case MW_REC_MODULE_UNLOAD:
        rec->u.module_unload.id = rd_uv(&c);
        break;
    case MW_REC_MMAP:
        rec->u.mmap.addr = rd_uv(&c);
        rec->u.mmap.len = rd_uv(&c);
        rec->u.mmap.prot = rd_uv(&c);
        rec->u.mmap.flags = rd_uv(&c);
        rec->u.mmap.fd = rd_sv(&c);
        rec->u.mmap.offset = rd_uv(&c);
        rec->u.mmap.stack = rd_uv(&c);
        rec->u.mmap.path = rd_bytes(&c);
        break;
    case MW_REC_MUNMAP:
        rec->u.munmap.addr = rd_uv(&c);
        rec->u.munmap.len = rd_uv(&c);
        rec->u.munmap.stack = rd_uv(&c);
        break;
    case MW_REC_MREMAP:
        rec->u.mremap.old_addr = rd_uv(&c);
        rec->u.mremap.old_len = rd_uv(&c);
        rec->u.mremap.new_addr = rd_uv(&c);
        rec->u.mremap.new_len = rd_uv(&c);
        rec->u.mremap.stack = rd_uv(&c);
        break;
    case MW_REC_RSS:
        rec->u.rss.t_ns = rd_uv(&c);
        rec->u.rss.rss = rd_uv(&c);
        rec->u.rss.anon = rd_uv(&c);
        rec->u.rss.file = rd_uv(&c);
        rec->u.rss.shmem = rd_uv(&c);
        rec->u.rss.vm_size = rd_uv(&c);
        rec->u.rss.own = c.p < c.end ? rd_uv(&c) : 0; /* appended field: older shims lack it */
        if (!c.bad)
            d->rss_last = (mw_rss_last){ rec->u.rss.t_ns, { rec->u.rss.rss, rec->u.rss.anon, rec->u.rss.file,
                                                            rec->u.rss.shmem, rec->u.rss.vm_size, rec->u.rss.own } };
        break;
    case MW_REC_RSS_D: {
        if (ver(d) < 5) return MW_OK; /* unassigned before version 5: an unknown record */
        int64_t dt = rd_sv(&c);
        uint64_t shift = rd_uv(&c), v[6];
        for (unsigned i = 0; i < 6; i++) v[i] = (uint64_t)rd_sv(&c);
        if (c.bad) break;
        if (shift > 63) return corrupt(d, "shift over 63", type, stream_offset);
        mw_rss_last *l = &d->rss_last;
        l->t_ns += (uint64_t)dt;
        for (unsigned i = 0; i < 6; i++) l->v[i] += v[i] << shift;
        rec->type = MW_REC_RSS;
        rec->u.rss.t_ns = l->t_ns;
        rec->u.rss.rss = l->v[0];
        rec->u.rss.anon = l->v[1];
        rec->u.rss.file = l->v[2];
        rec->u.rss.shmem = l->v[3];
        rec->u.rss.vm_size = l->v[4];
        rec->u.rss.own = l->v[5];
        break;
    }
    case MW_REC_SQL_QUERY:
        rec->u.sql_query.fp = rd_uv(&c);
        rec->u.sql_query.db = rd_uv(&c);
        rec->u.sql_query.text = rd_bytes(&c);
        break;
    case MW_REC_SQL_BEGIN:
    case MW_REC_SQL_END: {
        uint64_t ctx = rd_uv(&c);
        uint64_t fp = type == MW_REC_SQL_BEGIN ? rd_uv(&c) : 0;
        if (c.bad) break;
        if (d->hflags & MW_HF_SQL_CTX_DELTA) {
            if (d->cur_tidx >= d->nthreads && ensure_thread(d, d->cur_tidx))
                return corrupt(d, "thread table exhausted", type, stream_offset);
            ctx = mw_sql_ctx_unfield(ctx, d->sql_base[d->cur_tidx]);
            if (type == MW_REC_SQL_BEGIN) d->sql_base[d->cur_tidx] = ctx & MW_SQL_CTX_MASK;
        }
        if (type == MW_REC_SQL_BEGIN) {
            rec->u.sql_begin.ctx = ctx;
            rec->u.sql_begin.fp = fp;
        } else {
            rec->u.sql_end.ctx = ctx;
        }
        return MW_OK;
    }
    case MW_REC_SQL_RES_OPEN:
        rec->u.sql_res_open.type = rd_uv(&c);
        rec->u.sql_res_open.handle = rd_uv(&c);
        rec->u.sql_res_open.fp = rd_uv(&c);
        rec->u.sql_res_open.stack = rd_uv(&c);
        rec->u.sql_res_open.db = rd_uv(&c);
        break;
    case MW_REC_SQL_RES_CLOSE:
        rec->u.sql_res_close.type = rd_uv(&c);
        rec->u.sql_res_close.handle = rd_uv(&c);
        break;
    case MW_REC_WATCH_REG:
        rec->u.watch_reg.id = rd_uv(&c);
        rec->u.watch_reg.addr = rd_uv(&c);
        rec->u.watch_reg.len = rd_uv(&c);
        rec->u.watch_reg.flags = rd_uv(&c);
        rec->u.watch_reg.name = rd_bytes(&c);
        break;
    case MW_REC_WATCH_UNREG:
        rec->u.watch_unreg.id = rd_uv(&c);
        rec->u.watch_unreg.reason = rd_uv(&c);
        break;
    case MW_REC_WATCH_META:
        rec->u.watch_meta.id = rd_uv(&c);
        rec->u.watch_meta.key = rd_bytes(&c);
        rec->u.watch_meta.value = rd_bytes(&c);
        break;
    case MW_REC_WATCH_WRITE: {
        typeof(rec->u.watch_write) *w = &rec->u.watch_write;
        w->id = rd_uv(&c);
        w->offset = rd_uv(&c);
        w->len = rd_uv(&c);
        w->tid = rd_uv(&c);
        w->pc = rd_uv(&c);
        w->stack = rd_uv(&c);
        w->sql_fp = rd_uv(&c);
        w->flags = rd_uv(&c);
        w->t_ns = rd_uv(&c);
        w->syscall = rd_sv(&c);
        w->old_bytes = rd_bytes(&c);
        w->new_bytes = rd_bytes(&c);
        w->loc_file = rd_bytes(&c);
        w->loc_line = rd_uv(&c);
        w->loc_func = rd_bytes(&c);
        if (!c.bad && w->old_bytes.len != w->new_bytes.len)
            return corrupt(d, "old and new bytes of different lengths", type, stream_offset);
        break;
    }
    case MW_REC_MARK:
        rec->u.mark.label = rd_bytes(&c);
        break;
    case MW_REC_REACH: {
        uint64_t count = rd_uv(&c);
        if (c.bad) break;
        const uint8_t *start = c.p;
        /* each entry is at least 3 bytes, so this loop is bounded by the payload */
        for (uint64_t i = 0; i < count && !c.bad; i++) {
            if (rd_uv(&c) > MW_MAX_TIDX && !c.bad)
                return corrupt(d, "thread index over the limit", type, stream_offset);
            (void)rd_uv(&c);
            (void)rd_uv(&c);
        }
        if (c.bad) break;
        rec->u.reach.count = count;
        rec->u.reach.seq_delta = ver(d) >= 4;
        rec->u.reach.compact = 0;
        rec->u.reach.entries.ptr = start;
        rec->u.reach.entries.len = (size_t)(c.p - start);
        rec->u.reach.addrs.ptr = NULL;
        rec->u.reach.addrs.len = 0;
        if (c.p < c.end) { /* address section: count svs (bytes past it are ignored) */
            const uint8_t *as = c.p;
            for (uint64_t i = 0; i < count && !c.bad; i++) (void)rd_uv(&c);
            if (c.bad) break;
            rec->u.reach.addrs.ptr = as;
            rec->u.reach.addrs.len = (size_t)(c.p - as);
        }
        break;
    }
    case MW_REC_LOST:
        rec->u.lost.events = rd_uv(&c);
        rec->u.lost.bytes = rd_uv(&c);
        break;
    case MW_REC_FORK:
        rec->u.fork.child_pid = rd_uv(&c);
        break;
    case MW_REC_EXEC:
        rec->u.exec.path = rd_bytes(&c);
        break;
    case MW_REC_SPAWN:
        rec->u.spawn.child_pid = rd_uv(&c);
        rec->u.spawn.path = rd_bytes(&c);
        break;
    case MW_REC_FATAL_SIGNAL:
        rec->u.fatal.t_ns = rd_uv(&c);
        rec->u.fatal.signo = rd_uv(&c);
        rec->u.fatal.code = rd_uv(&c);
        rec->u.fatal.addr = rd_uv(&c);
        rec->u.fatal.stack = rd_uv(&c);
        break;
    case MW_REC_LIMITS:
        rec->u.limits.cgroup_max = rd_uv(&c);
        rec->u.limits.rlimit_as = rd_uv(&c);
        rec->u.limits.phys_mem = rd_uv(&c);
        break;
    case MW_REC_INHERIT: {
        uint64_t size = rd_uv(&c), ptidx = rd_uv(&c);
        int64_t dseq = rd_sv(&c), daddr = rd_sv(&c);
        if (c.bad) break;
        if (ptidx > MW_MAX_TIDX) return corrupt(d, "thread index over the limit", type, stream_offset);
        uint64_t unused;
        if (next_block(d, 0, 0, &unused, seq_out))
            return corrupt(d, "thread table exhausted", type, stream_offset);
        d->inherit_last.seq += (uint64_t)dseq;
        d->inherit_last.addr += (uint64_t)daddr;
        rec->u.inherit.size = size;
        rec->u.inherit.parent = (mw_block_ref){ ptidx, d->inherit_last.seq };
        rec->u.inherit.addr = d->inherit_last.addr;
        return MW_OK;
    }
    case MW_REC_REACH_C: {
        if (ver(d) < 5) return MW_OK; /* unassigned before version 5: an unknown record */
        /* count, flags, groups, seqs, addresses (mw_enc_reach_c); every loop below reads at
         * least one byte per pass, so each is bounded by the payload */
        uint64_t count = rd_uv(&c), flags = rd_uv(&c), ngroups = rd_uv(&c);
        if (c.bad) break;
        if (flags >> 8) return corrupt(d, "unknown flags", type, stream_offset);
        const uint8_t *gs = c.p;
        uint64_t covered = 0;
        for (uint64_t i = 0; i < ngroups && !c.bad; i++) {
            uint64_t len = rd_uv(&c), tidx = rd_uv(&c);
            (void)rd_uv(&c);
            if (c.bad) break;
            if (len == 0 || len > count - covered)
                return corrupt(d, "group lengths do not add up to the count", type, stream_offset);
            if (tidx > MW_MAX_TIDX) return corrupt(d, "thread index over the limit", type, stream_offset);
            covered += len;
        }
        if (c.bad) break;
        if (covered != count) return corrupt(d, "group lengths do not add up to the count", type, stream_offset);
        const uint8_t *ge = c.p, *ss = c.p;
        if (reach_c_section(&c, count, flags & 1))
            return corrupt(d, "seq runs do not add up to the count", type, stream_offset);
        if (c.bad) break;
        const uint8_t *se = c.p, *as = c.p;
        if (reach_c_section(&c, count, flags >> 7 & 1))
            return corrupt(d, "address runs do not add up to the count", type, stream_offset);
        if (c.bad) break;
        rec->type = MW_REC_REACH;   /* readers see one kind of verdict record */
        rec->u.reach.count = count;
        rec->u.reach.seq_delta = 1;
        rec->u.reach.compact = 1;
        rec->u.reach.seq_runs = (int)(flags & 1);
        rec->u.reach.addr_runs = (int)(flags >> 7 & 1);
        rec->u.reach.shift = (unsigned)(flags >> 1 & 63);
        rec->u.reach.entries = (mw_bytes){ gs, (size_t)(ge - gs) };
        rec->u.reach.seqs = (mw_bytes){ ss, (size_t)(se - ss) };
        rec->u.reach.addrs = (mw_bytes){ as, (size_t)(c.p - as) };
        break;
    }
    case MW_REC_CODED_RUN:
        if (ver(d) < 3) return MW_OK; /* unassigned before version 3: an unknown record */
        return run_begin(d, &c, rec, stream_offset);
    case MW_REC_REPEAT:
        if (ver(d) < 6) return MW_OK; /* unassigned before version 6: an unknown record */
        return rep_begin(d, &c, rec, stream_offset);
    default:
        return MW_OK; /* unknown type: skipped by length */
    }
    if (c.bad) return corrupt(d, "fields overrun the payload or a varint is malformed", type, stream_offset);
    return MW_OK;
}

/* ---- REACH entries ---------------------------------------------------------------------- */
void mw_reach_iter_init(mw_reach_iter *it, const mw_record *rec)
{
    it->compact = rec->type == MW_REC_REACH && rec->u.reach.compact;
    if (it->compact) {
        it->p = rec->u.reach.entries.ptr;
        it->end = it->p + rec->u.reach.entries.len;
        it->sp = rec->u.reach.seqs.ptr;
        it->send = it->sp + rec->u.reach.seqs.len;
        it->ap = rec->u.reach.addrs.ptr;
        it->aend = it->ap + rec->u.reach.addrs.len;
        it->left = rec->u.reach.count;
        it->seq_runs = rec->u.reach.seq_runs;
        it->addr_runs = rec->u.reach.addr_runs;
        it->shift = rec->u.reach.shift;
        it->g_left = it->s_left = it->a_left = 0;
        it->prev_addr = it->prev_seq = 0;
        return;
    }
    if (rec->type == MW_REC_REACH && rec->u.reach.entries.ptr) {
        it->p = rec->u.reach.entries.ptr;
        it->end = it->p + rec->u.reach.entries.len;
        it->left = rec->u.reach.count;
        it->ap = rec->u.reach.addrs.ptr;
        it->aend = it->ap ? it->ap + rec->u.reach.addrs.len : NULL;
        it->seq_delta = rec->u.reach.seq_delta;
    } else {
        it->p = it->end = NULL;
        it->ap = it->aend = NULL;
        it->left = 0;
        it->seq_delta = 0;
    }
    it->prev_addr = 0;
    it->prev_seq = 0;
}

/* The next value of a REACH_C section: a delta of its own, or its run's (a new run read when
 * the last one is used up). */
static inline uint64_t reach_c_value(cur *c, int runs, uint64_t *left, uint64_t *delta)
{
    if (!runs) return *delta = rd_uv(c);
    if (*left == 0) {
        *left = rd_uv(c) + 1;
        *delta = rd_uv(c);
        if (*left == 0) c->bad = 1;
    }
    --*left;
    return *delta;
}

/* REACH_C's entry: the group, the seq run and the address each go on (validated when the
 * record was decoded; checked again here, the iterator may be given any record). */
static int reach_c_next(mw_reach_iter *it, mw_reach_entry *e)
{
    cur g = { it->p, it->end, 0 }, s = { it->sp, it->send, 0 }, a = { it->ap, it->aend, 0 };
    if (it->g_left == 0) {
        it->g_left = rd_uv(&g);
        it->g_tidx = rd_uv(&g);
        it->g_kind = rd_uv(&g);
        if (it->g_left == 0) g.bad = 1;
    }
    reach_c_value(&s, it->seq_runs, &it->s_left, &it->s_delta);
    reach_c_value(&a, it->addr_runs, &it->a_left, &it->a_delta);
    uint64_t ad = it->a_delta;
    if (g.bad || s.bad || a.bad) {
        it->left = 0;
        return -1;
    }
    it->g_left--;
    e->ref.tidx = it->g_tidx;
    e->kind = it->g_kind;
    e->ref.seq = it->prev_seq + (uint64_t)mw_unzigzag(it->s_delta);
    e->addr = it->prev_addr + ((uint64_t)mw_unzigzag(ad) << it->shift);
    it->prev_seq = e->ref.seq;
    it->prev_addr = e->addr;
    it->p = g.p;
    it->sp = s.p;
    it->ap = a.p;
    it->left--;
    return 1;
}

int mw_reach_next(mw_reach_iter *it, mw_reach_entry *e)
{
    if (it->left == 0) return 0;
    if (it->compact) return reach_c_next(it, e);
    cur c = { it->p, it->end, 0 };
    e->ref.tidx = rd_uv(&c);
    e->ref.seq = rd_uv(&c);
    if (it->seq_delta) e->ref.seq = it->prev_seq + (uint64_t)mw_unzigzag(e->ref.seq);
    it->prev_seq = e->ref.seq;
    e->kind = rd_uv(&c);
    e->addr = 0;
    if (it->ap) {
        cur a = { it->ap, it->aend, 0 };
        e->addr = it->prev_addr + (uint64_t)rd_sv(&a);
        if (a.bad) c.bad = 1;
        it->ap = a.p;
        it->prev_addr = e->addr;
    }
    if (c.bad) {
        it->left = 0;
        return -1;
    }
    it->p = c.p;
    it->left--;
    return 1;
}

/* ---- names ------------------------------------------------------------------------------ */
const char *mw_record_type_name(unsigned type)
{
    if (type >= MW_REC_FREE_NEAR && type <= 0xFF) return "FREE_NEAR"; /* version 2 */
    switch (type) {
    case MW_REC_HEADER: return "HEADER";
    case MW_REC_END: return "END";
    case MW_REC_TIME: return "TIME";
    case MW_REC_THREAD_SWITCH: return "THREAD_SWITCH";
    case MW_REC_THREAD_START: return "THREAD_START";
    case MW_REC_THREAD_NAME: return "THREAD_NAME";
    case MW_REC_THREAD_END: return "THREAD_END";
    case MW_REC_MODULE_LOAD: return "MODULE_LOAD";
    case MW_REC_MODULE_UNLOAD: return "MODULE_UNLOAD";
    case MW_REC_STACK_NODE: return "STACK_NODE";
    case MW_REC_STACK_NODE_D: return "STACK_NODE_D";
    case MW_REC_THREAD_START_D: return "THREAD_START_D";
    case MW_REC_ALLOC: return "ALLOC";
    case MW_REC_INHERIT: return "INHERIT";
    case MW_REC_FREE: return "FREE";
    case MW_REC_REALLOC: return "REALLOC";
    case MW_REC_MMAP: return "MMAP";
    case MW_REC_MUNMAP: return "MUNMAP";
    case MW_REC_MREMAP: return "MREMAP";
    case MW_REC_RSS: return "RSS";
    case MW_REC_ALLOC_SAME: return "ALLOC_SAME";
    case MW_REC_CODED_RUN: return "CODED_RUN";
    case MW_REC_REPEAT: return "REPEAT";
    case MW_REC_SQL_QUERY: return "SQL_QUERY";
    case MW_REC_SQL_BEGIN: return "SQL_BEGIN";
    case MW_REC_SQL_END: return "SQL_END";
    case MW_REC_SQL_RES_OPEN: return "SQL_RES_OPEN";
    case MW_REC_SQL_RES_CLOSE: return "SQL_RES_CLOSE";
    case MW_REC_WATCH_REG: return "WATCH_REG";
    case MW_REC_WATCH_UNREG: return "WATCH_UNREG";
    case MW_REC_WATCH_META: return "WATCH_META";
    case MW_REC_WATCH_WRITE: return "WATCH_WRITE";
    case MW_REC_MARK: return "MARK";
    case MW_REC_REACH: return "REACH";
    case MW_REC_REACH_C: return "REACH_C";
    case MW_REC_RSS_D: return "RSS_D";
    case MW_REC_LOST: return "LOST";
    case MW_REC_FORK: return "FORK";
    case MW_REC_EXEC: return "EXEC";
    case MW_REC_SPAWN: return "SPAWN";
    case MW_REC_LIMITS: return "LIMITS";
    case MW_REC_FATAL_SIGNAL: return "FATAL_SIGNAL";
    default: return "unknown";
    }
}

const char *mw_alloc_kind_name(unsigned kind)
{
    static const char *const names[MW_AK_COUNT] = {
        [MW_AK_MALLOC] = "malloc",
        [MW_AK_CALLOC] = "calloc",
        [MW_AK_REALLOC] = "realloc",
        [MW_AK_POSIX_MEMALIGN] = "posix_memalign",
        [MW_AK_ALIGNED_ALLOC] = "aligned_alloc",
        [MW_AK_MEMALIGN] = "memalign",
        [MW_AK_VALLOC] = "valloc",
        [MW_AK_PVALLOC] = "pvalloc",
        [MW_AK_REALLOCARRAY] = "reallocarray",
    };
    return kind < MW_AK_COUNT ? names[kind] : "unknown";
}
