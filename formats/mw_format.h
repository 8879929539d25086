/*
 * mw_format.h — the memwatch trace format: record ids, the decoded-record model, the
 * allocation-free encoder and the bounds-checked decoder.
 *
 * This header is the ONLY definition of the on-disk layout. The shim (preload/) links the
 * encoder (mw_encode.c: no malloc, no stdio, no locks), the analyzer links the decoder
 * (mw_decode.c) and the file reader (mw_reader.c: zstd streaming). formats/TRACE-FORMAT.md is
 * the normative prose spec of the same layout; when the two disagree, both are wrong: fix both.
 *
 * Byte stream (after zstd decompression of the file):
 *     "MEMWATCH" (8 bytes)  u16le version  u16le reserved(0)  then records until EOF.
 * Record framing:
 *     u8 type   uv length   payload[length]
 * "uv" is an unsigned LEB128 varint (at most 10 bytes), "sv" is a zigzag-encoded signed varint,
 * "str"/"bytes" is uv length followed by that many bytes (no terminator). Readers skip records
 * whose type they do not know, and ignore payload bytes past the fields they know (so fields
 * may be appended to a record in a later minor revision without a version bump).
 */
#ifndef MW_FORMAT_H
#define MW_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#include "mw_runs.h"

#define MW_MAGIC "MEMWATCH"
#define MW_MAGIC_LEN 8
#define MW_FORMAT_VERSION 6u   /* 2: compact ALLOC_SAME and FREE_NEAR (2.3); 3: CODED_RUN (2.4); 4: its FREE_STEP op, REACH seqs as deltas; 5: its STEP_AGAIN op, REACH_C, RSS_D; 6: REPEAT (2.5) */
#define MW_PREAMBLE_LEN 12u /* magic + u16 version + u16 reserved */

/* Largest payload a conforming writer emits; readers reject larger lengths as corruption. */
#define MW_MAX_RECORD_PAYLOAD (1u << 20)
/* Caps the shim applies to variable-length fields (longer values are truncated, and a record
 * field says so where it matters). */
#define MW_MAX_STR 4096u          /* paths, names, SQL text */
#define MW_MAX_WATCH_BYTES 4096u  /* old/new bytes of one write event */
/* Largest thread index (THREAD_SWITCH, block refs) a reader accepts; larger is corruption. */
#define MW_MAX_TIDX ((1u << 20) - 1u)

/* ---- record types -------------------------------------------------------------------- */
enum mw_record_type {
    MW_REC_HEADER = 0x01,       /* process facts; first record of every trace */
    MW_REC_END = 0x02,          /* clean end: lost counters, exit status */
    MW_REC_TIME = 0x03,         /* time of the records that follow (ns since start_mono) */
    MW_REC_THREAD_SWITCH = 0x04,/* records that follow belong to thread index tidx */
    MW_REC_THREAD_START = 0x05, /* a thread index is born: kernel tid, parent, name */
    MW_REC_THREAD_NAME = 0x06,  /* a thread was (re)named */
    MW_REC_THREAD_END = 0x07,   /* a thread exited */
    MW_REC_MODULE_LOAD = 0x08,  /* a loaded object: bias, address span, build id, path */
    MW_REC_MODULE_UNLOAD = 0x09,
    MW_REC_STACK_NODE = 0x0A,   /* stack-tree node: id, parent id, return address */
    MW_REC_STACK_NODE_D = 0x0B, /* the same, as deltas against the thread's previous node (v2) */
    MW_REC_THREAD_START_D = 0x0C, /* THREAD_START, tid as a delta against the previous one (v3) */
    MW_REC_ALLOC = 0x10,        /* heap block allocated; implicit id (tidx, seq) */
    MW_REC_FREE = 0x11,         /* heap block freed; names the block by id */
    MW_REC_REALLOC = 0x12,      /* free of old id + allocation of a new implicit id */
    MW_REC_MMAP = 0x13,
    MW_REC_MUNMAP = 0x14,
    MW_REC_MREMAP = 0x15,
    MW_REC_RSS = 0x16,          /* RSS sample */
    MW_REC_ALLOC_SAME = 0x17,   /* v2 compact ALLOC: no length, kind and stack as the thread's last ALLOC */
    MW_REC_CODED_RUN = 0x18,    /* v3: a run of FREE/ALLOC_SAME/TIME events in columns (mw_runs.h) */
    MW_REC_INHERIT = 0x19,      /* a fork child's copy of a block its parent had: implicit id, like ALLOC */
    MW_REC_SQL_QUERY = 0x20,    /* fingerprint -> normalized text (written once per fp) */
    MW_REC_SQL_BEGIN = 0x21,    /* thread's SQL context begins (thread stream scoped) */
    MW_REC_SQL_END = 0x22,
    MW_REC_SQL_RES_OPEN = 0x23, /* connection / statement / result created */
    MW_REC_SQL_RES_CLOSE = 0x24,
    MW_REC_WATCH_REG = 0x30,
    MW_REC_WATCH_UNREG = 0x31,
    MW_REC_WATCH_META = 0x32,
    MW_REC_WATCH_WRITE = 0x33,
    MW_REC_MARK = 0x40,         /* memwatch_mark(label) */
    MW_REC_REACH = 0x41,        /* reachability verdicts for unfreed blocks at exit */
    MW_REC_LOST = 0x42,         /* events/bytes that could not be recorded */
    MW_REC_FORK = 0x43,         /* this process forked child pid */
    MW_REC_EXEC = 0x44,         /* this process is about to exec path */
    MW_REC_LIMITS = 0x45,       /* memory limits in force at start (0 = none) */
    MW_REC_FATAL_SIGNAL = 0x46, /* the process is dying of a signal: which, where, the thread's stack */
    MW_REC_REACH_C = 0x47,      /* v5: REACH verdicts in a compact layout (readers return REACH) */
    MW_REC_RSS_D = 0x48,        /* v5: an RSS sample as deltas from the last (readers return RSS) */
    MW_REC_REPEAT = 0x49,       /* v6: records given once, to be taken n times (2.5) */
    MW_REC_SPAWN = 0x4A,        /* a child started running path without a traced fork (vfork, posix_spawn) */
};

