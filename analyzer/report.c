/*
 * report.c — shared report logic: the merged verdict, site ranking, formatting helpers.
 */
#include "report.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

void mw_report_verdict(mw_report *r)
{
    r->failed = false;
    r->failing_procs = 0;
    memset(r->bytes, 0, sizeof r->bytes);
    memset(r->blocks, 0, sizeof r->blocks);
    r->supp_bytes = r->supp_blocks = r->lost_events = 0;
    r->any_truncated = false;
    r->compact = r->n > 1;
    for (size_t i = 0; i < r->n; i++) {
        mw_report_proc *rp = &r->procs[i];
        mw_proc *p = rp->p;
        for (int k = 0; k < MW_KIND_COUNT; k++) {
            r->bytes[k] += p->leak_bytes[k];
            r->blocks[k] += p->leak_blocks[k];
        }
        r->supp_bytes += p->supp_bytes;
        r->supp_blocks += p->supp_blocks;
        r->lost_events += p->lost_events;
        if (p->truncated) r->any_truncated = true;
        rp->failed_conditions = 0;
        rp->fail_desc[0] = '\0';
        if (r->failon && !rp->not_gated[0]) {
            rp->failed_conditions = mw_failon_eval(r->failon, p, rp->fail_desc, sizeof rp->fail_desc);
            if (rp->failed_conditions) {
                r->failed = true;
                r->failing_procs++;
            }
        }
    }
}

const char *mw_fmt_bytes(uint64_t v, char buf[32])
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    if (v < 1024) {
        snprintf(buf, 32, "%llu B", (unsigned long long)v);
        return buf;
    }
    double d = (double)v;
    int u = 0;
    while (d >= 1024 && u < 4) {
        d /= 1024;
        u++;
    }
    snprintf(buf, 32, d < 100 ? "%.1f %s" : "%.0f %s", d, units[u]);
    return buf;
}

static const mw_proc *rank_proc;
static enum mw_rank rank_by;

static uint64_t rank_key(const mw_site *s)
{
    switch (rank_by) {
    case MW_RANK_TEMPORARY: return s->temporary;
    case MW_RANK_PEAK: return s->peak_live;
    default: return s->bytes;
    }
}

static int cmp_rank(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    uint64_t kx = rank_key(&rank_proc->sites.v[x]), ky = rank_key(&rank_proc->sites.v[y]);
    if (kx != ky) return kx < ky ? 1 : -1;
    return x < y ? -1 : x > y;
}

size_t mw_rank_sites(const mw_proc *p, enum mw_rank by, uint32_t *out, size_t max)
{
    if (!max || !p->sites.n) return 0;
    uint32_t *all = malloc(p->sites.n * sizeof *all);
    if (!all) return 0;
    size_t n = 0;
    rank_proc = p;
    rank_by = by;
    for (size_t i = 0; i < p->sites.n; i++)
        if (rank_key(&p->sites.v[i]) > 0) all[n++] = (uint32_t)i;
    qsort(all, n, sizeof *all, cmp_rank);
    if (n > max) n = max;
    memcpy(out, all, n * sizeof *out);
    free(all);
    return n;
}

