/*
 * stack.c — allocation stacks: cached libunwind capture and interning into the stack tree.
 *
 * A stack is a node of a global tree: (parent node, return address) -> node id, written once
 * as a STACK_NODE record by the thread that creates it. Capturing is made cheap by a per-thread
 * cache of the previous capture's frames (stack slot address, return address, node id): the
 * hook's caller frame is known without unwinding (__builtin_frame_address of the hook, built
 * with frame pointers), and when it matches a cached frame whose cached ancestors still hold
 * the same return addresses in the same slots, the cached node is reused without unwinding:
 * a tight loop calling malloc costs a few loads. Otherwise, when the slots are known, a
 * partial capture unwinds the few innermost frames until one of them is a cached frame still
 * in place, and keeps the cached part above it (an interpreter: its eval loop's frame stays
 * while the frames under it change from one malloc to the next). Otherwise libunwind
 * captures the stack, on a stack of the shim's own (a program's thread may have little to
 * spare): unw_step for a thread's first captures, then unw_backtrace, fast once its
 * per-thread trace cache is warm but costly to set up (STEP_CAPTURES); only the part not
 * shared with the previous stack is interned.
 */
#define UNW_LOCAL_ONLY
#include <libunwind.h>
#include <errno.h>
#include <sys/mman.h>

#include "mw_core.h"

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h> /* client requests only: a few no-op instructions natively */
#endif
#endif

#define NODE_SHARDS 64u

/* A node in 16 bytes: ip (48 bits, user-space code addresses) with the low 16 bits of the
 * parent, then the parent's other 24 bits and the id (40 bits each: a trillion nodes).
 * Smaller entries: fewer cache lines and TLB entries per probe of a big table, the cost of
 * every new node in a program with millions of distinct stacks. */
#define NODE_IP_BITS 48u
#define NODE_ID_BITS 40u
typedef struct node_entry {
    uint64_t a, b; /* a: ip | parent << 48; b: parent >> 16 | id << 24; b == 0: empty */
} node_entry;

static inline node_entry node_pack(uint64_t parent, uint64_t ip, uint64_t id)
{
    return (node_entry){ ip | parent << NODE_IP_BITS, parent >> (64u - NODE_IP_BITS) | id << 24 };
}
static inline uint64_t node_id(const node_entry *e) { return e->b >> 24; }
static inline uint64_t node_parent(const node_entry *e)
{
    return e->a >> NODE_IP_BITS | (e->b & ((1ull << 24) - 1)) << (64u - NODE_IP_BITS);
}
static inline uint64_t node_ip(const node_entry *e) { return e->a & ((1ull << NODE_IP_BITS) - 1); }

typedef struct node_shard {
    atomic_flag lock;
    uint32_t cap, count;
    node_entry *tab;
    char pad[64 - sizeof(atomic_flag) - 8 - sizeof(node_entry *)];
} node_shard;

static _Alignas(64) node_shard nshards[NODE_SHARDS];
static _Atomic uint64_t next_node;
/* >0 while this thread is unwinding or interning: a signal handler that interrupted it must
 * not unwind or take an intern lock itself (mw_stack_from_ucontext answers 0 then) */
static __thread int in_stack __attribute__((tls_model("initial-exec")));

static inline uint64_t hash2(uint64_t a, uint64_t b)
{
    uint64_t h = (a * 0x9E3779B97F4A7C15ull) ^ (b + 0x632BE59BD9B4E019ull + (a << 6) + (a >> 2));
    h *= 0xBF58476D1CE4E5B9ull;
    return h ^ (h >> 31);
}

void mw_stack_init(void)
{
    unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_PER_THREAD);
    unw_set_cache_size(unw_local_addr_space, 1024, 0);
}

void mw_stack_reset_after_fork(void)
{
    for (unsigned i = 0; i < NODE_SHARDS; i++) {
        atomic_flag_clear(&nshards[i].lock);
        nshards[i].cap = nshards[i].count = 0;
        nshards[i].tab = NULL;
    }
    atomic_store(&next_node, 0);
}