/* REPEAT (version 6): its records are at most this many bytes, and n times them at most
 * MW_REPEAT_MAX_BYTES (a writer splits a longer repeat over several REPEATs). */
#define MW_REPEAT_MAX_PATTERN 4096u
#define MW_REPEAT_MAX_BYTES (1u << 24)

/* Allocation kinds (ALLOC.kind, REALLOC uses its own record). */
enum mw_alloc_kind {
    MW_AK_MALLOC = 0,
    MW_AK_CALLOC = 1,
    MW_AK_REALLOC = 2,          /* realloc(NULL, n) / reallocarray(NULL, ...) */
    MW_AK_POSIX_MEMALIGN = 3,
    MW_AK_ALIGNED_ALLOC = 4,
    MW_AK_MEMALIGN = 5,
    MW_AK_VALLOC = 6,
    MW_AK_PVALLOC = 7,
    MW_AK_REALLOCARRAY = 8,
    MW_AK_COUNT
};

/* Reachability kinds (REACH entries). */
enum mw_reach_kind {
    MW_REACH_UNKNOWN = 0,
    MW_REACH_DEFINITE = 1,      /* no pointer to it from roots or any block */
    MW_REACH_INDIRECT = 2,      /* reachable only from lost blocks */
    MW_REACH_REACHABLE = 3,     /* reachable from a root (start or interior pointer) */
};

/* SQL databases and resource types. */
enum mw_sql_db { MW_DB_UNKNOWN = 0, MW_DB_SQLITE = 1, MW_DB_POSTGRES = 2, MW_DB_OTHER = 3 };
enum mw_sql_res { MW_RES_CONNECTION = 1, MW_RES_STATEMENT = 2, MW_RES_RESULT = 3 };
/* SQL_BEGIN.ctx bit 63: this BEGIN resumes an execution already begun with the same ctx (an
 * sqlite3_step after the first, a PQgetResult of a PQsend* query): the context is in force
 * again, but it is not a new call. SQL_END carries the same value as its BEGIN. */
#define MW_SQL_CTX_RESUME (1ull << 63)

/* END.reason */
enum mw_end_reason { MW_END_EXIT = 0, MW_END_EXEC = 1, MW_END_SHUTDOWN = 2 };

/* WATCH_UNREG.reason */
enum mw_unwatch_reason { MW_UNWATCH_EXPLICIT = 0, MW_UNWATCH_UNMAPPED = 1, MW_UNWATCH_EXIT = 2 };

/* WATCH_WRITE.flags */
#define MW_WF_HAS_BYTES 0x01u   /* old and new bytes present (MUTATION_FULL) */
#define MW_WF_KERNEL 0x02u      /* written by the kernel inside a system call */
#define MW_WF_NO_STACK 0x04u    /* stack could not be captured (signal blocked, ...) */
#define MW_WF_TRUNCATED 0x08u   /* old/new bytes truncated to MW_MAX_WATCH_BYTES */
#define MW_WF_UNMAPPED 0x10u    /* the page went away; this event ends the watch */

/* HEADER.flags */
#define MW_HF_ALLOC_TRACING 0x01u /* allocation calls were traced (not a watch-only dlopen) */
#define MW_HF_FOLLOW 0x02u        /* children follow */
#define MW_HF_SQL 0x04u           /* SQL interposition on */
#define MW_HF_STACKS 0x08u        /* allocation stacks captured */
#define MW_HF_NO_ADDRESSES 0x10u  /* ALLOC/REALLOC carry no address field (MEMWATCH_ADDRESSES=0);
                                   * unfreed blocks' addresses are in the REACH records */
#define MW_HF_SQL_CTX_DELTA 0x20u /* SQL_BEGIN/SQL_END ctx fields are per-thread deltas (below) */
#define MW_HF_MALLOC_SHADOWED 0x40u /* an object before the shim defines malloc or free: heap
                                      * blocks it does not take from libc are not traced */

/* ---- decoded records ---------------------------------------------------------------- */
typedef struct mw_bytes {
    const uint8_t *ptr; /* points into the decoder's buffer: valid until the next decode */
    size_t len;
} mw_bytes;

