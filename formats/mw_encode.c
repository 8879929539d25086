/*
 * mw_encode.c — the allocation-free trace encoder (one function per record type).
 *
 * Linked into the LD_PRELOAD shim, so it runs on the target's allocation path and in signal
 * handlers: no malloc, no stdio, no errno changes, no locks, no libc beyond memcpy. Every
 * function encodes one framed record (u8 type, uv payload length, payload) into caller memory
 * and returns its size, or 0 when it does not fit in cap — in which case NOTHING is written
 * (the exact size is computed before the first byte is stored).
 *
 * Records are described as a short list of fields (varints and length-prefixed byte strings)
 * that one always-inlined emitter sizes and writes; with the field count known at compile
 * time the compiler unrolls it, so the hot records (ALLOC, FREE, REALLOC) stay branch-light.
 * The field order of every record is normative in formats/TRACE-FORMAT.md.
 */
#include "mw_format.h"

#include <string.h>

#define MW_INLINE static inline __attribute__((always_inline))

/* A field: a varint (len == FLD_UV) or a byte string (p, len). */
#define FLD_UV SIZE_MAX
typedef struct fld {
    uint64_t v;       /* varint value (FLD_UV) */
    const void *p;    /* byte string */
    size_t len;       /* byte-string length, or FLD_UV */
} fld;

#define UV(x) ((fld){ .v = (uint64_t)(x), .p = NULL, .len = FLD_UV })
#define SV(x) ((fld){ .v = mw_zigzag((int64_t)(x)), .p = NULL, .len = FLD_UV })
#define BYTES(ptr, n, max) ((fld){ .v = 0, .p = (ptr), .len = clamp_len((ptr), (n), (max)) })

MW_INLINE size_t clamp_len(const void *p, size_t n, size_t max)
{
    if (!p) return 0;
    return n > max ? max : n;
}

MW_INLINE size_t uv_size(uint64_t v)
{
    /* 1 + floor(bits/7): bits = 64 - clz(v|1) */
    unsigned bits = 64u - (unsigned)__builtin_clzll(v | 1);
    return (bits + 6u) / 7u;
}

MW_INLINE uint8_t *put_uv(uint8_t *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

MW_INLINE size_t emit(uint8_t *dst, size_t cap, uint8_t type, const fld *f, size_t n)
{
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        if (f[i].len == FLD_UV)
            len += uv_size(f[i].v);
        else
            len += uv_size(f[i].len) + f[i].len;
    }
    if (len > MW_MAX_RECORD_PAYLOAD) return 0;
    size_t total = 1 + uv_size(len) + len;
    if (!dst || total > cap) return 0;
    uint8_t *p = dst;
    *p++ = type;
    p = put_uv(p, len);
    for (size_t i = 0; i < n; i++) {
        if (f[i].len == FLD_UV) {
            p = put_uv(p, f[i].v);
        } else {
            p = put_uv(p, f[i].len);
            if (f[i].len) memcpy(p, f[i].p, f[i].len);
            p += f[i].len;
        }
    }
    return total;
}

/* Records made only of up to 12 varints have a payload under 128 bytes, so their length is
 * one byte: with cap for the worst case they are written in one pass with no sizing. */
MW_INLINE size_t emit_uv(uint8_t *dst, size_t cap, uint8_t type, const uint64_t *v, size_t n)
{
    if (__builtin_expect(dst && cap >= 2 + 10 * n, 1)) {
        uint8_t *p = dst + 2;
        for (size_t i = 0; i < n; i++) p = put_uv(p, v[i]);
        dst[0] = type;
        dst[1] = (uint8_t)(p - dst - 2);
        return (size_t)(p - dst);
    }
    fld f[12];
    for (size_t i = 0; i < n; i++) f[i] = UV(v[i]);
    return emit(dst, cap, type, f, n);
}

