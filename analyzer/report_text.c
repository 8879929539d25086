/*
 * report_text.c — the terminal report (--format text, the default). Ranks what matters first:
 * the verdict line, leaks by kind with their stacks, per-mark leaks, totals and peaks, top
 * sites, temporary allocations, mappings left mapped, SQL, watch events, lost/truncation.
 * Lines fit 100 columns; ANSI colour only when r->color (stdout is a tty).
 */
#include <stdlib.h>
#include <string.h>

#include "patterns_report.h"
#include "report.h"

#define WIDTH 100
#define TEXT_FRAMES 8

typedef void (*text_section)(mw_report *r, mw_report_proc *rp);

static const char *col(const mw_report *r, const char *code) { return r->color ? code : ""; }
#define BOLD(r) col(r, "\033[1m")
#define RED(r) col(r, "\033[1;31m")
#define YEL(r) col(r, "\033[33m")
#define GRN(r) col(r, "\033[32m")
#define DIM(r) col(r, "\033[2m")
#define OFF(r) col(r, "\033[0m")

/* Prints s with control characters replaced (a hostile name must not drive the terminal),
 * cut to max columns (bytes) with "…" when longer. */
static void put_clean(FILE *f, const char *s, size_t max)
{
    if (!s) s = "";
    size_t n = strlen(s);
    bool cut = n > max;
    if (cut) n = max > 3 ? max - 3 : max;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        fputc(c < 0x20 || c == 0x7f ? '?' : c, f);
    }
    if (cut) fputs("...", f);
}

static const char *base(const char *path)
{
    if (!path) return NULL;
    const char *b = strrchr(path, '/');
    return b ? b + 1 : path;
}

static void frame_line(mw_report *r, const mw_frame *f, size_t i, const char *indent)
{
    FILE *o = r->out;
    fprintf(o, "%s#%-2zu ", indent, i);
    put_clean(o, f->function, 52);
    if (f->file) {
        fprintf(o, "  %s", DIM(r));
        put_clean(o, base(f->file), 26);
        if (f->line) fprintf(o, ":%llu", (unsigned long long)f->line);
        fputs(OFF(r), o);
    } else if (f->module && !strchr(f->function ? f->function : "", '+')) {
        fprintf(o, "  %s(", DIM(r));
        put_clean(o, base(f->module), 30);
        fprintf(o, ")%s", OFF(r));
    }
    fputc('\n', o);
}

static void stack_lines(mw_report *r, mw_report_proc *rp, uint64_t stack, size_t max,
                        const char *indent)
{
    mw_frame f[MW_STACK_MAX];
    size_t n = mw_stack_frames(rp, stack, f, MW_STACK_MAX);
    if (n == 0) {
        if (stack == MW_STACK_INHERITED)
            fprintf(r->out, "%s%s(allocated by the parent, pid %llu, before fork(): analyze its trace with\n"
                    "%s this one to see where)%s\n", indent, DIM(r), (unsigned long long)rp->p->ppid, indent, OFF(r));
        else
            fprintf(r->out, "%s%s(no stack recorded)%s\n", indent, DIM(r), OFF(r));
        return;
    }
    /* When the program's own first frame lies past the frames shown, show the innermost, skip
     * the runtime's frames and go on from the library function the program called (a stdio
     * buffer is 10 frames deep in libc below the printf that asked for it). */
    /* and, as valgrind does, nothing below main (libc's start-up frames); in a program
     * without symbols (main unnamed), nothing from libc's caller of main on */
    bool main_seen = false;
    for (size_t i = 0; i < n; i++) {
        if (f[i].function && (!strcmp(f[i].function, "main") || !strcmp(f[i].function, "main.cold"))) {
            n = i + 1;
            main_seen = true;
            break;
        }
    }
    for (size_t i = 1; i < n && !main_seen; i++) {
        if (f[i].function && !strcmp(f[i].function, "__libc_start_call_main")) {
            n = i;
            break;
        }
    }
    size_t at = mw_site_index(rp, f, n), from = at >= max && max >= 3 ? at - 1 : 1;
    size_t i = 0, lines = 0;
    while (i < n && lines < max) {
        if (i == 1 && from > 1) {
            fprintf(r->out, "%s%s... %zu frame%s in system libraries%s\n", indent, DIM(r), from - 1,
                    from == 2 ? "" : "s", OFF(r));
            i = from;
            continue;
        }
        frame_line(r, &f[i], i, indent);
        lines++;
        /* a recursion: the same frame again and again is one line */
        size_t k = mw_frame_repeats(f, i, n);
        if (k)
            fprintf(r->out, "%s%s    ... the same frame %zu more time%s%s\n", indent, DIM(r), k,
                    k == 1 ? "" : "s", OFF(r));
        i += 1 + k;
    }
    if (i < n)
        fprintf(r->out, "%s%s... %zu more frame%s%s\n", indent, DIM(r), n - i, n - i == 1 ? "" : "s", OFF(r));
}