const char *mw_syscall_name(int64_t nr)
{
    /* x86_64 numbers of the calls through which the kernel writes into user memory. */
    static const struct { int nr; const char *name; } tab[] = {
        {0, "read"}, {4, "stat"}, {5, "fstat"}, {6, "lstat"}, {7, "poll"}, {17, "pread64"},
        {19, "readv"}, {23, "select"}, {45, "recvfrom"}, {47, "recvmsg"}, {51, "getsockname"},
        {52, "getpeername"}, {55, "getsockopt"}, {61, "wait4"}, {63, "uname"},
        {89, "readlink"}, {96, "gettimeofday"}, {97, "getrlimit"}, {98, "getrusage"},
        {99, "sysinfo"}, {202, "futex"}, {228, "clock_gettime"}, {232, "epoll_wait"},
        {262, "newfstatat"}, {270, "pselect6"}, {271, "ppoll"}, {281, "epoll_pwait"},
        {288, "accept4"}, {295, "preadv"}, {299, "recvmmsg"}, {318, "getrandom"},
        {327, "preadv2"}, {332, "statx"}, {2, "open"}, {1, "write"}, {16, "ioctl"},
        {257, "openat"}, {3, "close"}, {9, "mmap"}, {10, "mprotect"}, {11, "munmap"},
        {13, "rt_sigaction"}, {14, "rt_sigprocmask"}, {35, "nanosleep"}, {39, "getpid"},
        {56, "clone"}, {59, "execve"}, {60, "exit"}, {231, "exit_group"},
        {425, "io_uring_setup"}, {426, "io_uring_enter"},
    };
    for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++)
        if (tab[i].nr == nr) return tab[i].name;
    return NULL;
}

bool mw_report_format_known(const char *fmt)
{
    return !strcmp(fmt, "text") || !strcmp(fmt, "json") || !strcmp(fmt, "md") || !strcmp(fmt, "html");
}

const char *mw_proc_name(const mw_proc *p)
{
    const char *e = p->exe && p->exe[0] ? p->exe : p->argc ? p->argv[0] : NULL;
    if (!e || !e[0]) return "?";
    const char *b = strrchr(e, '/');
    return b && b[1] ? b + 1 : e;
}

const char *mw_proc_exec_target(const mw_proc *p)
{
    if (!p->have_end || p->end_reason != MW_END_EXEC) return NULL;
    return p->execs.n && p->execs.v[p->execs.n - 1][0] ? p->execs.v[p->execs.n - 1] : "another program";
}

bool mw_proc_stopped(const mw_proc *p) { return p->have_end && p->end_reason == MW_END_SHUTDOWN; }

const char *mw_signal_name(uint64_t signo, char buf[24])
{
    const char *a = signo > 0 && signo < 65 ? sigabbrev_np((int)signo) : NULL;
    if (a) snprintf(buf, 24, "SIG%.16s", a);
    else snprintf(buf, 24, "signal %llu", (unsigned long long)(signo % 1000000u));
    return buf;
}

const char *mw_fatal_thread_name(const mw_proc *p)
{
    return p->fatal_thread ? p->fatal_thread : mw_proc_thread_name(p, p->fatal_tidx);
}

bool mw_fatal_line(const mw_proc *p, char *buf, size_t len)
{
    if (!p->fatal_signo || !len) return false;
    char sn[24];
    mw_signal_name(p->fatal_signo, sn);
    int o = snprintf(buf, len, "%s", sn);
    bool fault = p->fatal_signo == SIGSEGV || p->fatal_signo == SIGBUS || p->fatal_signo == SIGFPE ||
                 p->fatal_signo == SIGILL;
    if (fault && o >= 0 && (size_t)o < len)
        o += snprintf(buf + o, len - (size_t)o, " (address 0x%llx)", (unsigned long long)p->fatal_addr);
    if (o >= 0 && (size_t)o < len)
        o += snprintf(buf + o, len - (size_t)o, " at +%.2f s", (double)p->fatal_t_ns / 1e9);
    const char *tn = mw_fatal_thread_name(p);
    if (tn[0] && o >= 0 && (size_t)o < len) snprintf(buf + o, len - (size_t)o, " in thread %.40s", tn);
    return true;
}

size_t mw_stack_frames(mw_report_proc *rp, uint64_t stack, mw_frame *out, size_t max)
{
    if (!rp->sym) return 0;
    return mw_sym_stack(rp->sym, stack, out, max);
}

static bool is_libc(const mw_frame *f)
{
    const char *b = f->module ? strrchr(f->module, '/') : NULL;
    return b && !strncmp(b + 1, "libc.so", 7);
}

