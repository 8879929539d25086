/*
 * report_md.c — the Markdown report (--format md), for pull-request comments: a verdict
 * line per process, totals, the leak table with stacks in <details> blocks, top sites, SQL.
 * Trace-controlled text goes through mw_md_escape (GitHub renders inline HTML).
 */
#include <stdlib.h>
#include <string.h>

#include "htmlesc.h"
#include "patterns_report.h"
#include "report.h"

#define ESC(r, s) mw_md_escape((r)->out, (s))

typedef void (*md_section)(mw_report *r, mw_report_proc *rp);

static void stack_block(mw_report *r, mw_report_proc *rp, uint64_t stack)
{
    mw_frame f[MW_STACK_MAX];
    size_t n = mw_stack_frames(rp, stack, f, MW_STACK_MAX), lines = 0, i = 0;
    for (; i < n && lines < 16; i++, lines++) {
        fprintf(r->out, "%zu. `", i);
        /* inside a code span only the backtick matters: drop it */
        for (const char *c = f[i].function ? f[i].function : "?"; *c; c++)
            if (*c != '`' && (unsigned char)*c >= 0x20) fputc(*c, r->out);
        fputs("`", r->out);
        if (f[i].file) {
            fputs(" ", r->out);
            ESC(r, f[i].file);
            if (f[i].line) fprintf(r->out, ":%llu", (unsigned long long)f[i].line);
        }
        /* a recursion: the same frame again and again is one line */
        size_t k = mw_frame_repeats(f, i, n);
        if (k) fprintf(r->out, " (the same frame %zu more time%s)", k, k == 1 ? "" : "s");
        i += k;
        fputs("\n", r->out);
    }
    if (i < n) fprintf(r->out, "\n... %zu more frame%s\n", n - i, n - i == 1 ? "" : "s");
    if (!n)
        fputs(stack == MW_STACK_INHERITED ? "(allocated by the parent before fork(): analyze its trace with this one to see where)\n"
                                          : "(no stack recorded)\n", r->out);
}

static void where(mw_report *r, mw_report_proc *rp, uint64_t stack)
{
    mw_frame f[1];
    if (!mw_site_frame(rp, stack, f, NULL)) {
        fputs(stack == MW_STACK_INHERITED ? "(inherited at fork)" : "(no stack)", r->out);
        return;
    }
    ESC(r, f[0].function);
    if (f[0].file) {
        const char *b = strrchr(f[0].file, '/');
        fputs(" ", r->out);
        ESC(r, b ? b + 1 : f[0].file);
        if (f[0].line) fprintf(r->out, ":%llu", (unsigned long long)f[0].line);
    }
}

static void sec_header(mw_report *r, mw_report_proc *rp)
{
    const mw_proc *p = rp->p;
    char b[32];
    uint64_t leaked = mw_proc_leaked_bytes(p);
    fputs("### ", r->out);
    ESC(r, mw_proc_name(p));
    fprintf(r->out, " (pid %llu): ", (unsigned long long)p->pid);
    if (leaked) fprintf(r->out, ":x: leaked %llu bytes (%s)", (unsigned long long)leaked, mw_fmt_bytes(leaked, b));
    else if (p->leak_bytes[MW_REACH_UNKNOWN] && mw_proc_exec_target(p)) {
        fputs(":arrow_right: exec'd ", r->out);
        ESC(r, mw_proc_exec_target(p));
        fprintf(r->out, " with %s live (replaced, not leaks)", mw_fmt_bytes(p->leak_bytes[MW_REACH_UNKNOWN], b));
    } else if (p->leak_bytes[MW_REACH_UNKNOWN] && mw_proc_stopped(p))
        fprintf(r->out, ":pause_button: tracing stopped before it ended, with %s live (not judged)", mw_fmt_bytes(p->leak_bytes[MW_REACH_UNKNOWN], b));
    else if (p->leak_bytes[MW_REACH_UNKNOWN])
        fprintf(r->out, ":warning: %s unfreed at exit (no reachability scan)", mw_fmt_bytes(p->leak_bytes[MW_REACH_UNKNOWN], b));
    else fputs(":white_check_mark: no leaks", r->out);
    fputs("\n\n", r->out);
    if (rp->failed_conditions) {
        fputs("**--fail-on holds:** ", r->out);
        ESC(r, rp->fail_desc);
        fputs("\n\n", r->out);
    }
    if (rp->not_gated[0]) {
        fputs("Not gated: ", r->out);
        ESC(r, rp->not_gated);
        fputs("\n\n", r->out);
    }
    for (size_t k = 0; k < rp->n_untraced; k++) { /* programs it started that no trace covers */
        fputs("Not traced: ", r->out); /* escaped, so not in a code span */
        ESC(r, rp->untraced[k].path);
        fprintf(r->out, " (pid %llu): ", (unsigned long long)rp->untraced[k].pid);
        ESC(r, rp->untraced[k].why);
        fputs("\n\n", r->out);
    }
    if (rp->more_untraced) fprintf(r->out, "Not traced: %zu more like these\n\n", rp->more_untraced);
    fputs("Command: ", r->out);
    for (size_t i = 0; i < p->argc; i++) {
        if (i) fputc(' ', r->out);
        ESC(r, p->argv[i]);
    }
    fputs("\n\n", r->out);
    char fatal[200];
    if (mw_fatal_line(p, fatal, sizeof fatal)) {
        fputs("**It died of ", r->out);
        ESC(r, fatal);
        fputs("**", r->out);
        char site[400];
        if (mw_fatal_heap_error(rp, site, sizeof site)) {
            fputs(MW_HEAP_ERROR_LEAD, r->out);
            ESC(r, site);
        }
        fputs(" (the trace holds all it did before); the signal arrived here:\n\n", r->out);
        stack_block(r, rp, p->fatal_stack);
        fputs("\n", r->out);
    } else if (p->truncated) {
        fputs(p->still_running
                  ? "**The trace is truncated** (no end record: the program was still running when it was read): "
                    "figures cover what was recorded.\n\n"
                  : "**The trace is truncated** (no end record: the program was killed, or the trace copied "
                    "while it ran): figures cover what was recorded.\n\n",
              r->out);
    }
    if (p->lost_events)
        fprintf(r->out, "**%llu events were lost** by the tracer.\n\n", (unsigned long long)p->lost_events);
    if (p->flags & MW_HF_MALLOC_SHADOWED)
        fprintf(r->out, "**malloc is the program's own** (found before memwatch's): %s.\n\n", MW_SHADOWED_NOTE);
}