/* A continuation line of a site label ("<- caller", "-> callee"), at most max wide: when too
 * long, its arrow, "...", and its end, where the function's own name and line (or offset)
 * are: that part tells two rows apart, not the namespaces in front. */
static void put_label_tail(FILE *o, const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n <= max || max < 16 || (strncmp(s, "<- ", 3) && strncmp(s, "-> ", 3))) {
        put_clean(o, s, max);
        return;
    }
    char head[4];
    snprintf(head, sizeof head, "%.3s", s);
    put_clean(o, head, 3);
    fputs("...", o);
    put_clean(o, s + n - (max - 6), max - 6);
}

/* A site label in a table's last column (max wide, starting at column indent): broken at a
 * " <- ", " -> " or " via " that fits and continued on the next line under the column, up to 3
 * lines, so the part that tells two rows apart (at the end) is not cut off. */
static void put_label(FILE *o, const char *s, size_t max, size_t indent)
{
    for (int line = 0; line < 3; line++) {
        size_t n = strlen(s);
        if (n <= max || line == 2) {
            if (line) put_label_tail(o, s, max);
            else put_clean(o, s, max);
            return;
        }
        /* the last separator that fits; else the first one (a long C++ name before it is cut) */
        size_t cut = 0, first = 0;
        for (size_t i = 1; i < n; i++) {
            if (strncmp(s + i, " <- ", 4) && strncmp(s + i, " -> ", 4) && strncmp(s + i, " via ", 5)) continue;
            if (!first) first = i;
            if (i + 4 <= max) cut = i;
        }
        if (!cut) cut = first;
        if (!cut) {
            put_clean(o, s, max);
            return;
        }
        char part[512];
        snprintf(part, sizeof part, "%.*s", (int)(cut < sizeof part - 1 ? cut : sizeof part - 1), s);
        if (line) put_label_tail(o, part, max);
        else put_clean(o, part, max);
        fprintf(o, "\n%*s", (int)indent + 2, "");
        s += cut + 1; /* the separator starts the next line */
    }
}

/* A stack's site on one line (mw_site_label), for one-line tables. */
static void where(mw_report *r, mw_report_proc *rp, uint64_t stack, size_t max)
{
    mw_label l;
    mw_site_label(rp, stack, l, sizeof l);
    put_clean(r->out, l, max);
}

static void heading(mw_report *r, const char *title)
{
    fprintf(r->out, "\n%s%s%s\n", BOLD(r), title, OFF(r));
}

/* The programs rp's process exec'd or started that could not be traced (exectarget.c), one
 * line each; with_parent: naming the process that started them (the merged summary). */
static void untraced_lines(mw_report *r, const mw_report_proc *rp, const char *lead, bool with_parent)
{
    FILE *o = r->out;
    for (size_t k = 0; k < rp->n_untraced; k++) {
        const struct mw_untraced *u = &rp->untraced[k];
        fputs(lead, o);
        put_clean(o, u->path, 60);
        fprintf(o, " (pid %llu", (unsigned long long)u->pid);
        if (with_parent && u->pid != rp->p->pid) {
            fputs(", started by ", o);
            put_clean(o, mw_proc_name(rp->p), 30);
            fprintf(o, " pid %llu", (unsigned long long)rp->p->pid);
        }
        fprintf(o, "): %s\n", u->why);
    }
    if (rp->more_untraced) fprintf(o, "%s%zu more like these\n", lead, rp->more_untraced);
}