/* A reference to a heap block: the thread index that allocated it and the 1-based sequence
 * number of that allocation among the thread's ALLOC/REALLOC records. */
typedef struct mw_block_ref {
    uint64_t tidx;
    uint64_t seq;
} mw_block_ref;

typedef struct mw_record {
    uint8_t type;
    uint64_t offset;    /* byte offset of the record's type byte in the decompressed stream */
    uint64_t length;    /* payload length */
    union {
        struct {
            uint32_t version;
            uint64_t pid, ppid, ptr_size, page_size, endian /* 1 little, 2 big */;
            uint64_t start_realtime_ns, start_mono_ns, flags;
            mw_bytes exe;
            mw_bytes argv;      /* NUL-separated, like /proc/self/cmdline */
        } header;
        struct {
            uint64_t t_ns, lost_events, lost_bytes, reason;
            int64_t exit_status; /* -1 unknown */
        } end;
        struct { uint64_t t_ns; } time;
        struct { uint64_t tidx; } thread_switch;
        struct { uint64_t tidx, tid, parent_tidx; mw_bytes name; } thread_start;
        struct { uint64_t tidx; mw_bytes name; } thread_name;
        struct { uint64_t tidx; } thread_end;
        struct {
            uint64_t id, bias, start, size;
            mw_bytes build_id, path;
        } module_load;
        struct { uint64_t id; } module_unload;
        struct { uint64_t id, parent, ip; } stack_node;
        struct {
            uint64_t kind, size, stack, addr;
            /* decoder fills: seq is NOT decoded (implicit); consumers count per tidx */
        } alloc;
        struct { mw_block_ref ref; } free;
        struct { mw_block_ref old; uint64_t size, stack, addr; } realloc;
        struct {
            uint64_t addr, len, prot, flags, offset, stack;
            int64_t fd;
            mw_bytes path;
        } mmap;
        struct { uint64_t addr, len, stack; } munmap;
        struct { uint64_t old_addr, old_len, new_addr, new_len, stack; } mremap;
        struct { uint64_t t_ns, rss, anon, file, shmem, vm_size, own; } rss; /* own: 0 if absent */
        struct { uint64_t fp, db; mw_bytes text; } sql_query;
        struct { uint64_t ctx, fp; } sql_begin;
        struct { uint64_t ctx; } sql_end;
        struct { uint64_t type, handle, fp, stack, db; } sql_res_open;
        struct { uint64_t type, handle; } sql_res_close;
        struct {
            uint64_t id, addr, len, flags;
            mw_bytes name;
        } watch_reg;
        struct { uint64_t id, reason; } watch_unreg;
        struct { uint64_t id; mw_bytes key, value; } watch_meta;
        struct {
            uint64_t id, offset, len, tid, pc, stack, sql_fp, flags, t_ns, loc_line;
            int64_t syscall; /* -1: user-mode write */
            mw_bytes old_bytes, new_bytes, loc_file, loc_func;
        } watch_write;
        struct { mw_bytes label; } mark;
        struct {
            uint64_t count;
            mw_bytes entries;   /* iterate with mw_reach_next (REACH_C: its groups) */
            mw_bytes addrs;     /* address section (len 0: absent, entries get addr 0) */
            int seq_delta;      /* version 4: each seq against the previous entry's */
            int compact;        /* version 5: decoded from a REACH_C record */
            int seq_runs;       /* REACH_C: seqs as runs of one step */
            int addr_runs;      /* REACH_C: addresses as runs of one step */
            unsigned shift;     /* REACH_C: address deltas are in units of 2^shift */
            mw_bytes seqs;      /* REACH_C: its seq section */
        } reach;
        struct { uint64_t events, bytes; } lost;
        struct { uint64_t child_pid; } fork;
        struct { mw_bytes path; } exec;
        struct { uint64_t child_pid; mw_bytes path; } spawn;
        struct { uint64_t cgroup_max, rlimit_as, phys_mem; } limits;
        struct { uint64_t t_ns, signo, code, addr, stack; } fatal;
        struct { uint64_t ops; } coded_run; /* its events follow as ordinary records */
        struct { uint64_t count, bytes; } repeat; /* its records follow, count times over */
        struct {
            uint64_t size, addr;
            mw_block_ref parent; /* the block in the parent's trace (HEADER.ppid) */
        } inherit;
    } u;
} mw_record;

/* ---- varints (shared by encoder and decoder) ----------------------------------------- */
static inline uint64_t mw_zigzag(int64_t v) { return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63); }
static inline int64_t mw_unzigzag(uint64_t v) { return (int64_t)(v >> 1) ^ -(int64_t)(v & 1); }