#define EMIT_UV(type, ...)                                                               \
    do {                                                                                 \
        const uint64_t v_[] = { __VA_ARGS__ };                                           \
        _Static_assert(sizeof v_ / sizeof v_[0] <= 12, "at most 12 varints");           \
        return emit_uv(dst, cap, (type), v_, sizeof v_ / sizeof v_[0]);                  \
    } while (0)

#define EMIT(type, ...)                                                                  \
    do {                                                                                 \
        const fld fields_[] = { __VA_ARGS__ };                                           \
        return emit(dst, cap, (type), fields_, sizeof fields_ / sizeof fields_[0]);      \
    } while (0)

/* A block reference as seen from thread self_tidx, which has written self_seq ALLOC/REALLOC
 * records so far: own blocks as a back-distance (low bit 0), others as absolute (low bit 1).
 * Returns the number of varints stored in out. */
MW_INLINE size_t ref_fields(uint64_t out[2], mw_block_ref ref, uint64_t self_tidx,
                            uint64_t self_seq)
{
    if (ref.tidx == self_tidx && ref.seq <= self_seq && self_seq - ref.seq < (1ull << 63)) {
        out[0] = (self_seq - ref.seq) << 1;
        return 1;
    }
    out[0] = (ref.tidx << 1) | 1u;
    out[1] = ref.seq;
    return 2;
}

/* ---- records ------------------------------------------------------------------------- */

size_t mw_enc_preamble(uint8_t *dst, size_t cap)
{
    if (!dst || cap < MW_PREAMBLE_LEN) return 0;
    memcpy(dst, MW_MAGIC, MW_MAGIC_LEN);
    dst[8] = (uint8_t)(MW_FORMAT_VERSION & 0xff);
    dst[9] = (uint8_t)(MW_FORMAT_VERSION >> 8);
    dst[10] = 0;
    dst[11] = 0;
    return MW_PREAMBLE_LEN;
}

size_t mw_enc_header(uint8_t *dst, size_t cap, uint64_t pid, uint64_t ppid, uint64_t page_size,
                     uint64_t start_realtime_ns, uint64_t start_mono_ns, uint64_t flags,
                     const char *exe, size_t exe_len, const char *argv, size_t argv_len)
{
    const union { uint16_t u; uint8_t b[2]; } probe = { .u = 1 };
    uint64_t endian = probe.b[0] ? 1 : 2;
    EMIT(MW_REC_HEADER, UV(MW_FORMAT_VERSION), UV(pid), UV(ppid), UV(sizeof(void *)),
         UV(page_size), UV(endian), UV(start_realtime_ns), UV(start_mono_ns), UV(flags),
         BYTES(exe, exe_len, MW_MAX_STR), BYTES(argv, argv_len, MW_MAX_STR));
}

size_t mw_enc_end(uint8_t *dst, size_t cap, uint64_t t_ns, uint64_t lost_events,
                  uint64_t lost_bytes, uint64_t reason, int64_t exit_status)
{
    EMIT(MW_REC_END, UV(t_ns), UV(lost_events), UV(lost_bytes), UV(reason), SV(exit_status));
}

size_t mw_enc_time(uint8_t *dst, size_t cap, uint64_t t_ns)
{
    EMIT_UV(MW_REC_TIME, t_ns);
}

size_t mw_enc_thread_start_d(uint8_t *dst, size_t cap, uint64_t tidx, uint64_t tid,
                             uint64_t parent_tidx, const uint8_t *name, size_t name_len, uint64_t *last_tid)
{
    const fld f[] = { UV(tidx), SV(tid - *last_tid), UV(parent_tidx), BYTES((const char *)name, name_len, MW_MAX_STR) };
    size_t n = emit(dst, cap, MW_REC_THREAD_START_D, f, sizeof f / sizeof f[0]);
    if (n) *last_tid = tid;
    return n;
}