static bool is_allocator_entry(const char *fn)
{
    static const char *const names[] = { "free", "malloc", "calloc", "realloc", "reallocarray",
                                         "posix_memalign", "aligned_alloc", "memalign", "valloc",
                                         "pvalloc", "cfree", "__libc_free", "__libc_malloc",
                                         "__libc_calloc", "__libc_realloc", "__libc_memalign" };
    for (size_t i = 0; fn && i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(fn, names[i])) return true;
    return false;
}

bool mw_frames_heap_error(const mw_frame *fr, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!fr[i].function) continue;
        if (!strcmp(fr[i].function, "malloc_printerr")) return true;
        if (strcmp(fr[i].function, "abort") || !is_libc(&fr[i])) continue;
        /* abort's callers out to the first frame outside libc: one of them an entry point */
        for (size_t j = i + 1; j < n && is_libc(&fr[j]); j++)
            if (is_allocator_entry(fr[j].function)) return true;
        return false;
    }
    return false;
}

bool mw_fatal_heap_error(mw_report_proc *rp, char *buf, size_t len)
{
    const mw_proc *p = rp->p;
    if (!p->fatal_signo || !p->fatal_stack || !len) return false;
    mw_frame fr[32]; /* the allocator's abort is a few frames below the signal */
    size_t n = mw_stack_frames(rp, p->fatal_stack, fr, sizeof fr / sizeof fr[0]);
    if (!mw_frames_heap_error(fr, n)) return false;
    mw_site_label(rp, p->fatal_stack, buf, len);
    return true;
}

/* Whether an object is part of the system's runtime rather than the program: a library in
 * the distribution's directories, the dynamic linker's vdso, or memwatch itself. The traced
 * executable never is, wherever it lives (gcc's cc1 sits under /usr/lib). */
static bool runtime_object(const char *path, const char *exe)
{
    if (!path || path[0] != '/') return true;
    if (exe && !strcmp(path, exe)) return false;
    static const char *const dirs[] = { "/lib/", "/lib64/", "/usr/lib/", "/usr/lib64/" };
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++)
        if (!strncmp(path, dirs[i], strlen(dirs[i]))) return true;
    const char *b = strrchr(path, '/');
    return !strncmp(b + 1, "libmemwatch", 11);
}

/* Whether a frame is the system's rather than the program's: in a system object, or code of
 * a system header inlined into the program (std::vector's allocate, in the program's binary
 * but not its code). */
static bool runtime_frame(const mw_frame *f, const char *exe)
{
    return runtime_object(f->module, exe) || (f->file && !strncmp(f->file, "/usr/include/", 13));
}

/* A frame of a script's generated code (a JavaScript function of the program, named by the
 * runtime's perf map): no object holds it and its file is a path, not the runtime's own
 * ("node:internal/..."). */
static bool script_frame(const mw_frame *f)
{
    return !f->module && f->file && f->file[0] == '/';
}

size_t mw_site_index(const mw_report_proc *rp, const mw_frame *fr, size_t n)
{
    /* an interpreter's program is its script: the script's frame names the site, not the
     * interpreter's own code (node's binary is the traced executable) */
    for (size_t i = 0; i < n; i++)
        if (script_frame(&fr[i])) return i;
    for (size_t i = 0; i < n; i++)
        if (!runtime_frame(&fr[i], rp->p->exe)) return i;
    for (size_t i = 0; i < n; i++)
        if (fr[i].file) return i;
    return 0;
}

bool mw_site_frame(mw_report_proc *rp, uint64_t stack, mw_frame *f, const char **via)
{
    mw_frame fr[MW_STACK_MAX];
    size_t n = mw_stack_frames(rp, stack, fr, MW_STACK_MAX);
    if (via) *via = NULL;
    if (!n) return false;
    size_t at = mw_site_index(rp, fr, n);
    *f = fr[at];
    /* The library entry point it called: the outermost named frame below it. */
    for (size_t i = at; via && i-- > 0;) {
        if (fr[i].function && !strstr(fr[i].function, "+0x")) {
            *via = fr[i].function;
            break;
        }
    }
    return true;
}

