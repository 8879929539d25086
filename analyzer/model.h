/*
 * model.h — the analyzer's in-memory model of one traced process (mw_proc), built by
 * ingest.c while the trace streams by, then written to the store (store.c) and rendered by
 * the report_*.c files.
 *
 * Memory is bounded by live allocations, distinct stacks/sites and small decimated series,
 * never by the trace's length: per-allocation data lives only while the block is live; what
 * survives is aggregated per site (site = stack node id of the allocation).
 */
#ifndef MW_MODEL_H
#define MW_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "blocktab.h"
#include "hmap.h"
#include "omap.h"
#include "mw_format.h"

#define MW_KIND_COUNT 4 /* enum mw_reach_kind: unknown, definite, indirect, reachable */
#define MW_SERIES_CAP 2048      /* process series points kept (pairs merged beyond) */
#define MW_SITE_SERIES_CAP 128  /* per-site live-bytes points kept (pairs merged beyond) */
#define MW_WATCH_EVENTS_KEEP 10000 /* write events kept for the report and store */
#define MW_TICK_NS 100000000ull /* regular sample interval (trace time) */

/* One point of a per-site live-bytes series. */
typedef struct mw_point {
    uint64_t t_ns;
    int64_t v;
} mw_point;

/* One point of the process time series. */
typedef struct mw_sample {
    uint64_t t_ns;
    uint64_t heap;   /* tracked heap live bytes */
    uint64_t mmap;   /* tracked mmap live bytes */
    uint64_t rss, anon, file; /* last RSS sample at or before t (0 before the first) */
    uint64_t mmap_anon; /* tracked anonymous mmap live bytes (patterns: external memory) */
    uint64_t own;       /* of rss, memwatch's own memory (the RSS record's own field; 0 when
                           the trace does not say) */
} mw_sample;

/* The site of blocks a fork child inherited from its parent whose allocation stack is not
 * known (the parent's trace was not analyzed with the child's): a stack id no trace of the
 * shim reaches (it numbers nodes from 1). */
#define MW_STACK_INHERITED ((uint64_t)INT64_MAX)
/* Stacks from 2^62 on are a parent's, copied into a child's tree for its inherited blocks
 * (analyzer/inherit.c); with MW_STACK_INHERITED, the sites of inherited blocks. */
#define MW_STACK_IMPORTED_BASE (1ull << 62)
static inline bool mw_stack_inherited(uint64_t stack) { return stack >= MW_STACK_IMPORTED_BASE; }

/* A block's id (tidx, seq) as one map key: pending frees, an inherited block's parent
 * (mw_proc.inherit_parent, written by ingest.c, read by inherit.c). */
static inline uint64_t mw_block_key(uint64_t tidx, uint64_t seq) { return (tidx << 44) ^ seq; }

/* An allocation site: every allocation made with the same stack. */
typedef struct mw_site {
    uint64_t stack;          /* stack node id (0 = no stack recorded) */
    uint64_t calls, bytes;   /* allocations made here, bytes requested */
    uint64_t frees;          /* of those, freed */
    uint64_t temporary;      /* freed right after allocation (heaptrack's definition) */
    int64_t live;            /* live bytes now */
    uint64_t live_blocks;
    uint64_t peak_live;      /* max live bytes */
    uint64_t leaked_bytes[MW_KIND_COUNT], leaked_blocks[MW_KIND_COUNT]; /* unfreed at end */
    mw_point *series;        /* live bytes over time (only when it changed), decimated */
    uint32_t nseries, series_cap;
    bool dirty;              /* live changed since the last tick */
} mw_site;

typedef struct mw_stack_node {
    uint64_t id, parent, ip;
} mw_stack_node;

typedef struct mw_module {
    uint64_t id, bias, start, size;
    char *path;
    uint8_t build_id[64];
    size_t build_id_len;
    bool unloaded;
} mw_module;

typedef struct mw_thread_info {
    uint64_t tidx, tid, parent_tidx;
    char *name;
    bool seen;             /* THREAD_START seen */
    bool ended;
    /* ingest state */
    mw_btab live;          /* live blocks this thread allocated, by sequence number */
    uint64_t seq;          /* last implicit sequence number of this thread */
    uint64_t sql_ctx[8], sql_fp[8];  /* SQL context stack (innermost last) */
    uint32_t sql_idx[8];
    int sql_depth;
} mw_thread_info;

/* Threads by index, in pages of MW_THREAD_PAGE made when one of their indexes is first
 * used: real traces number threads densely from 0, but a trace whose one record names thread
 * index 65 535 cost 65 536 entries (18 MB, held until the report) when they were one array. */
#define MW_THREAD_PAGE 256u
typedef struct mw_threads {
    mw_thread_info **page;  /* page[tidx / MW_THREAD_PAGE]; NULL: none of its indexes used */
    size_t npages;          /* entries of page */
    size_t n;               /* 1 + the highest index used (0: none): iterate i < n */
} mw_threads;