static void sec_totals(mw_report *r, mw_report_proc *rp)
{
    const mw_proc *p = rp->p;
    char b1[32], b2[32], b3[32];
    fputs("| allocations | frees | bytes allocated | peak heap | peak RSS | definite | indirect | reachable | suppressed |\n"
          "|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n", r->out);
    fprintf(r->out, "| %llu | %llu | %s | %s | %s | %llu | %llu | %llu | %llu |\n\n",
            (unsigned long long)p->allocations, (unsigned long long)p->frees,
            mw_fmt_bytes(p->bytes_allocated, b1), mw_fmt_bytes(p->peak_heap, b2),
            mw_fmt_bytes(p->peak_rss, b3), (unsigned long long)p->leak_bytes[MW_REACH_DEFINITE],
            (unsigned long long)p->leak_bytes[MW_REACH_INDIRECT],
            (unsigned long long)p->leak_bytes[MW_REACH_REACHABLE], (unsigned long long)p->supp_bytes);
}

static void sec_leaks(mw_report *r, mw_report_proc *rp)
{
    const mw_proc *p = rp->p;
    size_t shown = 0;
    for (size_t i = 0; i < p->leaks.n && shown < r->top; i++) {
        const mw_leak *l = &p->leaks.v[i];
        if (l->suppressed) continue;
        if (!shown)
            fputs(mw_proc_exec_target(p) ? "#### Unfreed at exit, or live when it exec'd\n\n"
                  : mw_proc_stopped(p)   ? "#### Live when tracing stopped (not judged)\n\n"
                                         : "#### Unfreed at exit\n\n",
                  r->out);
        shown++;
        fprintf(r->out, "<details><summary>%llu bytes in %llu block%s, %s", (unsigned long long)l->bytes,
                (unsigned long long)l->blocks, l->blocks == 1 ? "" : "s", mw_reach_kind_name(l->kind));
        if (mw_stack_inherited(p->sites.v[l->site].stack))
            fprintf(r->out, ", inherited from pid %llu", (unsigned long long)p->ppid);
        fputs(": ", r->out);
        where(r, rp, p->sites.v[l->site].stack);
        fputs("</summary>\n\n", r->out);
        stack_block(r, rp, p->sites.v[l->site].stack);
        fputs("\n</details>\n\n", r->out);
    }
    bool marks = false;
    for (size_t i = 0; i < p->marks.n; i++) {
        const mw_mark *m = &p->marks.v[i];
        if (!m->leaked_blocks) continue;
        if (!marks) fputs("| mark | leaked after it |\n|---|---:|\n", r->out);
        marks = true;
        fputs("| ", r->out);
        ESC(r, m->label);
        fprintf(r->out, " | %llu bytes |\n", (unsigned long long)m->leaked_bytes);
    }
    if (marks) fputs("\n", r->out);
}