/* One entry of a chain of frames: what tells it apart from another row's entry (the full
 * function name with its line, or its offset where it has none) and what a label shows (the
 * short name, mw_short_function, with the same line or offset). */
#define CHAIN_MAX 48
#define NAME_MAX_LEN 120
#define KEY_MAX_LEN 280
typedef struct chain_entry {
    char key[KEY_MAX_LEN];
    char show[NAME_MAX_LEN];
} chain_entry;

/* Fills e from frame f; with_pos: ":line", else "+0xoffset" when f has neither line nor a
 * module+offset name (which holds its position already). */
static void chain_entry_of(chain_entry *e, const mw_frame *f, bool with_pos)
{
    const char *fn = f->function ? f->function : "?";
    char pos[32] = "";
    if (with_pos && f->line) snprintf(pos, sizeof pos, ":%llu", (unsigned long long)f->line % 100000000ull);
    else if (with_pos && f->fn_offset) snprintf(pos, sizeof pos, "+0x%llx", (unsigned long long)f->fn_offset);
    char sh[NAME_MAX_LEN];
    mw_short_function(fn, sh, 90);
    snprintf(e->key, sizeof e->key, "%.240s%s", fn, pos);
    snprintf(e->show, sizeof e->show, "%s%s", sh, pos);
}

/* Appends " (xN)" to an entry (a recursion's depth). */
static void chain_entry_times(chain_entry *e, size_t key_len, size_t show_len, unsigned times)
{
    snprintf(e->key + key_len, sizeof e->key - key_len, " (x%u)", times);
    snprintf(e->show + show_len, sizeof e->show - show_len, " (x%u)", times);
}

/* The callers above a stack's site frame, innermost first, up to main: function and line (the
 * line, or the offset in a function without line information, tells two calls of one function
 * apart), each function once in a row (inlined copies say nothing new), at most max. A
 * recursion is one entry with its depth, "walk:12 (x3)": a directory walk that allocates at
 * every level is told apart by how deep it was, which is all that differs when every level
 * recurses from the same line. */
static size_t caller_chain(mw_report_proc *rp, uint64_t stack, chain_entry *names, size_t max)
{
    mw_frame fr[MW_STACK_MAX];
    size_t n = mw_stack_frames(rp, stack, fr, MW_STACK_MAX), k = 0;
    if (!n) return 0;
    size_t at = mw_site_index(rp, fr, n);
    const char *last = fr[at].function ? fr[at].function : "?";
    unsigned times = 0;                 /* physical frames of names[k - 1]'s function in a row */
    size_t key_len = 0, show_len = 0;   /* names[k - 1] without its " (xN)" */
    for (size_t i = at + 1; i < n; i++) {
        const char *f = fr[i].function ? fr[i].function : "?";
        if (strcmp(f, last)) {
            if (k == max) break;
            chain_entry_of(&names[k], &fr[i], true);
            key_len = strlen(names[k].key);
            show_len = strlen(names[k].show);
            k++;
            times = 1;
            last = f;
        } else if (k && fr[i].inline_depth == 0 && times < 999999) {
            /* the same function in a new physical frame: one level deeper (an inlined copy at
             * the same address is not) */
            chain_entry_times(&names[k - 1], key_len, show_len, ++times);
        }
        if (!strcmp(f, "main")) break;
    }
    return k;
}

/* The functions below the library entry point a stack's site frame called (the "via"),
 * outermost first down to the innermost frame, each once in a row, at most max: where inside
 * the library two allocations made by one call differ. */