/* ---- sections -------------------------------------------------------------------------- */
static void sec_verdict(mw_report *r, mw_report_proc *rp)
{
    const mw_proc *p = rp->p;
    FILE *o = r->out;
    char b1[32], b2[32], b3[32];
    uint64_t leaked = mw_proc_leaked_bytes(p);
    uint64_t lblocks = p->leak_blocks[MW_REACH_DEFINITE] + p->leak_blocks[MW_REACH_INDIRECT];
    fprintf(o, "%smemwatch: ", BOLD(r));
    put_clean(o, mw_proc_name(p), 40);
    fprintf(o, " (pid %llu)%s: ", (unsigned long long)p->pid, OFF(r));
    if (leaked) {
        fprintf(o, "%sLEAKED %llu bytes in %llu block%s%s\n", RED(r), (unsigned long long)leaked,
                (unsigned long long)lblocks, lblocks == 1 ? "" : "s", OFF(r));
        fprintf(o, "  definite %s, indirect %s", mw_fmt_bytes(p->leak_bytes[MW_REACH_DEFINITE], b1),
                mw_fmt_bytes(p->leak_bytes[MW_REACH_INDIRECT], b2));
    } else if (p->leak_bytes[MW_REACH_UNKNOWN] && mw_proc_exec_target(p)) {
        fprintf(o, "exec'd ");
        put_clean(o, mw_proc_exec_target(p), 60);
        fprintf(o, " with %llu bytes live in %llu block%s\n  (the new program replaced them: not leaks)",
                (unsigned long long)p->leak_bytes[MW_REACH_UNKNOWN],
                (unsigned long long)p->leak_blocks[MW_REACH_UNKNOWN],
                p->leak_blocks[MW_REACH_UNKNOWN] == 1 ? "" : "s");
    } else if (p->leak_bytes[MW_REACH_UNKNOWN] && mw_proc_stopped(p)) {
        fprintf(o, "tracing stopped before it ended, with %llu bytes live in %llu block%s\n  (not judged)",
                (unsigned long long)p->leak_bytes[MW_REACH_UNKNOWN],
                (unsigned long long)p->leak_blocks[MW_REACH_UNKNOWN],
                p->leak_blocks[MW_REACH_UNKNOWN] == 1 ? "" : "s");
    } else if (p->leak_bytes[MW_REACH_UNKNOWN]) {
        fprintf(o, "%s%llu bytes unfreed %s%s in %llu blocks\n  (no reachability scan)", YEL(r),
                (unsigned long long)p->leak_bytes[MW_REACH_UNKNOWN], p->fatal_signo ? "when it died" : "at exit", OFF(r),
                (unsigned long long)p->leak_blocks[MW_REACH_UNKNOWN]);
    } else {
        fprintf(o, "%sno leaks%s\n ", GRN(r), OFF(r));
    }
    if (p->leak_bytes[MW_REACH_REACHABLE])
        fprintf(o, "%s still reachable %s", leaked || p->leak_bytes[MW_REACH_UNKNOWN] ? "," : "",
                mw_fmt_bytes(p->leak_bytes[MW_REACH_REACHABLE], b3));
    else if (!leaked && !p->leak_bytes[MW_REACH_UNKNOWN])
        fputs(" nothing unfreed at exit", o);
    if (leaked && p->leak_bytes[MW_REACH_UNKNOWN])
        fprintf(o, ", unknown %s", mw_fmt_bytes(p->leak_bytes[MW_REACH_UNKNOWN], b3));
    fputc('\n', o);
    if (rp->failed_conditions)
        fprintf(o, "  %sFAIL%s --fail-on: %s\n", RED(r), OFF(r), rp->fail_desc);
    if (rp->not_gated[0]) fprintf(o, "  not gated: %s\n", rp->not_gated);
    untraced_lines(r, rp, "  not traced: ", false);
    fputs("  command: ", o);
    size_t used = 11;
    for (size_t i = 0; i < p->argc && used < WIDTH - 4; i++) {
        size_t len = strlen(p->argv[i]);
        put_clean(o, p->argv[i], WIDTH - 4 - used);
        fputc(' ', o);
        used += len + 1;
    }
    fputc('\n', o);
    fputs("  trace:   ", o);
    put_clean(o, p->trace_path, WIDTH - 12);
    fputc('\n', o);
    char fatal[200];
    if (mw_fatal_line(p, fatal, sizeof fatal)) {
        fprintf(o, "  %sit died of %s%s\n", RED(r), fatal, OFF(r));
        char site[400];
        if (mw_fatal_heap_error(rp, site, sizeof site)) {
            fputs("  glibc's allocator found its heap corrupt in ", o);
            put_clean(o, site, WIDTH - 45);
            fputs("\n  and stopped the process: a double free, a free of a pointer it did not\n"
                  "  allocate, or a write past the end of a block\n", o);
        }
        fputs("  (the trace holds all it did before); the signal arrived here:\n", o);
        stack_lines(r, rp, p->fatal_stack, TEXT_FRAMES, "      ");
    } else if (p->truncated) {
        if (p->still_running)
            fprintf(o, "  %sthe trace is truncated%s: it has no end record (the program was still\n"
                    "  running when it was read); the figures cover what was recorded\n", YEL(r), OFF(r));
        else
            fprintf(o, "  %sthe trace is truncated%s: it has no end record (the program was killed, or\n"
                    "  the trace copied while it ran); the figures cover what was recorded\n", YEL(r), OFF(r));
    }
    if (p->lost_events)
        fprintf(o, "  %s%llu events (%llu bytes) were lost%s by the tracer: figures may be "
                "incomplete\n", RED(r), (unsigned long long)p->lost_events,
                (unsigned long long)p->lost_bytes, OFF(r));
    if (p->flags & MW_HF_MALLOC_SHADOWED)
        fprintf(o, "  %smalloc is the program's own%s (found before memwatch's): heap blocks it does\n"
                "  not take from the C library are not traced (mappings are)\n", YEL(r), OFF(r));
}