/* ---- encoder (formats/mw_encode.c) ---------------------------------------------------- *
 * Encodes into caller memory. Every function returns the number of bytes written, or 0 when
 * the record does not fit in cap (nothing is written then). No allocation, no stdio, no errno
 * changes: safe in the shim's allocation path and in signal handlers.
 *
 * Address fields of ALLOC and REALLOC are written as a signed delta against *prev_addr (the
 * previous ALLOC/REALLOC address written for the same thread index; 0 before that thread's
 * first one — the base is per thread and survives THREAD_SWITCHes); the encoder updates
 * *prev_addr only when the record was written. The decoder keeps the same state
 * (mw_decoder.prev_addr, keyed by thread).
 * The _noaddr variants write the same records without the address field, for traces whose
 * HEADER has MW_HF_NO_ADDRESSES (the decoder then reports addr 0). */
size_t mw_enc_preamble(uint8_t *dst, size_t cap);
size_t mw_enc_header(uint8_t *dst, size_t cap, uint64_t pid, uint64_t ppid, uint64_t page_size,
                     uint64_t start_realtime_ns, uint64_t start_mono_ns, uint64_t flags,
                     const char *exe, size_t exe_len, const char *argv, size_t argv_len);
size_t mw_enc_end(uint8_t *dst, size_t cap, uint64_t t_ns, uint64_t lost_events,
                  uint64_t lost_bytes, uint64_t reason, int64_t exit_status);
size_t mw_enc_time(uint8_t *dst, size_t cap, uint64_t t_ns);
size_t mw_enc_thread_switch(uint8_t *dst, size_t cap, uint64_t tidx);
size_t mw_enc_thread_start(uint8_t *dst, size_t cap, uint64_t tidx, uint64_t tid,
                           uint64_t parent_tidx, const char *name, size_t name_len);
/* THREAD_START_D (version 3): the same, tid written against *last_tid (the tid of the
 * stream's previous THREAD_START, 0 before the first), which it then becomes. Written by the
 * shim's writer in place of its threads' THREAD_STARTs (mw_runs_code): threads started one
 * after another have tids one apart. */
size_t mw_enc_thread_start_d(uint8_t *dst, size_t cap, uint64_t tidx, uint64_t tid,
                             uint64_t parent_tidx, const uint8_t *name, size_t name_len, uint64_t *last_tid);
size_t mw_enc_thread_name(uint8_t *dst, size_t cap, uint64_t tidx, const char *name,
                          size_t name_len);
size_t mw_enc_thread_end(uint8_t *dst, size_t cap, uint64_t tidx);
size_t mw_enc_module_load(uint8_t *dst, size_t cap, uint64_t id, uint64_t bias, uint64_t start,
                          uint64_t size, const uint8_t *build_id, size_t build_id_len,
                          const char *path, size_t path_len);
size_t mw_enc_module_unload(uint8_t *dst, size_t cap, uint64_t id);
size_t mw_enc_stack_node(uint8_t *dst, size_t cap, uint64_t id, uint64_t parent, uint64_t ip);
/* STACK_NODE_D (version 2): the same node, written against the id and ip of the previous
 * STACK_NODE_D of the same thread index (*last, zero before the first; updated when the
 * record was written). Decoders give it back as MW_REC_STACK_NODE with absolute fields. */
typedef struct mw_node_last {
    uint64_t id, ip;
} mw_node_last;
size_t mw_enc_stack_node_d(uint8_t *dst, size_t cap, uint64_t id, uint64_t parent, uint64_t ip,
                           mw_node_last *last);
size_t mw_enc_alloc(uint8_t *dst, size_t cap, uint64_t kind, uint64_t size, uint64_t stack,
                    uint64_t addr, uint64_t *prev_addr);
size_t mw_enc_alloc_noaddr(uint8_t *dst, size_t cap, uint64_t kind, uint64_t size,
                           uint64_t stack);
/* ALLOC_SAME (version 2): an ALLOC whose kind and stack are those of the writing thread's last
 * full ALLOC record; the caller keeps that state (see mw_enc_alloc_noaddr_hot). */
size_t mw_enc_alloc_same(uint8_t *dst, size_t cap, uint64_t size);
/* self_tidx/self_seq: the freeing thread's index and the number of ALLOC/REALLOC records that
 * thread has written BEFORE this record (for REALLOC: not counting the realloc itself); a
 * block the same thread allocated is written as a short back-distance, and as the one-byte
 * FREE_NEAR form when that distance is at most MW_FREE_NEAR_MAX. */
size_t mw_enc_free(uint8_t *dst, size_t cap, mw_block_ref ref, uint64_t self_tidx,
                   uint64_t self_seq);
size_t mw_enc_realloc(uint8_t *dst, size_t cap, mw_block_ref old, uint64_t self_tidx,
                      uint64_t self_seq, uint64_t size, uint64_t stack, uint64_t addr,
                      uint64_t *prev_addr);
size_t mw_enc_realloc_noaddr(uint8_t *dst, size_t cap, mw_block_ref old, uint64_t self_tidx,
                             uint64_t self_seq, uint64_t size, uint64_t stack);
/* Version 2 compact forms (TRACE-FORMAT.md 2.3). They have no length field: a type byte of
 * MW_REC_FREE_NEAR or more is a whole FREE record of the writing thread's block (type - 0x80)
 * ALLOC/REALLOC records back; ALLOC_SAME is followed by the size only, its kind and stack being
 * those of the thread's last full ALLOC record. Decoders give both back as MW_REC_FREE and
 * MW_REC_ALLOC. */