typedef struct mw_mapping {
    uint64_t addr, len, prot, flags, offset, stack;
    int64_t fd;
    char *path;             /* NULL for anonymous ("[brk]": what the program's sbrk added) */
    uint64_t t_ns;
} mw_mapping;

typedef struct mw_mark {
    uint64_t t_ns, tidx, heap, rss;
    char *label;
    /* blocks allocated after this mark (and before the next) still unfreed at exit, after
     * suppressions (filled by mw_supp_apply) */
    uint64_t leaked_bytes, leaked_blocks;
} mw_mark;

typedef struct mw_sql_query {
    uint64_t fp, db;
    char *text;             /* NULL until SQL_QUERY seen */
    uint64_t calls, bytes_allocated, bytes_leaked, blocks_leaked, allocations;
} mw_sql_query;

/* An open SQL resource (live), and after ingest the leaked ones grouped by (type, stack). */
typedef struct mw_sql_resource {
    uint64_t type, handle, fp, stack, db, count;
} mw_sql_resource;

typedef struct mw_watch_var {
    uint64_t id, addr, len, flags;
    char *name;
    uint64_t writes;
    bool unregistered;
    uint64_t unreg_reason;
    char **meta;            /* key, value pairs */
    size_t nmeta;
} mw_watch_var;

typedef struct mw_watch_event {
    uint64_t var_id, offset, len, tid, tidx, pc, stack, sql_fp, flags, t_ns, loc_line;
    int64_t syscall;
    uint8_t *old_bytes, *new_bytes;
    size_t nbytes;
    char *loc_file, *loc_func;
    char *thread_name;     /* the writer's name when the event was read (NULL: unknown) */
} mw_watch_event;

/* Leaks at exit grouped by (site, kind). */
typedef struct mw_leak {
    uint32_t site;
    uint8_t kind;
    bool suppressed;
    uint64_t bytes, blocks;
} mw_leak;

#define MW_VEC(T) struct { T *v; size_t n, cap; }
typedef struct mw_spawn { uint64_t pid; char *path; } mw_spawn;
#define MW_SPAWNS_KEPT 4096u
typedef MW_VEC(uint32_t) mw_dense_ix;

typedef struct mw_proc {
    char *trace_path;
    /* HEADER */
    bool have_header;
    uint32_t version;
    uint64_t pid, ppid, ptr_size, page_size, start_realtime_ns, start_mono_ns, flags;
    char *exe;
    char **argv;
    size_t argc;
    /* END / facts */
    bool have_end, truncated;
    bool still_running;               /* no end record, and the trace's lock was held when it
                                         was read (formats/mw_tracelock.h): not killed */
    uint64_t end_t_ns, end_reason;
    int64_t exit_status;
    uint64_t lost_events, lost_bytes;
    uint64_t records, unknown_records, unmatched_frees;
    uint64_t limit_cgroup, limit_rlimit_as, limit_phys;
    /* FATAL_SIGNAL: the signal the process died of (0 = none recorded), where and when */
    uint64_t fatal_signo, fatal_code, fatal_addr, fatal_stack, fatal_t_ns, fatal_tidx;
    char *fatal_thread;               /* its thread's name when the signal was read (the index
                                         may pass to a new thread after it) */
    MW_VEC(uint64_t) forks;
    MW_VEC(char *) execs;
    MW_VEC(mw_spawn) spawns;          /* children started running a program LD_PRELOAD cannot
                                         reach (SPAWN records: the first MW_SPAWNS_KEPT) */
    uint64_t spawns_unkept;           /* such SPAWN records past those */

    /* totals */
    uint64_t allocations, frees, reallocs, bytes_allocated, temporary;
    int64_t heap_live;
    uint64_t peak_heap, peak_heap_t, peak_rss, peak_rss_t;
    uint64_t mmap_live, peak_mmap, mmaps, munmaps;
    uint64_t mmap_anon_live;          /* of mmap_live, anonymous mappings (patterns) */
    uint64_t t_ns, last_tick_ns, last_rss, last_anon, last_file;
    uint64_t last_own, own_at_peak_rss; /* memwatch's own memory (RSS records), then and at the peak */
    uint64_t peak_prog_rss;           /* the largest RSS less memwatch's own (--fail-on peak_rss) */
    uint64_t rss_records;             /* RSS records seen */

    /* tables */
    mw_threads threads;               /* by tidx (mw_thread_at) */
    uint64_t cur_tidx;
    /* the last MW_ENDED_NAMES threads whose index a new thread took over: a record read after
     * that (a watch event the fault thread wrote about an earlier writer) still names them */
#define MW_ENDED_NAMES 1024u
    struct mw_ended_name { uint64_t tid; char *name; } *ended_names; /* allocated at the first */
    size_t ended_next;                /* slots used so far (the ring wraps) */
    MW_VEC(mw_module) modules;
    mw_hmap module_by_id;
    MW_VEC(mw_stack_node) nodes;
    mw_dense_ix node_ix;              /* node id -> index in nodes (mw_dense_*); ids far beyond
                                         the node count (a damaged or hostile trace) go to
                                         node_by_id */
    mw_hmap node_by_id;
    MW_VEC(mw_site) sites;
    mw_dense_ix site_ix;              /* stack id -> index in sites, like node_ix */
    mw_hmap site_by_stack;
    MW_VEC(uint32_t) dirty_sites;
    size_t nlive;                     /* live blocks (in the threads' tables) */
    uint64_t last_stack;              /* one-entry cache of site_for() */
    uint32_t last_site;               /* UINT32_MAX: empty */
    mw_hmap pending_frees;            /* frees seen before their allocation */
    uint64_t inherited_blocks, inherited_bytes; /* INHERIT records: the parent's blocks at fork */
    mw_hmap inherit_parent;           /* inherited block's key (tidx << 44 ^ seq) -> the parent's */
    MW_VEC(mw_sample) series;
    uint32_t series_stride;           /* samples merged per point after decimation */
    MW_VEC(mw_mapping) mappings;      /* live mappings (none overlap another) */
    mw_omap mapping_at;               /* their start addresses -> their indexes in mappings */
    MW_VEC(mw_mark) marks;
    MW_VEC(mw_sql_query) sql;
    mw_hmap sql_by_fp;
    MW_VEC(mw_sql_resource) sql_open;      /* live resources */
    mw_hmap sql_res_by_handle;        /* (type<<61 ^ handle) -> index in sql_open */
    MW_VEC(mw_sql_resource) sql_leaked;    /* after finish: grouped by (type, stack) */
    MW_VEC(mw_watch_var) watch_vars;
    mw_hmap watch_by_id;
    MW_VEC(mw_watch_event) watch_events;
    uint64_t watch_events_total;

    /* after finish: unfreed blocks and leak groups */
    MW_VEC(mw_block) unfreed;
    MW_VEC(mw_leak) leaks;
    uint64_t unfreed_bytes[MW_KIND_COUNT], unfreed_blocks[MW_KIND_COUNT];
    /* after suppressions: */
    uint64_t leak_bytes[MW_KIND_COUNT], leak_blocks[MW_KIND_COUNT];   /* not suppressed */
    uint64_t supp_bytes, supp_blocks;
    uint64_t premark_leaked_bytes, premark_leaked_blocks; /* leaked before the first mark */
    uint64_t nleaked_mappings_bytes;
} mw_proc;