static void leak_group(mw_report *r, mw_report_proc *rp, const mw_leak *l, size_t frames)
{
    const char *c = l->kind == MW_REACH_DEFINITE   ? RED(r)
                    : l->kind == MW_REACH_REACHABLE ? YEL(r)
                                                    : BOLD(r);
    uint64_t stack = rp->p->sites.v[l->site].stack;
    char inh[64] = "";
    if (mw_stack_inherited(stack))
        snprintf(inh, sizeof inh, ", inherited from pid %llu", (unsigned long long)rp->p->ppid);
    fprintf(r->out, "  %s%llu bytes in %llu block%s, %s%s%s\n", c, (unsigned long long)l->bytes,
            (unsigned long long)l->blocks, l->blocks == 1 ? "" : "s", mw_reach_kind_name(l->kind),
            inh, OFF(r));
    stack_lines(r, rp, rp->p->sites.v[l->site].stack, frames, "      ");
}

static void sec_leaks(mw_report *r, mw_report_proc *rp)
{
    const mw_proc *p = rp->p;
    char b[32];
    size_t shown = 0, more = 0;
    uint64_t more_bytes = 0;
    bool any = false, scanned = false;
    for (size_t i = 0; i < p->leaks.n; i++)
        if (!p->leaks.v[i].suppressed && p->leaks.v[i].kind != MW_REACH_REACHABLE) {
            any = true;
            scanned |= p->leaks.v[i].kind != MW_REACH_UNKNOWN;
        }
    /* blocks no scan judged: live at an exec (in a report of several processes, where every
     * shell that runs a command is one, the verdict line says enough), or at an exit without
     * a scan (killed, MEMWATCH_REACH=0). In a report of several processes the stacks of one
     * that died of a signal are left out too: a pipeline's writer dies of SIGPIPE as a matter
     * of course, and a crash is told by its own stack above, not by what it held then. */
    bool exec = !scanned && mw_proc_exec_target(p);
    if ((exec || (!scanned && p->fatal_signo)) && r->compact) any = false;
    if (any) {
        heading(r, scanned          ? "Leaks at exit (unfreed and not reachable, by allocation stack)"
                   : exec           ? "Live when it exec'd (replaced by the new program, by allocation stack)"
                   : mw_proc_stopped(p) ? "Live when tracing stopped (not judged, by allocation stack)"
                   : p->fatal_signo ? "Unfreed when it died, not scanned for reachability (by allocation stack)"
                                    : "Unfreed at exit, not scanned for reachability (by allocation stack)");
        for (size_t i = 0; i < p->leaks.n; i++) {
            const mw_leak *l = &p->leaks.v[i];
            if (l->suppressed || l->kind == MW_REACH_REACHABLE) continue;
            if (shown < r->top) {
                leak_group(r, rp, l, TEXT_FRAMES);
                shown++;
            } else {
                more++;
                more_bytes += l->bytes;
            }
        }
        if (more)
            fprintf(r->out, "  ... %zu more stacks, %s\n", more, mw_fmt_bytes(more_bytes, b));
    }
    shown = more = 0;
    more_bytes = 0;
    if (p->leak_bytes[MW_REACH_REACHABLE] && !r->compact) {
        heading(r, "Still reachable at exit (a pointer to them remained)");
        for (size_t i = 0; i < p->leaks.n; i++) {
            const mw_leak *l = &p->leaks.v[i];
            if (l->suppressed || l->kind != MW_REACH_REACHABLE) continue;
            if (shown < (r->top + 1) / 2) {
                leak_group(r, rp, l, 4);
                shown++;
            } else {
                more++;
                more_bytes += l->bytes;
            }
        }
        if (more)
            fprintf(r->out, "  ... %zu more stacks, %s\n", more, mw_fmt_bytes(more_bytes, b));
    }
    if (p->supp_blocks)
        fprintf(r->out, "\n  suppressed (--suppressions): %llu bytes in %llu blocks\n",
                (unsigned long long)p->supp_bytes, (unsigned long long)p->supp_blocks);
}