static size_t callee_chain(mw_report_proc *rp, uint64_t stack, chain_entry *names, size_t max)
{
    mw_frame fr[MW_STACK_MAX];
    size_t n = mw_stack_frames(rp, stack, fr, MW_STACK_MAX), k = 0;
    if (!n) return 0;
    size_t at = mw_site_index(rp, fr, n);
    const char *last = at ? (fr[at - 1].function ? fr[at - 1].function : "?") : "";
    for (size_t i = at >= 1 ? at - 1 : 0; i-- > 0 && k < max;) {
        const char *f = fr[i].function ? fr[i].function : "?";
        if (!strcmp(f, last)) continue;
        chain_entry_of(&names[k++], &fr[i], false);
        last = f;
    }
    return k;
}

/* The first index at which the chains of the rows in grp differ (a shorter chain differs from
 * a longer one), from `from` on; -1 when they are the same to the end. */
static long first_difference(chain_entry (*chains)[CHAIN_MAX], const size_t *depth, const bool *grp,
                             size_t n, size_t ref, size_t from)
{
    for (size_t d = from; d < CHAIN_MAX; d++) {
        bool past = true;
        for (size_t j = 0; j < n; j++) {
            if (!grp[j]) continue;
            if (d < depth[j]) past = false;
            if (d >= depth[j] || d >= depth[ref]) {
                if (depth[j] != depth[ref]) return (long)d;
                continue;
            }
            if (strcmp(chains[j][d].key, chains[ref][d].key)) return (long)d;
        }
        if (past) return -1;
    }
    return -1;
}

void mw_site_label(mw_report_proc *rp, uint64_t stack, char *buf, size_t len)
{
    mw_frame f;
    const char *via;
    if (!len) return;
    if (!mw_site_frame(rp, stack, &f, &via)) {
        snprintf(buf, len, stack == MW_STACK_INHERITED ? "(inherited at fork)" : "(no stack)");
        return;
    }
    char fn[NAME_MAX_LEN], vn[NAME_MAX_LEN];
    mw_short_function(f.function ? f.function : "?", fn, sizeof fn);
    const char *file = f.file ? strrchr(f.file, '/') : NULL;
    file = file ? file + 1 : f.file;
    int o = file && f.line ? snprintf(buf, len, "%s %s:%llu", fn, file, (unsigned long long)f.line)
            : file         ? snprintf(buf, len, "%s %s", fn, file) /* a file without lines (Python's perf map) */
                           : snprintf(buf, len, "%s", fn);
    if (via && o > 0 && (size_t)o < len) {
        mw_short_function(via, vn, sizeof vn);
        snprintf(buf + o, len - (size_t)o, " via %s", vn);
    }
}

/* Appends to each label of the group its chain's entry d, after " <- ..." (" -> ...") when it
 * skips entries since the last one it showed (sep '<': callers, "<-"; '>': inner frames, "->"). */
static void extend_group(mw_label *labels, const bool *grp, size_t n, const char *base, char sep,
                         chain_entry (*chains)[CHAIN_MAX], const size_t *depth, size_t *from,
                         size_t d, const char *ends)
{
    for (size_t j = 0; j < n; j++) {
        if (!grp[j]) continue;
        snprintf(labels[j], sizeof labels[j], "%.250s%s %s %.120s", base,
                 d > from[j] ? (sep == '<' ? " <- ..." : " -> ...") : "", sep == '<' ? "<-" : "->",
                 d < depth[j] ? chains[j][d].show : ends);
        from[j] = d + 1;
    }
}

/* Appends "@+0xOFF", the offset of the site frame's call in its function, to the labels of
 * the group when those offsets differ; false when they do not (or are unknown). */
static bool tell_apart_by_offset(mw_report_proc *rp, const uint64_t *stacks, mw_label *labels,
                                 const bool *grp, size_t n)
{
    uint64_t first = 0;
    bool differ = false, seen = false;
    for (size_t j = 0; j < n; j++) {
        mw_frame f;
        if (!grp[j] || !mw_site_frame(rp, stacks[j], &f, NULL) || f.line || !f.fn_offset) continue;
        if (seen && f.fn_offset != first) differ = true;
        if (!seen) first = f.fn_offset;
        seen = true;
    }
    if (!differ) return false;
    for (size_t j = 0; j < n; j++) {
        mw_frame f;
        if (!grp[j] || !mw_site_frame(rp, stacks[j], &f, NULL) || f.line || !f.fn_offset) continue;
        size_t l = strlen(labels[j]);
        snprintf(labels[j] + l, sizeof labels[j] - l, " @+0x%llx", (unsigned long long)f.fn_offset);
    }
    return true;
}