static void sec_sites(mw_report *r, mw_report_proc *rp)
{
    const mw_proc *p = rp->p;
    uint32_t idx[20];
    size_t n = mw_rank_sites(p, MW_RANK_BYTES, idx, r->top < 20 ? r->top : 20);
    if (!n) return;
    fputs("#### Top allocation sites\n\n| bytes | calls | temporary | site |\n|---:|---:|---:|---|\n", r->out);
    /* rows of different stacks that would read the same get their callers */
    uint64_t stacks[20];
    static mw_label labels[20];
    for (size_t i = 0; i < n; i++) stacks[i] = p->sites.v[idx[i]].stack;
    mw_site_labels(rp, stacks, n, labels);
    for (size_t i = 0; i < n; i++) {
        const mw_site *s = &p->sites.v[idx[i]];
        char b[32];
        fprintf(r->out, "| %s | %llu | %llu | ", mw_fmt_bytes(s->bytes, b), (unsigned long long)s->calls,
                (unsigned long long)s->temporary);
        ESC(r, labels[i]);
        fputs(" |\n", r->out);
    }
    fputs("\n", r->out);
}

static void sec_sql(mw_report *r, mw_report_proc *rp)
{
    const mw_proc *p = rp->p;
    if (!p->sql.n && !p->sql_leaked.n) return;
    char b1[32], b2[32];
    fputs("#### SQL\n\n| calls | allocated | leaked | query |\n|---:|---:|---:|---|\n", r->out);
    for (size_t i = 0; i < p->sql.n && i < r->top * 2; i++) {
        const mw_sql_query *q = &p->sql.v[i];
        fprintf(r->out, "| %llu | %s | %s | ", (unsigned long long)q->calls,
                mw_fmt_bytes(q->bytes_allocated, b1), mw_fmt_bytes(q->bytes_leaked, b2));
        ESC(r, q->text ? q->text : "(text not recorded)");
        fputs(" |\n", r->out);
    }
    fputs("\n", r->out);
    for (size_t i = 0; i < p->sql_leaked.n; i++) {
        const mw_sql_resource *x = &p->sql_leaked.v[i];
        fprintf(r->out, "- leaked %llu %s%s: ", (unsigned long long)x->count, mw_sql_res_name(x->type),
                x->count == 1 ? "" : "s");
        where(r, rp, x->stack);
        fputs("\n", r->out);
    }
    if (p->sql_leaked.n) fputs("\n", r->out);
}

/* The sections of one process, in order. Add a section here. */
/* The objects the stacks above name only as module+0xoffset because they could not be read
 * (symbolize.h), once every stack is out. */
static void sec_symbols(mw_report *r, mw_report_proc *rp)
{
    size_t it = 0;
    const char *path, *why;
    bool first = true;
    while (mw_sym_unreadable(rp->sym, &it, &path, &why)) {
        if (first) fputs("The frames of these objects read module+0xoffset:\n\n", r->out);
        first = false;
        fputs("- ", r->out); /* escaped, so not in a code span */
        ESC(r, path);
        fputs(": ", r->out);
        ESC(r, why);
        fputs("\n", r->out);
    }
    if (!first) fputs("\n", r->out);
}

static const md_section md_sections[] = {sec_header, sec_totals, sec_leaks, sec_sites,
                                         mw_patterns_md_sec, sec_sql, sec_symbols};

int mw_report_md(mw_report *r)
{
    if (!r->top) r->top = 10;
    char b[32];
    uint64_t leaked = r->bytes[MW_REACH_DEFINITE] + r->bytes[MW_REACH_INDIRECT];
    fprintf(r->out, "## memwatch: %s leaked in %zu process%s", mw_fmt_bytes(leaked, b), r->n,
            r->n == 1 ? "" : "es");
    if (r->failon) fprintf(r->out, " — --fail-on %s", r->failed ? "**fails**" : "passes");
    fputs("\n\n", r->out);
    if (r->n > 1) {
        fputs("| process | pid | leaked | reachable | peak heap | verdict |\n"
              "|---|---:|---:|---:|---:|---|\n", r->out);
        for (size_t i = 0; i < r->n; i++) {
            const mw_report_proc *rp = &r->procs[i];
            char b1[32], b2[32], b3[32];
            fputs("| ", r->out);
            ESC(r, mw_proc_name(rp->p));
            fprintf(r->out, " | %llu | %s | %s | %s | ", (unsigned long long)rp->p->pid,
                    mw_fmt_bytes(mw_proc_leaked_bytes(rp->p), b1),
                    mw_fmt_bytes(rp->p->leak_bytes[MW_REACH_REACHABLE], b2),
                    mw_fmt_bytes(rp->p->peak_heap, b3));
            if (rp->failed_conditions) ESC(r, rp->fail_desc);
            else fputs(rp->not_gated[0] ? "not gated" : "ok", r->out);
            fputs(" |\n", r->out);
        }
        fputs("\n", r->out);
    }
    for (size_t i = 0; i < r->n; i++)
        for (size_t k = 0; k < sizeof md_sections / sizeof md_sections[0]; k++)
            md_sections[k](r, &r->procs[i]);
    return ferror(r->out) ? -1 : 0;
}