size_t mw_enc_thread_switch(uint8_t *dst, size_t cap, uint64_t tidx)
{
    EMIT_UV(MW_REC_THREAD_SWITCH, tidx);
}

size_t mw_enc_thread_start(uint8_t *dst, size_t cap, uint64_t tidx, uint64_t tid,
                           uint64_t parent_tidx, const char *name, size_t name_len)
{
    EMIT(MW_REC_THREAD_START, UV(tidx), UV(tid), UV(parent_tidx),
         BYTES(name, name_len, MW_MAX_STR));
}

size_t mw_enc_thread_name(uint8_t *dst, size_t cap, uint64_t tidx, const char *name,
                          size_t name_len)
{
    EMIT(MW_REC_THREAD_NAME, UV(tidx), BYTES(name, name_len, MW_MAX_STR));
}

size_t mw_enc_thread_end(uint8_t *dst, size_t cap, uint64_t tidx)
{
    EMIT_UV(MW_REC_THREAD_END, tidx);
}

size_t mw_enc_module_load(uint8_t *dst, size_t cap, uint64_t id, uint64_t bias, uint64_t start,
                          uint64_t size, const uint8_t *build_id, size_t build_id_len,
                          const char *path, size_t path_len)
{
    EMIT(MW_REC_MODULE_LOAD, UV(id), UV(bias), UV(start), UV(size),
         BYTES(build_id, build_id_len, MW_MAX_STR), BYTES(path, path_len, MW_MAX_STR));
}

size_t mw_enc_module_unload(uint8_t *dst, size_t cap, uint64_t id)
{
    EMIT_UV(MW_REC_MODULE_UNLOAD, id);
}

size_t mw_enc_stack_node(uint8_t *dst, size_t cap, uint64_t id, uint64_t parent, uint64_t ip)
{
    EMIT_UV(MW_REC_STACK_NODE, id, parent, ip);
}

size_t mw_enc_stack_node_d(uint8_t *dst, size_t cap, uint64_t id, uint64_t parent, uint64_t ip,
                           mw_node_last *last)
{
    const uint64_t v[] = { mw_zigzag((int64_t)(id - last->id - 1)), id - parent,
                           mw_zigzag((int64_t)(ip - last->ip)) };
    size_t n = emit_uv(dst, cap, MW_REC_STACK_NODE_D, v, 3);
    if (n) *last = (mw_node_last){ id, ip };
    return n;
}

size_t mw_enc_alloc(uint8_t *dst, size_t cap, uint64_t kind, uint64_t size, uint64_t stack,
                    uint64_t addr, uint64_t *prev_addr)
{
    uint64_t prev = prev_addr ? *prev_addr : 0;
    const uint64_t v[] = { kind, size, stack, mw_zigzag((int64_t)(addr - prev)) };
    size_t n = emit_uv(dst, cap, MW_REC_ALLOC, v, 4);
    if (n && prev_addr) *prev_addr = addr; /* state changes only when the record is written */
    return n;
}

size_t mw_enc_alloc_noaddr(uint8_t *dst, size_t cap, uint64_t kind, uint64_t size,
                           uint64_t stack)
{
    EMIT_UV(MW_REC_ALLOC, kind, size, stack);
}

size_t mw_enc_alloc_same(uint8_t *dst, size_t cap, uint64_t size)
{
    if (cap < 1 + uv_size(size)) return 0;
    dst[0] = MW_REC_ALLOC_SAME;
    return (size_t)(put_uv(dst + 1, size) - dst);
}

size_t mw_enc_free(uint8_t *dst, size_t cap, mw_block_ref ref, uint64_t self_tidx,
                   uint64_t self_seq)
{
    uint8_t own[4];
    size_t n_own = mw_enc_free_own(own, ref, self_tidx, self_seq);
    if (n_own) {
        if (cap < n_own) return 0;
        memcpy(dst, own, n_own);
        return n_own;
    }
    uint64_t v[2];
    size_t n = ref_fields(v, ref, self_tidx, self_seq);
    return emit_uv(dst, cap, MW_REC_FREE, v, n);
}