#define MW_REC_FREE_NEAR 0x80u
#define MW_FREE_NEAR_MAX 0x7Fu
/* Per-thread encoder/decoder state for ALLOC_SAME: the kind and stack of the thread's last full
 * ALLOC record (valid = 0 before the first one). */
typedef struct mw_alloc_last {
    uint64_t kind, stack;
    int valid;
} mw_alloc_last;
/* Inline hot-path form for the shim's allocation hooks: an ALLOC without an address field
 * (MW_HF_NO_ADDRESSES traces), as ALLOC_SAME when kind and stack repeat *last, else in full
 * (updating *last), with no capacity check: dst must have MW_ENC_HOT_CAP bytes of room. The
 * caller commits every record it encodes (the state has already moved). */
#define MW_ENC_HOT_CAP 32u
static inline uint8_t *mw_put_uv(uint8_t *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}
/* Reads a uv from *p (not past end): at most 10 bytes, the 10th only 0 or 1. 0 and *p moved
 * past it, or -1 (cut short or malformed; *p unchanged). Shared by the decoder and the
 * writer's run coder (mw_runs.c). */
static inline int mw_get_uv(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    const uint8_t *q = *p;
    uint64_t r = 0;
    for (unsigned i = 0; i < 10 && q < end; i++) {
        uint8_t b = *q++;
        if (i == 9 && b > 1) return -1;
        r |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            *v = r;
            *p = q;
            return 0;
        }
    }
    return -1;
}
/* The total size of the record at p[0..n) (type byte, length, payload) without decoding it:
 * 0, or -1 when it is cut short by n or its length is malformed or over the limit. Shared by
 * the decoder (REPEAT's records) and the writer's repeat finder (mw_repeat.c). */
static inline int mw_record_size(const uint8_t *p, size_t n, size_t *size)
{
    if (n < 1) return -1;
    if (p[0] >= MW_REC_FREE_NEAR) {
        *size = 1;
        return 0;
    }
    const uint8_t *q = p + 1, *end = p + n;
    uint64_t v;
    if (mw_get_uv(&q, end, &v)) return -1;
    if (p[0] != MW_REC_ALLOC_SAME) {
        if (v > MW_MAX_RECORD_PAYLOAD || v > (uint64_t)(end - q)) return -1;
        q += v;
    }
    *size = (size_t)(q - p);
    return 0;
}
static inline size_t mw_enc_alloc_noaddr_hot(uint8_t *dst, uint64_t kind, uint64_t size,
                                             uint64_t stack, mw_alloc_last *last)
{
    if (__builtin_expect(last->valid && last->stack == stack && last->kind == kind, 1)) {
        dst[0] = MW_REC_ALLOC_SAME;
        if (__builtin_expect(size < 16384, 1)) { /* one or two varint bytes, without the loop */
            int one = size < 128;
            dst[1] = (uint8_t)(one ? size : (size & 0x7f) | 0x80);
            dst[2] = (uint8_t)(size >> 7);
            return one ? 2 : 3;
        }
        return (size_t)(mw_put_uv(dst + 1, size) - dst);
    }
    last->kind = kind;
    last->stack = stack;
    last->valid = 1;
    uint8_t *p = mw_put_uv(mw_put_uv(mw_put_uv(dst + 2, kind), size), stack);
    dst[0] = MW_REC_ALLOC;
    dst[1] = (uint8_t)(p - dst - 2);
    return (size_t)(p - dst);
}
/* The FREE of one of the writing thread's last 8192 blocks, inline for the hooks: the
 * one-byte FREE_NEAR form up to MW_FREE_NEAR_MAX back, else the four-byte FREE record with a
 * two-byte back-distance, chosen without a branch (a random free's distance is random). dst
 * has room for 4 bytes. Returns the length, or 0 for any other block (then mw_enc_free). The
 * same bytes as mw_enc_free, which uses it. */
static inline size_t mw_enc_free_own(uint8_t *dst, mw_block_ref ref, uint64_t self_tidx, uint64_t self_seq)
{
    uint64_t d = self_seq - ref.seq;
    if (ref.tidx != self_tidx || ref.seq > self_seq || d >= 8192) return 0;
    uint64_t v = d << 1; /* the back-distance field of FREE: 256..16382 past FREE_NEAR's range */
    int near = d <= MW_FREE_NEAR_MAX;
    dst[0] = (uint8_t)(near ? (MW_REC_FREE_NEAR | d) : MW_REC_FREE);
    dst[1] = 2;
    dst[2] = (uint8_t)((v & 0x7f) | 0x80);
    dst[3] = (uint8_t)(v >> 7);
    return near ? 1 : 4;
}
size_t mw_enc_mmap(uint8_t *dst, size_t cap, uint64_t addr, uint64_t len, uint64_t prot,
                   uint64_t flags, int64_t fd, uint64_t offset, uint64_t stack,
                   const char *path, size_t path_len);
size_t mw_enc_munmap(uint8_t *dst, size_t cap, uint64_t addr, uint64_t len, uint64_t stack);
size_t mw_enc_mremap(uint8_t *dst, size_t cap, uint64_t old_addr, uint64_t old_len,
                     uint64_t new_addr, uint64_t new_len, uint64_t stack);