static void sec_marks(mw_report *r, mw_report_proc *rp)
{
    const mw_proc *p = rp->p;
    bool any = false;
    for (size_t i = 0; i < p->marks.n; i++)
        if (p->marks.v[i].leaked_blocks) any = true;
    if (!any) return;
    heading(r, "Leaks by mark (allocated after memwatch_mark(label), unfreed at exit)");
    if (p->premark_leaked_blocks)
        fprintf(r->out, "  %-60s %llu bytes in %llu blocks\n", "(before the first mark)",
                (unsigned long long)p->premark_leaked_bytes,
                (unsigned long long)p->premark_leaked_blocks);
    for (size_t i = 0; i < p->marks.n; i++) {
        const mw_mark *m = &p->marks.v[i];
        if (!m->leaked_blocks) continue;
        fputs("  ", r->out);
        put_clean(r->out, m->label, 60);
        size_t len = strlen(m->label);
        for (size_t k = len; k < 60; k++) fputc(' ', r->out);
        fprintf(r->out, " %s%llu bytes%s in %llu block%s\n", RED(r),
                (unsigned long long)m->leaked_bytes, OFF(r), (unsigned long long)m->leaked_blocks,
                m->leaked_blocks == 1 ? "" : "s");
    }
}

static void sec_totals(mw_report *r, mw_report_proc *rp)
{
    const mw_proc *p = rp->p;
    char b1[32], b2[32], b3[32];
    heading(r, "Totals");
    fprintf(r->out, "  allocations %llu, frees %llu, bytes allocated %s, temporary %llu",
            (unsigned long long)p->allocations, (unsigned long long)p->frees,
            mw_fmt_bytes(p->bytes_allocated, b1), (unsigned long long)p->temporary);
    if (p->allocations)
        fprintf(r->out, " (%.0f%%)", 100.0 * (double)p->temporary / (double)p->allocations);
    fputc('\n', r->out);
    fprintf(r->out, "  peak heap %s at %.2f s, peak RSS %s, peak mmap %s, run %.2f s\n",
            mw_fmt_bytes(p->peak_heap, b1), (double)p->peak_heap_t / 1e9,
            mw_fmt_bytes(p->peak_rss, b2), mw_fmt_bytes(p->peak_mmap, b3), (double)p->t_ns / 1e9);
    if (p->own_at_peak_rss && !r->compact) /* not for each process of a run: the same line each time */
        fprintf(r->out, "  of the peak RSS, memwatch's own memory: %s (not in the growth patterns)\n",
                mw_fmt_bytes(p->own_at_peak_rss, b2));
    if (p->inherited_blocks)
        fprintf(r->out, "  inherited from pid %llu at fork: %llu block%s, %s (allocated there)\n",
                (unsigned long long)p->ppid, (unsigned long long)p->inherited_blocks,
                p->inherited_blocks == 1 ? "" : "s", mw_fmt_bytes(p->inherited_bytes, b1));
    if (p->unmatched_frees)
        fprintf(r->out, "  %llu frees named blocks the trace never allocated\n",
                (unsigned long long)p->unmatched_frees);
}