size_t mw_enc_realloc(uint8_t *dst, size_t cap, mw_block_ref old, uint64_t self_tidx,
                      uint64_t self_seq, uint64_t size, uint64_t stack, uint64_t addr,
                      uint64_t *prev_addr)
{
    uint64_t v[5];
    uint64_t prev = prev_addr ? *prev_addr : 0;
    size_t n = ref_fields(v, old, self_tidx, self_seq);
    v[n++] = size;
    v[n++] = stack;
    v[n++] = mw_zigzag((int64_t)(addr - prev));
    size_t w = emit_uv(dst, cap, MW_REC_REALLOC, v, n);
    if (w && prev_addr) *prev_addr = addr;
    return w;
}

size_t mw_enc_realloc_noaddr(uint8_t *dst, size_t cap, mw_block_ref old, uint64_t self_tidx,
                             uint64_t self_seq, uint64_t size, uint64_t stack)
{
    uint64_t v[4];
    size_t n = ref_fields(v, old, self_tidx, self_seq);
    v[n++] = size;
    v[n++] = stack;
    return emit_uv(dst, cap, MW_REC_REALLOC, v, n);
}

size_t mw_enc_mmap(uint8_t *dst, size_t cap, uint64_t addr, uint64_t len, uint64_t prot,
                   uint64_t flags, int64_t fd, uint64_t offset, uint64_t stack,
                   const char *path, size_t path_len)
{
    EMIT(MW_REC_MMAP, UV(addr), UV(len), UV(prot), UV(flags), SV(fd), UV(offset), UV(stack),
         BYTES(path, path_len, MW_MAX_STR));
}

size_t mw_enc_munmap(uint8_t *dst, size_t cap, uint64_t addr, uint64_t len, uint64_t stack)
{
    EMIT_UV(MW_REC_MUNMAP, addr, len, stack);
}

size_t mw_enc_mremap(uint8_t *dst, size_t cap, uint64_t old_addr, uint64_t old_len,
                     uint64_t new_addr, uint64_t new_len, uint64_t stack)
{
    EMIT_UV(MW_REC_MREMAP, old_addr, old_len, new_addr, new_len, stack);
}

size_t mw_enc_rss(uint8_t *dst, size_t cap, uint64_t t_ns, uint64_t rss, uint64_t anon,
                  uint64_t file, uint64_t shmem, uint64_t vm_size, uint64_t own)
{
    EMIT_UV(MW_REC_RSS, t_ns, rss, anon, file, shmem, vm_size, own);
}

size_t mw_enc_rss_d(uint8_t *dst, size_t cap, uint64_t t_ns, const uint64_t v[6], mw_rss_last *last)
{
    uint64_t all = 0;
    for (unsigned i = 0; i < 6; i++) all |= v[i] - last->v[i];
    unsigned shift = all ? (unsigned)__builtin_ctzll(all) : 0;
    fld f[8] = { SV(t_ns - last->t_ns), UV(shift) };
    for (unsigned i = 0; i < 6; i++) f[2 + i] = (fld){ .v = mw_zigzag((int64_t)(v[i] - last->v[i]) >> shift), .p = NULL, .len = FLD_UV };
    size_t n = emit(dst, cap, MW_REC_RSS_D, f, 8);
    if (n) {
        last->t_ns = t_ns;
        memcpy(last->v, v, sizeof last->v);
    }
    return n;
}

size_t mw_enc_sql_query(uint8_t *dst, size_t cap, uint64_t fp, uint64_t db, const char *text,
                        size_t text_len)
{
    EMIT(MW_REC_SQL_QUERY, UV(fp), UV(db), BYTES(text, text_len, MW_MAX_STR));
}