/* own: bytes memwatch itself holds in the process (its own mappings and its compressor's
 * memory; 0 when not known) */
size_t mw_enc_rss(uint8_t *dst, size_t cap, uint64_t t_ns, uint64_t rss, uint64_t anon,
                  uint64_t file, uint64_t shmem, uint64_t vm_size, uint64_t own);
/* RSS_D (version 5): the same sample as deltas from *last (the stream's previous RSS or RSS_D,
 * all 0 before the first), which it then becomes. Memory figures move by pages and kilobytes,
 * so their deltas go in units of the alignment they share. */
typedef struct mw_rss_last {
    uint64_t t_ns, v[6];   /* rss, anon, file, shmem, vm_size, own */
} mw_rss_last;
size_t mw_enc_rss_d(uint8_t *dst, size_t cap, uint64_t t_ns, const uint64_t v[6], mw_rss_last *last);
size_t mw_enc_sql_query(uint8_t *dst, size_t cap, uint64_t fp, uint64_t db, const char *text,
                        size_t text_len);
size_t mw_enc_sql_begin(uint8_t *dst, size_t cap, uint64_t ctx, uint64_t fp);
size_t mw_enc_sql_end(uint8_t *dst, size_t cap, uint64_t ctx);
/* The MW_HF_SQL_CTX_DELTA layout: the ctx field is mw_sql_ctx_field(ctx, *base), a delta
 * against the ctx (bit 63 cleared) of the thread's previous SQL_BEGIN (*base, 0 before the
 * first; per thread index, surviving THREAD_SWITCHes). BEGIN sets *base when written; END
 * leaves it. The decoder gives back the absolute ctx, bit 63 included. */
size_t mw_enc_sql_begin_d(uint8_t *dst, size_t cap, uint64_t ctx, uint64_t fp, uint64_t *base);
size_t mw_enc_sql_end_d(uint8_t *dst, size_t cap, uint64_t ctx, uint64_t base);
#define MW_SQL_CTX_MASK (MW_SQL_CTX_RESUME - 1)
/* field = zigzag(63-bit wrapped delta) << 1 | resume bit */
static inline uint64_t mw_sql_ctx_field(uint64_t ctx, uint64_t base)
{
    uint64_t d = ((ctx & MW_SQL_CTX_MASK) - base) & MW_SQL_CTX_MASK;
    int64_t s = d >= (1ull << 62) ? (int64_t)d - (int64_t)(1ull << 62) - (int64_t)(1ull << 62)
                                  : (int64_t)d;
    return mw_zigzag(s) << 1 | (ctx >> 63);
}
static inline uint64_t mw_sql_ctx_unfield(uint64_t field, uint64_t base)
{
    uint64_t ctx = (base + (uint64_t)mw_unzigzag(field >> 1)) & MW_SQL_CTX_MASK;
    return ctx | (field & 1) << 63;
}
size_t mw_enc_sql_res_open(uint8_t *dst, size_t cap, uint64_t type, uint64_t handle, uint64_t fp,
                           uint64_t stack, uint64_t db);
size_t mw_enc_sql_res_close(uint8_t *dst, size_t cap, uint64_t type, uint64_t handle);
size_t mw_enc_watch_reg(uint8_t *dst, size_t cap, uint64_t id, uint64_t addr, uint64_t len,
                        uint64_t flags, const char *name, size_t name_len);
size_t mw_enc_watch_unreg(uint8_t *dst, size_t cap, uint64_t id, uint64_t reason);
size_t mw_enc_watch_meta(uint8_t *dst, size_t cap, uint64_t id, const char *key, size_t key_len,
                         const char *value, size_t value_len);
/* One write event. old/new may be NULL when !(flags & MW_WF_HAS_BYTES). */
typedef struct mw_watch_write_args {
    uint64_t id, offset, len, tid, pc, stack, sql_fp, flags, t_ns;
    int64_t syscall;
    const uint8_t *old_bytes, *new_bytes;
    size_t bytes_len;
    const char *loc_file;
    size_t loc_file_len;
    uint64_t loc_line;
    const char *loc_func;
    size_t loc_func_len;
} mw_watch_write_args;
size_t mw_enc_watch_write(uint8_t *dst, size_t cap, const mw_watch_write_args *a);
size_t mw_enc_mark(uint8_t *dst, size_t cap, const char *label, size_t label_len);
/* REACH: one record holds up to n entries; *done is set to how many were encoded (the caller
 * writes further records for the rest). Each entry's block address goes into the record's
 * trailing address section (a reader of an older trace without it sees addr 0). */
typedef struct mw_reach_entry {
    mw_block_ref ref;
    uint64_t kind;
    uint64_t addr;
} mw_reach_entry;
size_t mw_enc_reach(uint8_t *dst, size_t cap, const mw_reach_entry *e, size_t n, size_t *done);
/* REACH_C (version 5): the same entries in the compact layout (TRACE-FORMAT.md section 4):
 * groups of one thread and kind; seqs, and addresses in units of their common alignment, each
 * as deltas or as runs of one delta, whichever is smaller. Readers return it as a REACH
 * record. */