static void sec_top_sites(mw_report *r, mw_report_proc *rp)
{
    const mw_proc *p = rp->p;
    if (r->compact) return;
    uint32_t *idx = malloc(r->top * sizeof *idx);
    if (!idx) return;
    uint64_t *stacks = malloc(r->top * sizeof *stacks);
    mw_label *labels = malloc(r->top * sizeof *labels);
    if (!stacks || !labels) {
        free(idx);
        free(stacks);
        free(labels);
        return;
    }
    /* rows of different stacks that would read the same get their callers */
    size_t n = mw_rank_sites(p, MW_RANK_BYTES, idx, r->top);
    if (n) {
        heading(r, "Top allocation sites (by bytes allocated)");
        fprintf(r->out, "  %10s %10s %10s  %s\n", "bytes", "calls", "peak live", "site");
        for (size_t i = 0; i < n; i++) stacks[i] = p->sites.v[idx[i]].stack;
        mw_site_labels(rp, stacks, n, labels);
        for (size_t i = 0; i < n; i++) {
            const mw_site *s = &p->sites.v[idx[i]];
            char b1[32], b2[32];
            fprintf(r->out, "  %10s %10llu %10s  ", mw_fmt_bytes(s->bytes, b1),
                    (unsigned long long)s->calls, mw_fmt_bytes(s->peak_live, b2));
            put_label(r->out, labels[i], WIDTH - 37, 36);
            fputc('\n', r->out);
        }
    }
    n = mw_rank_sites(p, MW_RANK_TEMPORARY, idx, r->top < 5 ? r->top : 5);
    if (n) {
        heading(r, "Temporary allocations (freed with no other allocation in between)");
        fprintf(r->out, "  %10s %10s  %s\n", "temporary", "of calls", "site");
        for (size_t i = 0; i < n; i++) stacks[i] = p->sites.v[idx[i]].stack;
        mw_site_labels(rp, stacks, n, labels);
        for (size_t i = 0; i < n; i++) {
            const mw_site *s = &p->sites.v[idx[i]];
            fprintf(r->out, "  %10llu %10llu  ", (unsigned long long)s->temporary,
                    (unsigned long long)s->calls);
            put_label(r->out, labels[i], WIDTH - 26, 25);
            fputc('\n', r->out);
        }
    }
    free(idx);
    free(stacks);
    free(labels);
    /* node's JavaScript frames are bare addresses unless it wrote a perf map */
    const char *name = mw_proc_name(p);
    size_t unnamed = mw_sym_unnamed_jit(rp->sym);
    if (unnamed && (!strcmp(name, "node") || !strcmp(name, "nodejs")))
        fprintf(r->out, "\n  hint: %zu JavaScript frame address%s in these stacks had no name: run node with\n"
                        "  --perf-basic-prof --interpreted-frames-native-stack (or NODE_OPTIONS) to name them\n",
                unnamed, unnamed == 1 ? "" : "es");
}

static void sec_mappings(mw_report *r, mw_report_proc *rp)
{
    const mw_proc *p = rp->p;
    if (!p->mappings.n || r->compact) return;
    char b[32];
    heading(r, "Mappings still mapped at exit");
    fprintf(r->out, "  %zu mappings, %s\n", p->mappings.n, mw_fmt_bytes(p->mmap_live, b));
    for (size_t i = 0; i < p->mappings.n && i < r->top; i++) {
        const mw_mapping *m = &p->mappings.v[i];
        /* an anonymous mapping may have a name: "[brk]", what the program's sbrk added */
        fprintf(r->out, "  %10s  %s  ", mw_fmt_bytes(m->len, b),
                m->path && !(m->flags & 0x20 /* MAP_ANONYMOUS */) ? "file" : "anon");
        if (m->path) {
            put_clean(r->out, base(m->path), 24);
            fputs("  ", r->out);
        }
        where(r, rp, m->stack, 60);
        fputc('\n', r->out);
    }
}