size_t mw_enc_sql_begin(uint8_t *dst, size_t cap, uint64_t ctx, uint64_t fp)
{
    EMIT_UV(MW_REC_SQL_BEGIN, ctx, fp);
}

size_t mw_enc_sql_end(uint8_t *dst, size_t cap, uint64_t ctx)
{
    EMIT_UV(MW_REC_SQL_END, ctx);
}

size_t mw_enc_sql_begin_d(uint8_t *dst, size_t cap, uint64_t ctx, uint64_t fp, uint64_t *base)
{
    const uint64_t v[] = { mw_sql_ctx_field(ctx, *base), fp };
    size_t n = emit_uv(dst, cap, MW_REC_SQL_BEGIN, v, 2);
    if (n) *base = ctx & MW_SQL_CTX_MASK;
    return n;
}

size_t mw_enc_sql_end_d(uint8_t *dst, size_t cap, uint64_t ctx, uint64_t base)
{
    const uint64_t v[] = { mw_sql_ctx_field(ctx, base) };
    return emit_uv(dst, cap, MW_REC_SQL_END, v, 1);
}

size_t mw_enc_sql_res_open(uint8_t *dst, size_t cap, uint64_t type, uint64_t handle, uint64_t fp,
                           uint64_t stack, uint64_t db)
{
    EMIT_UV(MW_REC_SQL_RES_OPEN, type, handle, fp, stack, db);
}

size_t mw_enc_sql_res_close(uint8_t *dst, size_t cap, uint64_t type, uint64_t handle)
{
    EMIT_UV(MW_REC_SQL_RES_CLOSE, type, handle);
}

size_t mw_enc_watch_reg(uint8_t *dst, size_t cap, uint64_t id, uint64_t addr, uint64_t len,
                        uint64_t flags, const char *name, size_t name_len)
{
    EMIT(MW_REC_WATCH_REG, UV(id), UV(addr), UV(len), UV(flags),
         BYTES(name, name_len, MW_MAX_STR));
}

size_t mw_enc_watch_unreg(uint8_t *dst, size_t cap, uint64_t id, uint64_t reason)
{
    EMIT_UV(MW_REC_WATCH_UNREG, id, reason);
}

size_t mw_enc_watch_meta(uint8_t *dst, size_t cap, uint64_t id, const char *key, size_t key_len,
                         const char *value, size_t value_len)
{
    EMIT(MW_REC_WATCH_META, UV(id), BYTES(key, key_len, MW_MAX_STR),
         BYTES(value, value_len, MW_MAX_STR));
}

size_t mw_enc_watch_write(uint8_t *dst, size_t cap, const mw_watch_write_args *a)
{
    if (!a) return 0;
    uint64_t flags = a->flags;
    size_t blen = 0;
    if ((flags & MW_WF_HAS_BYTES) && a->old_bytes && a->new_bytes) {
        blen = a->bytes_len;
        if (blen > MW_MAX_WATCH_BYTES) {
            blen = MW_MAX_WATCH_BYTES;
            flags |= MW_WF_TRUNCATED;
        }
    } else {
        flags &= ~(uint64_t)MW_WF_HAS_BYTES;
    }
    EMIT(MW_REC_WATCH_WRITE, UV(a->id), UV(a->offset), UV(a->len), UV(a->tid), UV(a->pc),
         UV(a->stack), UV(a->sql_fp), UV(flags), UV(a->t_ns), SV(a->syscall),
         BYTES(a->old_bytes, blen, MW_MAX_WATCH_BYTES),
         BYTES(a->new_bytes, blen, MW_MAX_WATCH_BYTES),
         BYTES(a->loc_file, a->loc_file_len, MW_MAX_STR), UV(a->loc_line),
         BYTES(a->loc_func, a->loc_func_len, MW_MAX_STR));
}

size_t mw_enc_mark(uint8_t *dst, size_t cap, const char *label, size_t label_len)
{
    EMIT(MW_REC_MARK, BYTES(label, label_len, MW_MAX_STR));
}

