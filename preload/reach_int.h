/*
 * reach_int.h — internals shared by the reachability scan's two files: reach.c (snapshot,
 * marking, classification, REACH records) and reach_roots.c (the own-range registry, raw
 * memory and safe reads, /proc/self/maps, and which ranges are roots).
 */
#ifndef MW_REACH_INT_H
#define MW_REACH_INT_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mw_shim.h"

/* ---- shared types ---------------------------------------------------------------------- */
#define PAGE 4096u
#define RD_BUF (256u * 1024u)      /* scan buffer */
#define WIN_BUF (1024u * 1024u)    /* clique phase: the heap around the next leaders */
#define RED_ZONE 128u              /* x86-64 ABI red zone below sp (valgrind scans it too) */

static inline uintptr_t page_up(uintptr_t x) { return (x + PAGE - 1) & ~(uintptr_t)(PAGE - 1); }
static inline uintptr_t page_down(uintptr_t x) { return x & ~(uintptr_t)(PAGE - 1); }

typedef mw_live_block block_ent;   /* the snapshot's entries, sorted by addr */

enum { ST_UNREACHED = 0, ST_REACHABLE = 1, ST_INDIRECT = 2 };

typedef struct range {
    uintptr_t lo, hi;
    unsigned flags;
} range;
#define R_LIBC 0x1u      /* inside libc's writable segment: main_arena lives there */
#define R_CHUNKS 0x2u    /* anonymous: skip glibc mmapped chunks found at page starts */
#define R_SKIP 0x4u      /* exclusion: not a root */
#define R_ROOT 0x8u      /* exclusion that is itself a root (module segment) */
#define R_HEAP 0x10u     /* scan_range over a block's own memory (mw_reach_read_heap) */

typedef struct reach_page {   /* reach_index.c: the blocks overlapping one 4 KiB page */
    uint64_t page;
    uint32_t first, count;    /* count 0: empty slot */
} reach_page;

typedef struct vma {
    uintptr_t lo, hi;
    char perm[4];
    int kind;
} vma;
enum { VK_ANON, VK_FILE, VK_HEAP, VK_STACK, VK_SPECIAL, VK_DEV };

typedef struct reach_ctx {
    block_ent *blk;
    size_t nblk, blk_cap;
    uint8_t *state;
    uint32_t *stack;
    size_t sp;
    uintptr_t min_addr, max_end;
    uint8_t *buf;             /* RD_BUF bytes */
    bool pvr;                 /* process_vm_readv usable */
    bool alone;               /* no program thread but this one: heap blocks are read directly */
    bool direct_ok;           /* no direct copy has faulted (reach_roots.c, guarded_copy) */
    sigset_t copy_mask;       /* this thread's signal mask before the direct copies' handler */
    int mem_fd;               /* /proc/thread-self/mem, -1: none (mw_reach_read_setup) */
    bool no_swap;             /* nothing of the process in swap: mincore's absent = untouched */
    int pagemap_fd;           /* /proc/thread-self/pagemap for PAGEMAP_SCAN, -1: none */
    pid_t pid;
    vma *vmas;
    size_t nvma, vma_cap;
    range *excl;              /* exclusions, sorted by lo once all are in (reach_roots.c) */
    size_t nexcl, excl_cap;
    size_t excl_lost;         /* exclusions that found no room */
    range *aheap;             /* a foreign malloc's own mappings (alloc_ranges.c), sorted */
    size_t naheap;
    range *roots;
    size_t nroots, roots_cap;
    bool roots_short;         /* a root found no room (no memory): no verdicts then */
    uintptr_t libc_lo[4], libc_hi[4];
    size_t nlibc;
    size_t tls_below;         /* static TLS bytes below the thread pointer (0: unknown) */
    uint8_t *copy;            /* clique phase: contents of the unreached blocks */
    uint64_t *coff;           /* per block: offset in copy, or NO_COPY */
    size_t copy_len;
    uint8_t *win;             /* WIN_BUF bytes (reach.c, window_at): [win_lo, win_hi) as read */
    uintptr_t win_lo, win_hi;
    size_t win_size, win_hits;  /* next read's size; blocks served since the last read */
    reach_page *pages;        /* reach_index.c; NULL: binary search over blk */
    size_t pages_cap, pages_mask;
    uint32_t *big;            /* blocks too large for the pages, in address order */
    size_t nbig;
    uint64_t deadline_ns;     /* mw_now_ns(); 0: none (MEMWATCH_REACH_TIMEOUT_MS=0) */
    bool out_of_time;         /* the deadline passed: the scan stops, no verdicts */
} reach_ctx;

/* ---- reach_roots.c ----------------------------------------------------------------------- */
/* Reads n bytes at src into dst; returns how many leading bytes could be read (0 when the
 * first page is not readable): through /proc/thread-self/mem while pages are shared with
 * another process, else process_vm_readv on our own thread, or, where that system call is
 * not permitted, a direct copy inside the maps snapshot (reach_roots.c). */
size_t mw_reach_read(reach_ctx *c, void *dst, uintptr_t src, size_t n);
/* Chooses how mw_reach_read and mw_reach_read_heap read (before the first read). */
void mw_reach_read_setup(reach_ctx *c);
/* After the last read: gives SIGSEGV and SIGBUS back the actions they had before the scan's
 * direct copies (and the thread its signal mask). */
void mw_reach_read_done(reach_ctx *c);
/* mw_reach_read for the memory of live blocks (the program's heap): a plain copy when c->alone
 * and src lies in an anonymous or heap mapping of the maps snapshot. */
size_t mw_reach_read_heap(reach_ctx *c, void *dst, uintptr_t src, size_t n);
/* Snapshot of /proc/self/maps into c->vmas (sorted); false on failure. */
bool mw_reach_load_maps(reach_ctx *c);
/* The mapping containing a, or NULL. */
vma *mw_reach_vma_at(reach_ctx *c, uintptr_t a);
/* Index of the first mapping ending above a (c->nvma when none): the one holding a, or the
 * next one up. */
size_t mw_reach_vma_from(const reach_ctx *c, uintptr_t a);
/* Fills c->roots: the ranges to scan (see reach_roots.c); my_sp is the exiting thread's
 * lowest root address (its caller's frames). */
void mw_reach_roots(reach_ctx *c, uintptr_t my_sp);
void mw_reach_roots_done(reach_ctx *c);   /* frees what mw_reach_roots kept (any time) */

/* ---- reach_index.c ----------------------------------------------------------------------- */
/* Builds the address -> block index over the sorted c->blk (nothing when there are few
 * blocks or memory is short: find_block then searches blk). */
void mw_reach_index_build(reach_ctx *c);
void mw_reach_index_free(reach_ctx *c);
/* Index of the block containing v (start or interior; a 0-byte block only at its start), or
 * -1; c->pages must be set. */
long mw_reach_index_find(const reach_ctx *c, uintptr_t v);

#endif /* MW_REACH_INT_H */