static void sec_sql(mw_report *r, mw_report_proc *rp)
{
    const mw_proc *p = rp->p;
    if (!p->sql.n && !p->sql_leaked.n) return;
    heading(r, "SQL (per query fingerprint)");
    fprintf(r->out, "  %8s %10s %10s  %s\n", "calls", "allocated", "leaked", "query");
    for (size_t i = 0; i < p->sql.n && i < r->top * 2; i++) {
        const mw_sql_query *q = &p->sql.v[i];
        char b1[32], b2[32];
        fprintf(r->out, "  %8llu %10s %10s  ", (unsigned long long)q->calls,
                mw_fmt_bytes(q->bytes_allocated, b1), mw_fmt_bytes(q->bytes_leaked, b2));
        put_clean(r->out, q->text ? q->text : "(text not recorded)", WIDTH - 36);
        fputc('\n', r->out);
    }
    for (size_t i = 0; i < p->sql_leaked.n; i++) {
        const mw_sql_resource *x = &p->sql_leaked.v[i];
        fprintf(r->out, "  %sleaked %llu %s%s%s (%s) created at:\n", RED(r),
                (unsigned long long)x->count, mw_sql_res_name(x->type), x->count == 1 ? "" : "s",
                OFF(r), mw_sql_db_name(x->db));
        stack_lines(r, rp, x->stack, 4, "      ");
    }
}

static void sec_watch(mw_report *r, mw_report_proc *rp)
{
    const mw_proc *p = rp->p;
    if (!p->watch_vars.n) return;
    heading(r, "Watched memory");
    for (size_t i = 0; i < p->watch_vars.n; i++) {
        const mw_watch_var *v = &p->watch_vars.v[i];
        fputs("  ", r->out);
        put_clean(r->out, v->name ? v->name : "?", 40);
        fprintf(r->out, " (%llu bytes): %llu writes\n", (unsigned long long)v->len,
                (unsigned long long)v->writes);
    }
    size_t n = p->watch_events.n < r->top * 2 ? p->watch_events.n : r->top * 2;
    for (size_t i = 0; i < n; i++) {
        const mw_watch_event *e = &p->watch_events.v[i];
        uint64_t *vi = mw_hmap_get(&p->watch_by_id, e->var_id);
        const mw_watch_var *v = vi ? &p->watch_vars.v[*vi] : NULL;
        fprintf(r->out, "  %8.3f s  ", (double)e->t_ns / 1e9);
        put_clean(r->out, v && v->name ? v->name : "?", 24);
        fprintf(r->out, "+%llu", (unsigned long long)e->offset);
        if (e->old_bytes) {
            fputs(" ", r->out);
            for (size_t k = 0; k < e->nbytes && k < 8; k++) fprintf(r->out, "%02x", e->old_bytes[k]);
            fputs(" -> ", r->out);
            for (size_t k = 0; k < e->nbytes && k < 8; k++) fprintf(r->out, "%02x", e->new_bytes[k]);
            if (e->nbytes > 8) fputs("..", r->out);
        }
        fputs("\n      ", r->out);
        fprintf(r->out, "tid %llu", (unsigned long long)e->tid);
        const char *tn = (e->thread_name ? e->thread_name : "");
        if (tn[0]) {
            fputs(" ", r->out);
            put_clean(r->out, tn, 16);
        }
        if (e->syscall >= 0) {
            const char *sn = mw_syscall_name(e->syscall);
            if (sn) fprintf(r->out, "  written by the kernel in %s(2)", sn);
            else fprintf(r->out, "  written by the kernel in syscall %lld", (long long)e->syscall);
        }
        if (e->sql_fp) fprintf(r->out, "  sql %016llx", (unsigned long long)e->sql_fp);
        fputs("\n", r->out);
        if (e->loc_file || e->loc_func) {
            fputs("      at ", r->out);
            put_clean(r->out, e->loc_func ? e->loc_func : "?", 40);
            fputs(" ", r->out);
            put_clean(r->out, e->loc_file ? e->loc_file : "?", 40);
            fprintf(r->out, ":%llu\n", (unsigned long long)e->loc_line);
        } else if (e->stack) {
            stack_lines(r, rp, e->stack, 3, "      ");
        }
    }
    if (p->watch_events_total > n)
        fprintf(r->out, "  ... %llu more write events (--format json lists up to %d)\n",
                (unsigned long long)(p->watch_events_total - n), MW_WATCH_EVENTS_KEEP);
}

/* The sections of one process, in order. Add a section here. */
/* The objects the stacks above name only as module+0xoffset because they could not be read
 * (a binary rebuilt or deleted since the run): said once, after every stack. */