/* REACH: uv count, then count entries of (uv tidx, uv seq, uv kind), absolute refs, then the
 * address section: count sv addresses, each a delta against the previous entry's (the first
 * against 0). As many entries as fit in cap (and in MW_MAX_RECORD_PAYLOAD) go into this
 * record. */
size_t mw_enc_reach(uint8_t *dst, size_t cap, const mw_reach_entry *e, size_t n, size_t *done)
{
    if (done) *done = 0;
    if (!dst || (n && !e)) return 0;
    size_t body = 0, k = 0;
    uint64_t prev = 0, prev_seq = 0;
    for (; k < n; k++) {
        size_t es = uv_size(e[k].ref.tidx) + uv_size(mw_zigzag((int64_t)(e[k].ref.seq - prev_seq))) +
                    uv_size(e[k].kind) + uv_size(mw_zigzag((int64_t)(e[k].addr - prev)));
        size_t len = uv_size(k + 1) + body + es;
        if (len > MW_MAX_RECORD_PAYLOAD || 1 + uv_size(len) + len > cap) break;
        body += es;
        prev = e[k].addr;
        prev_seq = e[k].ref.seq;
    }
    if (k == 0 && n > 0) return 0;
    size_t len = uv_size(k) + body;
    size_t total = 1 + uv_size(len) + len;
    if (total > cap) return 0;
    uint8_t *p = dst;
    *p++ = MW_REC_REACH;
    p = put_uv(p, len);
    p = put_uv(p, k);
    prev_seq = 0;
    for (size_t i = 0; i < k; i++) {
        p = put_uv(p, e[i].ref.tidx);
        p = put_uv(p, mw_zigzag((int64_t)(e[i].ref.seq - prev_seq))); /* version 4 */
        prev_seq = e[i].ref.seq;
        p = put_uv(p, e[i].kind);
    }
    prev = 0;
    for (size_t i = 0; i < k; i++) {
        p = put_uv(p, mw_zigzag((int64_t)(e[i].addr - prev)));
        prev = e[i].addr;
    }
    if (done) *done = k;
    return total;
}

/* REACH_C: uv count, uv flags (bit 0: seqs as runs; bits 1..6: the address shift; bit 7:
 * addresses as runs), uv n_groups, the groups (uv len, uv tidx, uv kind), the seq section,
 * the address section (TRACE-FORMAT.md section 4). A section as runs is a list of (uv len - 1,
 * sv delta): each of the run's entries is the previous entry's value plus delta. Sizes are
 * kept exact while entries are added, so a record takes as many as fit in cap and in
 * MW_MAX_RECORD_PAYLOAD (and one fits in exactly its size); each section takes the layout
 * that is smaller. */
typedef struct sect_size {
    size_t plain, runs, open;   /* as deltas; as runs: the closed runs and the open one */
    uint64_t len, delta;        /* the open run */
} sect_size;

/* The section's size with value v (zigzagged delta) added as entry k. */
static inline void sect_add(sect_size *s, size_t k, uint64_t v)
{
    s->plain += uv_size(v);
    if (k && v == s->delta) {
        s->len++;
    } else {
        if (k) s->runs += s->open;
        s->len = 1;
        s->delta = v;
    }
    s->open = uv_size(s->len - 1) + uv_size(v);
}
static inline int sect_runs(const sect_size *s) { return s->runs + s->open < s->plain; }
static inline size_t sect_best(const sect_size *s) { return sect_runs(s) ? s->runs + s->open : s->plain; }
static inline uint64_t reach_c_flags(const sect_size *sq, const sect_size *ad, unsigned shift)
{
    return (uint64_t)sect_runs(ad) << 7 | (uint64_t)shift << 1 | (uint64_t)sect_runs(sq);
}