void mw_site_labels(mw_report_proc *rp, const uint64_t *stacks, size_t n, mw_label *labels)
{
    for (size_t i = 0; i < n; i++) mw_site_label(rp, stacks[i], labels[i], sizeof labels[i]);
    chain_entry (*up)[CHAIN_MAX] = NULL, (*down)[CHAIN_MAX] = NULL;
    size_t *up_n = NULL, *down_n = NULL, *from = NULL, *dfrom = NULL;
    bool *grp = NULL, *done = NULL;
    /* A few rounds: each gives the rows that still read alike the first caller where their
     * stacks differ, after the callers they share ("<- ..." stands for those); rows whose
     * callers are all the same (one call into a library that allocates in several places)
     * get the first function inside the library where they differ ("-> ..." likewise).
     * Arrows, not "<" and ">": those are in C++ names ("std::allocator<char> > const&"). */
    for (int round = 0; round < 3; round++) {
        bool any = false;
        if (done) memset(done, 0, n * sizeof *done);
        for (size_t i = 0; i < n; i++) {
            if (done && done[i]) continue;
            bool dup = false;
            for (size_t j = 0; j < n && !dup; j++)
                dup = j != i && stacks[j] != stacks[i] && !strcmp(labels[i], labels[j]);
            if (!dup) continue;
            if (!up) {
                up = calloc(n, sizeof *up);
                down = calloc(n, sizeof *down);
                up_n = calloc(n, sizeof *up_n);
                down_n = calloc(n, sizeof *down_n);
                from = calloc(n, sizeof *from);
                dfrom = calloc(n, sizeof *dfrom);
                grp = calloc(n, sizeof *grp);
                done = calloc(n, sizeof *done);
                if (!up || !down || !up_n || !down_n || !from || !dfrom || !grp || !done) goto out;
                for (size_t k = 0; k < n; k++) {
                    up_n[k] = caller_chain(rp, stacks[k], up[k], CHAIN_MAX);
                    down_n[k] = callee_chain(rp, stacks[k], down[k], CHAIN_MAX);
                }
            }
            /* the group of rows reading as row i */
            for (size_t j = 0; j < n; j++) grp[j] = !strcmp(labels[j], labels[i]);
            for (size_t j = 0; j < n; j++) done[j] |= grp[j];
            mw_label base;
            snprintf(base, sizeof base, "%s", labels[i]);
            long d = first_difference(up, up_n, grp, n, i, from[i]);
            if (d >= 0) {
                extend_group(labels, grp, n, base, '<', up, up_n, from, (size_t)d, "(stack ends)");
            } else {
                d = first_difference(down, down_n, grp, n, i, dfrom[i]);
                if (d < 0) {
                    /* the same functions all the way: where in the site's function each
                     * call is, when it has no line that says so (two calls of malloc in one
                     * function of a program without debug information) */
                    if (!tell_apart_by_offset(rp, stacks, labels, grp, n)) continue;
                } else {
                    extend_group(labels, grp, n, base, '>', down, down_n, dfrom, (size_t)d, "(no deeper frame)");
                }
            }
            any = true;
        }
        if (!any) break;
    }
out:
    free(up);
    free(down);
    free(up_n);
    free(down_n);
    free(from);
    free(dfrom);
    free(grp);
    free(done);
}

size_t mw_frame_repeats(const mw_frame *f, size_t i, size_t n)
{
    size_t k = 0;
    while (i + 1 + k < n && f[i + 1 + k].ip == f[i].ip && f[i + 1 + k].inline_depth == f[i].inline_depth) k++;
    return k;
}