/* A dense id -> index table: v[id] = index + 1, 0 = not here. For ids the shim numbers 1, 2, 3...
 * (stack nodes); callers keep ids far beyond their element count in a hash map instead. */
bool mw_dense_set(mw_dense_ix *ix, uint64_t id, size_t index);  /* false: out of memory */
static inline int64_t mw_dense_get(const mw_dense_ix *ix, uint64_t id)
{
    return id < ix->n && ix->v[id] ? (int64_t)ix->v[id] - 1 : -1;
}
/* Whether id is near enough to the element count n to go into a dense table. */
static inline bool mw_dense_ok(uint64_t id, size_t n, size_t index)
{
    return id < 2 * (uint64_t)n + 65536 && index < UINT32_MAX - 1;
}

#define MW_VEC_PUSH(vec, val)                                                      \
    (((vec).n < (vec).cap || mw_vec_grow((void **)&(vec).v, &(vec).cap, sizeof *(vec).v, \
                                         (vec).n + 1))                             \
         ? ((vec).v[(vec).n++] = (val), true)                                      \
         : false)
bool mw_vec_grow(void **v, size_t *cap, size_t elem, size_t need);

mw_proc *mw_proc_new(const char *trace_path);
void mw_proc_free(mw_proc *p);
/* Unfreed-bytes helpers over the (post-suppression) leak figures. */
uint64_t mw_proc_leaked_bytes(const mw_proc *p);   /* definite + indirect */
uint64_t mw_proc_unfreed_bytes(const mw_proc *p);  /* every kind */
const char *mw_reach_kind_name(unsigned kind);
/* Stack frames of a node, innermost first: fills ips (at most max) and returns the depth. */
size_t mw_proc_stack_ips(const mw_proc *p, uint64_t stack, uint64_t *ips, size_t max);
/* Index in p->nodes of stack node id, or -1. */
int64_t mw_proc_node_index(const mw_proc *p, uint64_t id);
/* Index in p->sites of the site of stack id, or -1. */
int64_t mw_proc_site_index(const mw_proc *p, uint64_t stack);
const char *mw_sql_db_name(uint64_t db);
const char *mw_sql_res_name(uint64_t type);
/* Name of a thread index ("" when unknown) and its kernel tid (0 when unknown). */
const char *mw_proc_thread_name(const mw_proc *p, uint64_t tidx);
/* The thread of index tidx; NULL when no index of its page was used (nothing to say of it). */
static inline mw_thread_info *mw_thread_at(const mw_proc *p, uint64_t tidx)
{
    if (tidx >= p->threads.n) return NULL;
    mw_thread_info *pg = p->threads.page[tidx / MW_THREAD_PAGE];
    return pg ? &pg[tidx % MW_THREAD_PAGE] : NULL;
}

#endif /* MW_MODEL_H */