static inline uint64_t reach_seq_d(const mw_reach_entry *e, size_t i)
{
    return mw_zigzag((int64_t)(e[i].ref.seq - (i ? e[i - 1].ref.seq : 0)));
}
static inline uint64_t reach_addr_d(const mw_reach_entry *e, size_t i, unsigned shift)
{
    return mw_zigzag((int64_t)(e[i].addr - (i ? e[i - 1].addr : 0)) >> shift);
}

static uint8_t *put_sect(uint8_t *p, const mw_reach_entry *e, size_t k, int runs, unsigned shift,
                         uint64_t (*val)(const mw_reach_entry *, size_t, unsigned))
{
    for (size_t i = 0; i < k;) {
        uint64_t d = val(e, i, shift);
        size_t j = i + 1;
        if (runs) {
            while (j < k && val(e, j, shift) == d) j++;
            p = put_uv(p, j - i - 1);
        }
        p = put_uv(p, d);
        i = j;
    }
    return p;
}
static uint64_t seq_val(const mw_reach_entry *e, size_t i, unsigned shift) { (void)shift; return reach_seq_d(e, i); }
static uint64_t addr_val(const mw_reach_entry *e, size_t i, unsigned shift) { return reach_addr_d(e, i, shift); }

size_t mw_enc_reach_c(uint8_t *dst, size_t cap, const mw_reach_entry *e, size_t n, size_t *done)
{
    if (done) *done = 0;
    if (!dst || (n && !e)) return 0;
    /* the shift: the alignment all addresses share (each entry takes at least one payload
     * byte, so no more entries than that can be in this record) */
    size_t scan = n < cap ? n : cap;
    if (scan > MW_MAX_RECORD_PAYLOAD) scan = MW_MAX_RECORD_PAYLOAD;
    uint64_t all = 0;
    for (size_t i = 0; i < scan; i++) all |= e[i].addr;
    unsigned shift = all ? (unsigned)__builtin_ctzll(all) : 0;
    size_t groups = 0, ngroups = 0, gsize = 0;   /* closed groups' bytes, their count, the open one's */
    uint64_t glen = 0;
    sect_size sq = { 0 }, ad = { 0 };
    size_t k = 0;
    for (; k < n; k++) {
        size_t g2 = groups, ng2 = ngroups;
        uint64_t gl2 = glen;
        if (k && e[k].ref.tidx == e[k - 1].ref.tidx && e[k].kind == e[k - 1].kind) {
            gl2++;
        } else {
            if (k) { g2 += gsize; ng2++; }
            gl2 = 1;
        }
        size_t gs2 = uv_size(gl2) + uv_size(e[k].ref.tidx) + uv_size(e[k].kind);
        sect_size sq2 = sq, ad2 = ad;
        sect_add(&sq2, k, reach_seq_d(e, k));
        sect_add(&ad2, k, reach_addr_d(e, k, shift));
        size_t len = uv_size(k + 1) + uv_size(reach_c_flags(&sq2, &ad2, shift)) + uv_size(ng2 + 1) + g2 + gs2 +
                     sect_best(&sq2) + sect_best(&ad2);
        if (len > MW_MAX_RECORD_PAYLOAD || 1 + uv_size(len) + len > cap) break;
        groups = g2; ngroups = ng2; gsize = gs2; glen = gl2;
        sq = sq2; ad = ad2;
    }
    if (k == 0) return 0;
    int seq_runs = sect_runs(&sq), addr_runs = sect_runs(&ad);
    uint64_t flags = reach_c_flags(&sq, &ad, shift);
    size_t len = uv_size(k) + uv_size(flags) + uv_size(ngroups + 1) + groups + gsize + sect_best(&sq) +
                 sect_best(&ad);
    size_t total = 1 + uv_size(len) + len;
    uint8_t *p = dst;
    *p++ = MW_REC_REACH_C;
    p = put_uv(p, len);
    p = put_uv(p, k);
    p = put_uv(p, flags);
    p = put_uv(p, ngroups + 1);
    for (size_t i = 0; i < k;) {   /* groups */
        size_t j = i + 1;
        while (j < k && e[j].ref.tidx == e[i].ref.tidx && e[j].kind == e[i].kind) j++;
        p = put_uv(p, j - i);
        p = put_uv(p, e[i].ref.tidx);
        p = put_uv(p, e[i].kind);
        i = j;
    }
    p = put_sect(p, e, k, seq_runs, 0, seq_val);
    p = put_sect(p, e, k, addr_runs, shift, addr_val);
    if ((size_t)(p - dst) != total) return 0;   /* cannot happen: the sizes above are exact */
    if (done) *done = k;
    return total;
}