size_t mw_enc_reach_c(uint8_t *dst, size_t cap, const mw_reach_entry *e, size_t n, size_t *done);
size_t mw_enc_lost(uint8_t *dst, size_t cap, uint64_t events, uint64_t bytes);
size_t mw_enc_fork(uint8_t *dst, size_t cap, uint64_t child_pid);
size_t mw_enc_exec(uint8_t *dst, size_t cap, const char *path, size_t path_len);
size_t mw_enc_spawn(uint8_t *dst, size_t cap, uint64_t child_pid, const char *path, size_t path_len);
/* The thread writing it is about to die of signal signo (si_code code, si_addr addr: the
 * faulting address of SIGSEGV/SIGBUS/SIGFPE/SIGILL), its stack there (0 = unknown). */
size_t mw_enc_fatal_signal(uint8_t *dst, size_t cap, uint64_t t_ns, uint64_t signo, uint64_t code,
                           uint64_t addr, uint64_t stack);
size_t mw_enc_limits(uint8_t *dst, size_t cap, uint64_t cgroup_max, uint64_t rlimit_as,
                     uint64_t phys_mem);
/* INHERIT: a block the process had when it was forked (a copy of block `parent` of its
 * parent's trace), created in the current thread stream like an ALLOC. parent.seq and addr
 * are written against *last (the previous INHERIT's, zero before the first; updated when the
 * record was written): the shim writes a child's inherited blocks in address order. */
typedef struct mw_inherit_last {
    uint64_t seq, addr;
} mw_inherit_last;
size_t mw_enc_inherit(uint8_t *dst, size_t cap, uint64_t size, mw_block_ref parent, uint64_t addr,
                      mw_inherit_last *last);
/* REPEAT (version 6): the len bytes at pat (whole records, none of them HEADER, CODED_RUN or
 * REPEAT) to be taken count times. 0 when count or len is out of bounds (count 0, len 0 or
 * over MW_REPEAT_MAX_PATTERN, count * len over MW_REPEAT_MAX_BYTES) or cap is short. The
 * records are not checked here (the writer's detector, mw_repeat.h, gives whole records). */
size_t mw_enc_repeat(uint8_t *dst, size_t cap, uint64_t count, const uint8_t *pat, size_t len);
/* Generic record: type + raw payload (used by tests to forge unknown records). */
size_t mw_enc_raw(uint8_t *dst, size_t cap, uint8_t type, const uint8_t *payload, size_t len);

/* ---- decoder (formats/mw_decode.c) ---------------------------------------------------- */
enum mw_status {
    MW_OK = 0,          /* a record was decoded */
    MW_NEED_MORE = 1,   /* the buffer ends inside a record (truncation if no more input) */
    MW_CORRUPT = 2,     /* malformed: *err names what and the offset */
    MW_EOF = 3,         /* reader: end of input at a record boundary */
    MW_TRUNCATED = 4,   /* reader: input ended inside a record or inside a zstd frame */
    MW_IO_ERROR = 5,    /* reader: could not read the file */
    MW_BAD_VERSION = 6, /* preamble names a format version this decoder does not know */
};

/* Decoder state that spans records: which thread stream we are in and the per-thread address
 * delta base. Threads are indexed densely; the table grows on demand (analyzer side only). */
typedef struct mw_decoder {
    uint64_t cur_tidx;
    uint64_t last_tid;         /* tid of the last THREAD_START (THREAD_START_D's base) */
    uint64_t *prev_addr;       /* per tidx */
    uint64_t *seq;             /* per tidx: count of ALLOC/REALLOC records seen */
    uint64_t *sql_base;        /* per tidx: ctx of the last SQL_BEGIN (MW_HF_SQL_CTX_DELTA) */
    mw_alloc_last *alloc_last; /* per tidx: kind and stack of the last full ALLOC (ALLOC_SAME) */
    mw_node_last *node_last;   /* per tidx: id and ip of the last STACK_NODE_D */
    mw_inherit_last inherit_last; /* parent seq and address of the stream's last INHERIT */
    mw_rss_last rss_last;      /* the stream's last RSS sample (RSS_D's base) */
    mw_window **win;           /* per tidx (version 3): rank window, allocated on first use */
    size_t nthreads;           /* capacity of the per-tidx arrays */
    struct mw_run_state {      /* the CODED_RUN being expanded (version 3) */
        uint8_t *buf;          /* copy of its columns */
        size_t cap;
        const uint8_t *ops, *rs, *rs_end, *ss, *ss_end, *raw, *raw_end, *misc, *misc_end;
        uint64_t acc, offset;
        unsigned nacc;
        uint64_t left;         /* ops not yet returned */
        uint64_t step_z;       /* version 5: the value of the run's last op 4 (op 5 repeats it) */
        uint64_t again;        /* frees of the op 5 being expanded still to return */
        int has_step;          /* an op 4 came in this run */
    } run;
    struct mw_repeat_state {   /* the REPEAT being replayed (version 6) */
        uint8_t buf[MW_REPEAT_MAX_PATTERN]; /* a copy of its records */
        size_t len, pos;       /* their length; where the next record starts */
        uint64_t left;         /* times still to go, counting the one under way */
        uint64_t offset;       /* the REPEAT's stream offset */
    } rep;
    uint32_t version;          /* from the preamble; 0 (not seen) decodes as the current one */
    uint64_t hflags;           /* flags of the last HEADER decoded (MW_HF_*) */
    char err[160];
} mw_decoder;