static void sec_symbols(mw_report *r, mw_report_proc *rp)
{
    size_t it = 0;
    const char *path, *why;
    bool first = true;
    while (mw_sym_unreadable(rp->sym, &it, &path, &why)) {
        if (first) fputs("\n  symbols: the frames of these objects read module+0xoffset:\n", r->out);
        first = false;
        fputs("    ", r->out);
        put_clean(r->out, path, 70);
        fprintf(r->out, ": %s\n", why);
    }
}

static const text_section text_sections[] = {
    sec_verdict, sec_leaks, sec_marks, sec_totals, sec_top_sites, mw_patterns_text_sec,
    sec_mappings, sec_sql, sec_watch, sec_symbols,
};

int mw_report_text(mw_report *r)
{
    if (!r->top) r->top = 10;
    for (size_t i = 0; i < r->n; i++) {
        if (i) fputs(r->compact ? "\n----\n" : "\n", r->out);
        for (size_t k = 0; k < sizeof text_sections / sizeof text_sections[0]; k++)
            text_sections[k](r, &r->procs[i]);
    }
    if (r->n > 1) {
        char b1[32], b2[32];
        uint64_t leaked = r->bytes[MW_REACH_DEFINITE] + r->bytes[MW_REACH_INDIRECT];
        /* blocks no scan judged, but for those live at an exec (replaced, not leaked): a
         * killed process's, or one traced with MEMWATCH_REACH=0 */
        uint64_t unscanned = 0;
        size_t unscanned_procs = 0;
        for (size_t i = 0; i < r->n; i++) {
            const mw_proc *p = r->procs[i].p;
            if (!p->leak_bytes[MW_REACH_UNKNOWN] || mw_proc_exec_target(p)) continue;
            unscanned += p->leak_bytes[MW_REACH_UNKNOWN];
            unscanned_procs++;
        }
        fprintf(r->out, "\n%smemwatch: %zu processes: %s%s leaked%s, %s still reachable", BOLD(r),
                r->n, leaked ? RED(r) : GRN(r), mw_fmt_bytes(leaked, b1), OFF(r),
                mw_fmt_bytes(r->bytes[MW_REACH_REACHABLE], b2));
        if (unscanned)
            fprintf(r->out, ", %s%s unfreed and not scanned%s in %zu process%s", YEL(r),
                    mw_fmt_bytes(unscanned, b1), OFF(r), unscanned_procs, unscanned_procs == 1 ? "" : "es");
        if (r->failon)
            fprintf(r->out, "; --fail-on %s%s%s", r->failed ? RED(r) : GRN(r),
                    r->failed ? "FAILS" : "passes", OFF(r));
        if (r->failed) fprintf(r->out, " for %zu process%s", r->failing_procs,
                               r->failing_procs == 1 ? "" : "es");
        fputs("\n", r->out);
        for (size_t i = 0; i < r->n; i++) {
            mw_report_proc *rp = &r->procs[i];
            fprintf(r->out, "  %s ", rp->failed_conditions ? "FAIL" : rp->not_gated[0] ? "skip" : "  ok");
            put_clean(r->out, mw_proc_name(rp->p), 30);
            fprintf(r->out, " (pid %llu): leaked %s", (unsigned long long)rp->p->pid,
                    mw_fmt_bytes(mw_proc_leaked_bytes(rp->p), b1));
            const char *exec = mw_proc_exec_target(rp->p);
            if (exec) {
                fputs("; exec'd ", r->out);
                put_clean(r->out, exec, 40);
            } else if (rp->p->leak_bytes[MW_REACH_UNKNOWN]) {
                fprintf(r->out, "; %s unfreed, not scanned", mw_fmt_bytes(rp->p->leak_bytes[MW_REACH_UNKNOWN], b1));
            }
            char sn[24];
            if (rp->p->fatal_signo) fprintf(r->out, " (died of %s)", mw_signal_name(rp->p->fatal_signo, sn));
            else if (rp->p->truncated)
                fputs(rp->p->still_running ? " (its trace has no end record: still running when read)"
                                           : " (its trace has no end record: killed, or copied while it ran)",
                      r->out);
            if (rp->failed_conditions) fprintf(r->out, "; %s", rp->fail_desc);
            fputc('\n', r->out);
        }
        for (size_t i = 0; i < r->n; i++) untraced_lines(r, &r->procs[i], "  untraced ", true);
    }
    return ferror(r->out) ? -1 : 0;
}