size_t mw_enc_lost(uint8_t *dst, size_t cap, uint64_t events, uint64_t bytes)
{
    EMIT_UV(MW_REC_LOST, events, bytes);
}

size_t mw_enc_fork(uint8_t *dst, size_t cap, uint64_t child_pid)
{
    EMIT_UV(MW_REC_FORK, child_pid);
}

size_t mw_enc_exec(uint8_t *dst, size_t cap, const char *path, size_t path_len)
{
    EMIT(MW_REC_EXEC, BYTES(path, path_len, MW_MAX_STR));
}

size_t mw_enc_spawn(uint8_t *dst, size_t cap, uint64_t child_pid, const char *path, size_t path_len)
{
    EMIT(MW_REC_SPAWN, UV(child_pid), BYTES(path, path_len, MW_MAX_STR));
}

size_t mw_enc_fatal_signal(uint8_t *dst, size_t cap, uint64_t t_ns, uint64_t signo, uint64_t code,
                           uint64_t addr, uint64_t stack)
{
    EMIT_UV(MW_REC_FATAL_SIGNAL, t_ns, signo, code, addr, stack);
}

size_t mw_enc_limits(uint8_t *dst, size_t cap, uint64_t cgroup_max, uint64_t rlimit_as,
                     uint64_t phys_mem)
{
    EMIT_UV(MW_REC_LIMITS, cgroup_max, rlimit_as, phys_mem);
}

size_t mw_enc_inherit(uint8_t *dst, size_t cap, uint64_t size, mw_block_ref parent, uint64_t addr,
                      mw_inherit_last *last)
{
    const fld f[] = { UV(size), UV(parent.tidx), SV(parent.seq - last->seq), SV(addr - last->addr) };
    size_t n = emit(dst, cap, MW_REC_INHERIT, f, sizeof f / sizeof f[0]);
    if (n) *last = (mw_inherit_last){ parent.seq, addr };
    return n;
}

/* Any type, any payload (tests forge unknown and malformed records with it): the only
 * encoder that may exceed MW_MAX_RECORD_PAYLOAD. */
size_t mw_enc_raw(uint8_t *dst, size_t cap, uint8_t type, const uint8_t *payload, size_t len)
{
    if (!dst || (len && !payload)) return 0;
    size_t total = 1 + uv_size(len) + len;
    if (total < len || total > cap) return 0;
    uint8_t *p = dst;
    *p++ = type;
    p = put_uv(p, len);
    if (len) memcpy(p, payload, len);
    return total;
}

size_t mw_enc_repeat(uint8_t *dst, size_t cap, uint64_t count, const uint8_t *pat, size_t len)
{
    if (!dst || !pat || count == 0 || len == 0 || len > MW_REPEAT_MAX_PATTERN ||
        count > MW_REPEAT_MAX_BYTES / len)
        return 0;
    size_t payload = uv_size(count) + len;
    size_t total = 1 + uv_size(payload) + payload;
    if (total > cap) return 0;
    uint8_t *p = dst;
    *p++ = MW_REC_REPEAT;
    p = put_uv(p, payload);
    p = put_uv(p, count);
    memcpy(p, pat, len);
    return total;
}