void mw_decoder_init(mw_decoder *d);
void mw_decoder_free(mw_decoder *d);
/* Checks the 12-byte preamble. Returns MW_OK, MW_NEED_MORE, MW_CORRUPT or MW_BAD_VERSION. */
int mw_decode_preamble(mw_decoder *d, const uint8_t *p, size_t n, uint32_t *version);
/* Decodes one record from p[0..n). stream_offset is p's offset in the stream (for messages
 * and rec->offset). On MW_OK *used is the record's total size. A CODED_RUN (version 3) is
 * returned as itself (type MW_REC_CODED_RUN, its bytes used), and its events by the next calls
 * as ordinary FREE/ALLOC/TIME records with *used 0, rec->length 0 and rec->offset the run's;
 * those calls do not look at p. A REPEAT (version 6) likewise: returned as itself, then its
 * records as many times as it says, each with *used 0 and rec->offset the REPEAT's (a
 * CODED_RUN's events before anything else). Unknown types decode as MW_OK
 * with rec->type set and no fields. For ALLOC/REALLOC, *seq_out (if non-NULL) receives the
 * implicit sequence number and rec->u.*.addr the absolute address; for FREE/REALLOC refs are
 * resolved to absolute (tidx, seq). */
int mw_decode_record(mw_decoder *d, const uint8_t *p, size_t n, uint64_t stream_offset,
                     mw_record *rec, size_t *used, uint64_t *seq_out);
/* Iterates a REACH record's entries. Returns 1 and fills *e, 0 at the end, -1 if malformed. */
typedef struct mw_reach_iter {
    const uint8_t *p, *end;
    const uint8_t *ap, *aend;   /* address section (ap == NULL: none) */
    uint64_t left, prev_addr, prev_seq;
    int seq_delta;
    /* REACH_C: the group and the seq run being read */
    int compact, seq_runs, addr_runs;
    unsigned shift;
    const uint8_t *sp, *send;
    uint64_t g_left, g_tidx, g_kind, s_left, s_delta, a_left, a_delta;
} mw_reach_iter;
void mw_reach_iter_init(mw_reach_iter *it, const mw_record *rec);
int mw_reach_next(mw_reach_iter *it, mw_reach_entry *e);
const char *mw_record_type_name(unsigned type);
const char *mw_alloc_kind_name(unsigned kind);

/* ---- file reader (formats/mw_reader.c): zstd frames -> records ------------------------- */
typedef struct mw_reader mw_reader;
/* Opens a trace file (zstd-compressed stream; an uncompressed stream starting with the magic
 * is accepted too). Returns NULL and fills err on failure. */
mw_reader *mw_reader_open(const char *path, char *err, size_t errlen);
/* Same, over a memory buffer (not copied; must outlive the reader). */
mw_reader *mw_reader_open_mem(const uint8_t *data, size_t len, char *err, size_t errlen);
/* Next record: MW_OK, MW_EOF, MW_TRUNCATED, MW_CORRUPT, MW_IO_ERROR, MW_BAD_VERSION.
 * After anything but MW_OK, mw_reader_error() describes it (with byte offsets). */
int mw_reader_next(mw_reader *r, mw_record *rec, uint64_t *seq_out);
const char *mw_reader_error(const mw_reader *r);
/* A trace's records are at most MW_READER_RECORDS_PER_BYTE for each byte of the file read so
 * far, plus MW_READER_SLACK_BYTES: past that, MW_CORRUPT. REPEAT records (each up to 16 MiB of
 * records, TRACE-FORMAT.md 2.5) compress to a few bytes apiece when they are alike, so
 * without a bound an 83-byte file stood for 80 G records (11 minutes of analysis; a few
 * bytes more, days). The shim's densest traces, a malloc/free loop at any zstd level, hold
 * about 4.6 x 10^4 records per byte; the bound is 20 times that. */
#define MW_READER_RECORDS_PER_BYTE (1ull << 20)
#define MW_READER_SLACK_BYTES 64u
/* Sets a reader's bound (records per byte of file) to another value (tests). */
void mw_reader_set_record_bound(mw_reader *r, uint64_t per_byte);
uint64_t mw_reader_compressed_offset(const mw_reader *r);   /* bytes of the file consumed */
uint64_t mw_reader_stream_offset(const mw_reader *r);       /* decompressed bytes consumed */
uint32_t mw_reader_version(const mw_reader *r);
/* The descriptor of a file reader, -1 for memory input (mw_tracelock_held: the trace's
 * process still running). */
int mw_reader_fd(const mw_reader *r);
void mw_reader_close(mw_reader *r);

#endif /* MW_FORMAT_H */