/* The new table's pages are given at once (MAP_POPULATE): the rehash below, and every probe
 * after it, reads a slot before writing it, so a page left to its first access would map the
 * shared zero page and then be copied on the write, with a TLB shootdown on every CPU the
 * process runs on. A grown table is 3/8 full after the rehash, entries on every page anyway;
 * a shard's first table is a page (256 nodes: a fork child starts all 64 shards afresh, and
 * at 16 KiB each that was a megabyte mapped and zeroed per child, 10% of a shell's subshell
 * under the shim). bench/deep: 0.6-0.7 -> 0.3-0.5 s of system time. */
static bool grow(node_shard *s)
{
    uint32_t ncap = s->cap ? s->cap * 2 : 256;
    node_entry *nt = mw_real.mmap(NULL, (size_t)ncap * sizeof(node_entry), PROT_READ | PROT_WRITE,
                                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (nt == MAP_FAILED) return false;
    mw_own_range_add(nt, (size_t)ncap * sizeof(node_entry));
    for (uint32_t i = 0; i < s->cap; i++) {
        node_entry *e = &s->tab[i];
        if (!e->b) continue;
        uint32_t j = (uint32_t)hash2(node_parent(e), node_ip(e)) & (ncap - 1);
        while (nt[j].b) j = (j + 1) & (ncap - 1);
        nt[j] = *e;
    }
    if (s->tab) {
        mw_own_range_del(s->tab, (size_t)s->cap * sizeof(node_entry));
        mw_real.munmap(s->tab, (size_t)s->cap * sizeof(node_entry));
    }
    s->tab = nt;
    s->cap = ncap;
    return true;
}

static uint64_t intern_global(mw_thread *t, uint64_t parent, uint64_t ip, uint64_t h, uint64_t want,
                              bool *created);

/* Node id for (parent, ip); creates and emits it when new. 0 when memory ran out. A small
 * per-thread cache answers repeated lookups without the shard lock. */
static uint64_t intern(mw_thread *t, uint64_t parent, uint64_t ip, bool *created)
{
    if ((ip >> NODE_IP_BITS) || (parent >> NODE_ID_BITS)) return 0; /* does not fit a node entry: unknown */
    uint64_t h = hash2(parent, ip);
    unsigned k = (unsigned)(h >> 20) & (MW_ICACHE - 1);
    if (t->icache[k].id && t->icache[k].parent == parent && t->icache[k].ip == ip) return t->icache[k].id;
    uint64_t id = intern_global(t, parent, ip, h, 0, created);
    if (id) {
        t->icache[k].parent = parent;
        t->icache[k].ip = ip;
        t->icache[k].id = id;
    }
    return id;
}

/* (parent, ip)'s node from the shard table, created when absent: with id want if it is not 0
 * (reserved by intern_chain), else the next id. *created tells which happened. */
static uint64_t intern_global(mw_thread *t, uint64_t parent, uint64_t ip, uint64_t h, uint64_t want,
                              bool *created)
{
    node_shard *s = &nshards[h >> 58];
    mw_spin_lock(&s->lock);
    if ((s->count + 1) * 4 > s->cap * 3 && !grow(s)) {
        mw_spin_unlock(&s->lock);
        return 0;
    }
    uint32_t m = s->cap - 1, i = (uint32_t)h & m;
    node_entry key = node_pack(parent, ip, 0);
    for (; s->tab[i].b; i = (i + 1) & m) {
        if (s->tab[i].a == key.a && (s->tab[i].b & ((1ull << 24) - 1)) == key.b) {
            uint64_t id = node_id(&s->tab[i]);
            mw_spin_unlock(&s->lock);
            return id;
        }
    }
    uint64_t id = want ? want : atomic_fetch_add_explicit(&next_node, 1, memory_order_relaxed) + 1;
    if (id >> NODE_ID_BITS) { /* past a trillion nodes: unknown stacks from here on */
        mw_spin_unlock(&s->lock);
        return 0;
    }
    s->tab[i] = node_pack(parent, ip, id);
    s->count++;
    mw_spin_unlock(&s->lock);
    MW_EMIT(t, 40, mw_enc_stack_node_d, id, parent, ip, &t->node_last);
    *created = true;
    return id;
}

/* Interns frames fr[n-1] (a child of parent, a node this capture has just created) down to
 * fr[0]. Below a new node every node is new (but for a thread that finds the new node and
 * creates the same child first), and each lives at a random place of a table that may be
 * far bigger than the caches: one after the other, every node of a new stack tail costs a
 * miss. So a batch of ids is reserved at once, the slots of all of them are prefetched, then
 * each is inserted as usual (found instead if another thread was first: from there on the
 * reserved ids no longer apply and the rest goes one by one). Ids left unused are gaps.
 * False when memory ran out (unknown stack). */
#define CHAIN_BATCH 32u
static bool intern_chain(mw_thread *t, mw_frame *fr, unsigned n, uint64_t parent)
{
    while (n > 0) {
        unsigned k = n < CHAIN_BATCH ? n : CHAIN_BATCH;
        uint64_t base = atomic_fetch_add_explicit(&next_node, k, memory_order_relaxed) + 1, h[CHAIN_BATCH];
        if ((base + k) >> NODE_ID_BITS) return false;
        for (unsigned j = 0; j < k; j++) { /* frame n-1-j, as the child of base+j-1 (or parent) */
            uint64_t ip = fr[n - 1 - j].ret;
            h[j] = hash2(j ? base + j - 1 : parent, ip);
            const node_shard *s = &nshards[h[j] >> 58];
            node_entry *tab = __atomic_load_n(&s->tab, __ATOMIC_RELAXED);
            uint32_t cap = __atomic_load_n(&s->cap, __ATOMIC_RELAXED);
            if (tab) __builtin_prefetch(&tab[(uint32_t)h[j] & (cap - 1)], 1);
        }
        for (unsigned j = 0; j < k; j++) {
            uint64_t ip = fr[n - 1 - j].ret, id;
            bool created = false;
            if (parent == (j ? base + j - 1 : parent) && !(ip >> NODE_IP_BITS))
                id = intern_global(t, parent, ip, h[j], base + j, &created);
            else /* a thread was first somewhere above: the reserved ids no longer apply */
                id = intern(t, parent, ip, &created);
            if (!id) return false;
            fr[n - 1 - j].node = id;
            parent = id;
        }
        n -= k;
    }
    return true;
}

/* Interns fr[n-1] (a child of parent) down to fr[0], filling their nodes: looked up one by
 * one until one is new, then every frame below it as a batch (intern_chain). False when
 * memory (or ids) ran out. */
static bool intern_below(mw_thread *t, mw_frame *fr, unsigned n, uint64_t parent)
{
    for (unsigned i = n; i-- > 0;) {
        bool created = false;
        uint64_t id = intern(t, parent, fr[i].ret, &created);
        if (!id) return false;
        fr[i].node = id;
        parent = id;
        if (created && i > 0) return intern_chain(t, fr, i, parent); /* the frames below a new node */
    }
    return true;
}

/* The first stack word above *p (within hi and *budget words) that holds ret: its address in
 * *p. Words of frames not written yet are compared too (never used; tests/valgrind/shim.supp
 * names this function). */
static __attribute__((noinline)) bool scan_slot(uintptr_t *p, uintptr_t hi, uintptr_t ret, unsigned *budget)
{
    for (uintptr_t q = *p + 8; q + 8 <= hi && *budget; q += 8, --*budget) {
        if (*(const uintptr_t *)q == ret) {
            *p = q;
            return true;
        }
    }
    return false;
}

/* Whether a frame's slot address can start a scan: inside the thread's known stack. */
static inline bool slot_in_stack(const mw_thread *t, uintptr_t p)
{
    return t->stack_hi && p >= t->stack_lo && p < t->stack_hi && !(p & 7);
}

#define SLOT_SCAN_WORDS 4096u /* 32 KiB of stack */

/* Slot addresses of the frames' return addresses, for the fast path: unw_backtrace gives only
 * the return addresses, so each one is looked up in the stack words above the previous slot
 * (within the thread's stack and a scan budget). False when any is not found: the fast path
 * is then off until the next capture. */
static bool find_slots(const mw_thread *t, mw_frame *fr, unsigned m)
{
    uintptr_t p = fr[0].slot;
    if (!slot_in_stack(t, p)) return false;
    unsigned budget = SLOT_SCAN_WORDS;
    for (unsigned j = 1; j < m; j++) {
        if (!scan_slot(&p, t->stack_hi, fr[j].ret, &budget)) return false;
        fr[j].slot = p;
    }
    return true;
}

/* mw_call_on_stack (mw_shim.h). Its frame is a standard frame-pointer frame whose CFI gives
 * the CFA from rbp, which still points into the caller's stack: unwinders (libunwind's fast
 * trace included) walk on from the new stack into the caller's. */
__asm__(".text\n"
        ".globl mw_call_on_stack\n"
        ".hidden mw_call_on_stack\n"
        ".type mw_call_on_stack, @function\n"
        "mw_call_on_stack:\n"
        "  .cfi_startproc\n"
        "  push %rbp\n"
        "  .cfi_def_cfa_offset 16\n"
        "  .cfi_offset %rbp, -16\n"
        "  mov %rsp, %rbp\n"
        "  .cfi_def_cfa_register %rbp\n"
        "  mov %rdx, %rsp\n"
        "  mov %rdi, %rax\n"
        "  mov %rsi, %rdi\n"
        "  call *%rax\n"
        "  mov %rbp, %rsp\n"
        "  pop %rbp\n"
        "  .cfi_def_cfa %rsp, 8\n"
        "  ret\n"
        "  .cfi_endproc\n"
        ".size mw_call_on_stack, .-mw_call_on_stack\n");

/* The stack a full capture unwinds on (mw_thread.unw_stack): libunwind's unw_backtrace takes
 * some KiB for its cursor, its context and its step fallback, which a thread created with a
 * PTHREAD_STACK_MIN stack may not have to spare. */
#define UNW_STACK MW_UNW_STACK

unsigned mw_stack_register(void *lo, size_t len)
{
#ifdef VALGRIND_STACK_REGISTER
    return VALGRIND_STACK_REGISTER(lo, (char *)lo + len);
#else
    (void)lo, (void)len;
    return 0;
#endif
}

void mw_stack_deregister(unsigned id)
{
#ifdef VALGRIND_STACK_DEREGISTER
    VALGRIND_STACK_DEREGISTER(id);
#else
    (void)id;
#endif
}

/* A thread's first full captures step frame by frame (unw_step: a few microseconds for a
 * short stack, nothing to set up); later ones use unw_backtrace, whose trace cache makes each
 * frame a table lookup but costs the thread a 256 KiB mapping on first use (filled page by
 * page, unmapped at its exit with a TLB flush on every CPU): about 200 us, which a program
 * starting a thread per request would pay for every thread (12 000 short threads: 3.05 s
 * against 0.62 s, 0.47 s natively). A thread that keeps needing full captures (new stacks,
 * deep varied paths) soon switches to the cache. */
#define STEP_CAPTURES 16u

/* The instruction pointers of the cursor's frames, outermost last, at most max. */
static int step_frames(unw_cursor_t *c, void **ips, int max)
{
    int n = 0;
    do {
        unw_word_t ip;
        if (unw_get_reg(c, UNW_REG_IP, &ip) != 0 || !ip) break;
        ips[n++] = (void *)ip;
    } while (n < max && unw_step(c) > 0);
    return n;
}

typedef struct unw_job { void **ips; int max, n; bool step; } unw_job;
static void unwind_job(void *arg)
{
    unw_job *j = arg;
    if (!j->step) {
        j->n = unw_backtrace(j->ips, j->max);
        return;
    }
    unw_context_t uc;
    unw_cursor_t c;
    j->n = 0;
    if (unw_getcontext(&uc) == 0 && unw_init_local(&c, &uc) == 0) j->n = step_frames(&c, j->ips, j->max);
}

/* The unwind (see STEP_CAPTURES) on the thread's unwinding stack (mapped on first use), or on
 * the current stack when none can be mapped or when a signal handler runs on the shim's
 * alternate signal stack (fatal.c: 64 KiB, enough; and valgrind, which knows that stack from
 * sigaltstack(), takes a switch from it to a registered stack and back for a frame that
 * grew and shrank by megabytes). The frames above the hook's caller are skipped by the
 * caller. */
static int backtrace_on_own_stack(mw_thread *t, void **ips, int max)
{
    uintptr_t sp = (uintptr_t)__builtin_frame_address(0), alt = (uintptr_t)t->alt_stack;
    if (alt && sp >= alt && sp < alt + MW_ALT_STACK) {
        unw_job j = { ips, max, 0, t->full_captures < STEP_CAPTURES };
        if (t->full_captures < STEP_CAPTURES) t->full_captures++;
        unwind_job(&j);
        return j.n;
    }
    if (!t->unw_stack) {
        void *p = mw_real.mmap ? mw_real.mmap(NULL, UNW_STACK, PROT_READ | PROT_WRITE,
                                              MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0)
                               : MAP_FAILED;
        if (p == MAP_FAILED) return unw_backtrace(ips, max); /* rare: no room for a stepping frame either */
        mw_own_range_add(p, UNW_STACK); /* never a root */
        mw_stack_register(p, UNW_STACK); /* for good: the stack stays with the state */
        t->unw_stack = p;
    }
    unw_job j = { ips, max, 0, t->full_captures < STEP_CAPTURES };
    if (t->full_captures < STEP_CAPTURES) t->full_captures++;
    mw_call_on_stack(unwind_job, &j, (uint8_t *)t->unw_stack + UNW_STACK);
    return j.n;
}

/* Back-offs (partial captures, slot searches) go up to 2^BACKOFF_MAX skips: a search scans
 * the whole stack (2 us through the sqlite3 CLI's big frames), and at 64 the searches that
 * never paid there still cost 5% of its run. */
#define BACKOFF_MAX 10u

/* Partial capture, tried before a full one when the cache's slots are known: unwinds only the
 * innermost PARTIAL_FRAMES frames, finds their slots, and looks for the first of them that is
 * a cached frame (same slot, same return address) whose cached ancestors still hold theirs:
 * that frame is the same activation as when it was cached, so the stack is the new inner
 * frames on top of the cached outer part. Between two allocations of an interpreter only
 * the few innermost frames of its C stack change (the eval loop's frame stays): unwinding the
 * whole stack, 20 frames and more, for each malloc took a third of a traced Python program's
 * time (bench python: 12-16% less time with partial captures). False when no frame matched
 * (the caller unwinds the whole stack). */
#define PARTIAL_FRAMES 6u
#define PARTIAL_SKIP 7u /* the shim's own frames the unwind starts in (the hook's caller's index) */
static bool capture_partial(mw_thread *t, uintptr_t slot0, uintptr_t ret0, uint64_t *out)
{
    void **ips = t->unw_ips;
    mw_frame *fr = t->unw_fr;
    int g = mw_guard_enter();
    int saved_errno = errno;
    int n = backtrace_on_own_stack(t, ips, (int)(PARTIAL_FRAMES + PARTIAL_SKIP));
    errno = saved_errno;
    mw_guard_leave(g);
    int z = -1;
    for (int i = 0; i < n; i++) {
        if ((uintptr_t)ips[i] == ret0) {
            z = i;
            break;
        }
    }
    if (z < 0) return false;
    unsigned m = 0;
    for (int i = z; i < n && m < PARTIAL_FRAMES && ips[i]; i++) fr[m++] = (mw_frame){ 0, (uintptr_t)ips[i], 0 };
    fr[0].slot = slot0;
    /* frame by frame: the slot of each (searched in the stack words above the previous
     * one), then whether the cache holds it; most calls stop at the first few frames */
    uintptr_t p = slot0;
    if (!slot_in_stack(t, p)) return false;
    unsigned budget = SLOT_SCAN_WORDS, j = 0, k = 0;
    for (;; j++) {
        if (j == m) return false;
        if (j > 0) {
            if (!scan_slot(&p, t->stack_hi, fr[j].ret, &budget)) return false;
            fr[j].slot = p;
        }
        while (k < t->cache_n && t->cache[k].slot < fr[j].slot) k++;
        if (k == t->cache_n) return false;
        if (t->cache[k].slot == fr[j].slot && t->cache[k].ret == fr[j].ret && mw_cache_valid_above(t, k))
            break;
    }
    /* a stack deeper than the depth limit: only when its depth stays the same are its innermost
     * frames what a full capture would keep */
    if (j + (t->cache_n - k) > mw_cfg.max_depth || (t->cache_trunc && j != k)) return false;
    if (!intern_below(t, fr, j, t->cache[k].node)) {
        t->cache_n = 0; /* out of memory (or ids): unknown stack */
        *out = 0;
        return true;
    }
    __builtin_memmove(&t->cache[j], &t->cache[k], (t->cache_n - k) * sizeof(mw_frame));
    __builtin_memcpy(t->cache, fr, j * sizeof(mw_frame));
    t->cache_n = j + (t->cache_n - k);
    *out = t->cache[0].node;
    return true;
}

/* A partial capture if it applies, else a full one: libunwind's unw_backtrace (its per-thread
 * trace cache makes this a table lookup per frame once warm, with no system call, unlike
 * unw_step), then interning of the frames not shared with the previous capture's outer part
 * (node ids depend only on the return addresses from the root, so a common suffix of return
 * addresses is exact). */
__attribute__((noinline)) uint64_t mw_stack_capture_slow(mw_thread *t, uintptr_t slot0, uintptr_t ret0)
{
    unsigned max = mw_cfg.max_depth;
    void **ips = t->unw_ips;
    mw_frame *fr = t->unw_fr;
    unsigned m = 0;
    in_stack++;
    /* A partial capture that failed makes the next 1, 2, 4 ... 1024 slow captures skip it (a
     * program whose stacks change all the way up, like bench/deep's); one that worked resets
     * that. */
    if (t->cache_slots_ok && t->cache_n) {
        if (t->partial_skip) {
            t->partial_skip--;
        } else {
            uint64_t id;
            if (capture_partial(t, slot0, ret0, &id)) {
                t->partial_backoff = 0;
                in_stack--;
                return id;
            }
            if (t->partial_backoff < BACKOFF_MAX) t->partial_backoff++;
            t->partial_skip = 1u << t->partial_backoff;
        }
    }
    int g = mw_guard_enter(); /* libunwind may allocate */
    int saved_errno = errno;
    int cs = mw_nocancel_begin(); /* libunwind reads and writes its pipe */
    int n = backtrace_on_own_stack(t, ips, (int)(max + 16));
    mw_nocancel_end(cs);
    errno = saved_errno;
    mw_guard_leave(g);
    /* skip the shim's own frames: frame 0 is the hook's caller, known exactly */
    int z = -1;
    for (int i = 0; i < n && i < 16; i++) {
        if ((uintptr_t)ips[i] == ret0) {
            z = i;
            break;
        }
    }
    bool trunc = true;
    if (z < 0) {
        fr[m++] = (mw_frame){ 0, ret0, 0 };
    } else {
        int i = z;
        for (; i < n && m < max && ips[i]; i++) fr[m++] = (mw_frame){ 0, (uintptr_t)ips[i], 0 };
        trunc = i < n && ips[i];
    }
    fr[0].slot = slot0;
    unsigned common = 0;
    while (common < m && common < t->cache_n &&
           t->cache[t->cache_n - 1 - common].ret == fr[m - 1 - common].ret)
        common++;
    for (unsigned j = 0; j < common; j++) fr[m - 1 - j].node = t->cache[t->cache_n - 1 - j].node;
    if (!intern_below(t, fr, m - common, common ? fr[m - common].node : 0)) {
        /* out of memory (or ids): unknown stack, forget the cache */
        t->cache_n = 0;
        in_stack--;
        return 0;
    }
    /* Finding the slots scans the stack; they let the next captures take the fast path (a
     * loop) or a partial capture (the same outer frames). A search after which at most one
     * allocation used them (ancestors that keep changing, as in a program running varied
     * queries through the same allocator wrapper) makes the next 1, 2, 4 ... 1024 searches
     * skipped; one that paid resets that. */
    bool search = true;
    if (t->cache_slots_ok) { /* the slots were known, and neither way applied */
        if (t->seq - t->slots_seq <= 1) {
            if (t->slots_backoff < BACKOFF_MAX) t->slots_backoff++;
            t->slots_skip = 1u << t->slots_backoff;
        } else {
            t->slots_backoff = 0;
        }
    }
    if (t->slots_skip) {
        t->slots_skip--;
        search = false;
    }
    t->cache_slots_ok = search && find_slots(t, fr, m);
    if (t->cache_slots_ok) t->slots_seq = t->seq;
    __builtin_memcpy(t->cache, fr, m * sizeof(mw_frame));
    t->cache_n = m;
    t->cache_trunc = trunc;
    in_stack--;
    return fr[0].node;
}

/* The stack of the caller of the function that calls this (a hook): with frame pointers in
 * the shim, the hook's frame pointer is our saved one, its return address sits right above. */
__attribute__((noinline)) uint64_t mw_stack_here(mw_thread *t)
{
    if (!t) return 0;
    void **fp = __builtin_frame_address(0);
    void **hook_fp = (void **)fp[0];
    return hook_fp ? mw_stack_at(t, hook_fp, hook_fp[1]) : 0;
}

uint64_t mw_stack_at(mw_thread *t, void *frame, void *ret)
{
    if (!t || !frame) return 0;
    int g = mw_guard_enter();
    uint64_t id = mw_stack_capture(t, frame, ret);
    mw_guard_leave(g);
    return id;
}

uint64_t mw_stack_from_ucontext(mw_thread *t, void *ucontext)
{
    /* unknown (0) when the interrupted code was unwinding/interning itself, or is between a
     * reserve and a commit (the new nodes' records could not be written) */
    if (!t || !ucontext || in_stack || t->nest) return 0;
    unw_cursor_t c;
    void *ips[MW_CACHE_FRAMES];
    int n = 0;
    int g = mw_guard_enter();
    in_stack++;
    if (unw_init_local2(&c, (unw_context_t *)ucontext, UNW_INIT_SIGNAL_FRAME) == 0)
        n = step_frames(&c, ips, (int)mw_cfg.max_depth);
    uint64_t parent = 0;
    for (int i = n; i-- > 0;) {
        bool created;
        uint64_t id = intern(t, parent, (uint64_t)(uintptr_t)ips[i], &created);
        if (!id) break;
        parent = id;
    }
    in_stack--;
    mw_guard_leave(g);
    return parent;
}
