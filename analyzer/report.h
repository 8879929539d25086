/*
 * report.h — what every report format shares (report.c): the report context handed to each
 * section function, the merged verdict, ranking and formatting helpers.
 *
 * Each format is a list of section functions taking (mw_report *, mw_report_proc *), so
 * adding a section (patterns, growth sites, alerts) is one function and one line in that
 * format's section table.
 */
#ifndef MW_REPORT_H
#define MW_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "exectarget.h"
#include "failon.h"
#include "model.h"
#include "suppress.h"
#include "symbolize.h"

#define MW_STACK_MAX 64        /* frames shown per stack in any report */
#define MW_UNTRACED_MAX 8      /* untraced programs listed per process */

typedef struct mw_report_proc {
    mw_proc *p;
    mw_symbolizer *sym;
    char not_gated[300];       /* "" or why --fail-on does not apply ("matches --ignore GLOB") */
    /* programs this process exec'd or started that have no trace among these, and why
     * (exectarget.c): only where the reason is known (static, setuid) */
    struct mw_untraced { uint64_t pid; const char *path; char why[96]; } untraced[MW_UNTRACED_MAX];
    size_t n_untraced, more_untraced;
    size_t failed_conditions;  /* --fail-on conditions that hold for this process */
    char fail_desc[512];       /* "leaked=123 > 0, ..." */
    struct mw_patterns *patterns; /* growth patterns, growing sites, alerts (patterns_proc.h);
                                     NULL when not analyzed */
} mw_report_proc;

typedef struct mw_report {
    FILE *out;
    mw_report_proc *procs;
    size_t n;
    const mw_failon *failon;   /* NULL: no --fail-on */
    const mw_supp *supp;       /* NULL: no --suppressions */
    bool color;                /* ANSI colours (text format, tty only) */
    bool compact;              /* several processes: text sections keep to leaks, marks and
                                  totals (set by mw_report_verdict when n > 1) */
    size_t top;                /* rows per ranked table (default 10) */
    /* merged verdict (mw_report_verdict) */
    bool failed;               /* some --fail-on condition holds for some process */
    size_t failing_procs;
    uint64_t bytes[MW_KIND_COUNT], blocks[MW_KIND_COUNT]; /* unfreed by kind, after suppressions */
    uint64_t supp_bytes, supp_blocks, lost_events;
    bool any_truncated;
} mw_report;

/* Evaluates --fail-on per process and fills the merged verdict. */
void mw_report_verdict(mw_report *r);

/* The four formats. Return 0, or -1 when writing failed (errno set by stdio). */
int mw_report_text(mw_report *r);
int mw_report_json(mw_report *r);
int mw_report_md(mw_report *r);
int mw_report_html(mw_report *r);
/* The report formats --format accepts: text, json, md, html. */
#define MW_REPORT_FORMATS "text, json, md or html"
bool mw_report_format_known(const char *fmt);

/* ---- helpers --------------------------------------------------------------------------- */
/* Human-readable bytes: "512 B", "1.5 KiB", "3.2 MiB". */
const char *mw_fmt_bytes(uint64_t v, char buf[32]);
/* Site indexes of p ranked by key (descending), at most max, only where key > 0. */
enum mw_rank { MW_RANK_BYTES, MW_RANK_TEMPORARY, MW_RANK_PEAK };
size_t mw_rank_sites(const mw_proc *p, enum mw_rank by, uint32_t *out, size_t max);
/* System call name for a number (x86_64), or NULL when unknown. */
const char *mw_syscall_name(int64_t nr);
/* A demangled function name without its return type, template arguments and parameters,
 * for one-line labels ("v8::internal::Scavenger::Evacuate<...>"; C names unchanged), into out
 * (len > 0); returns its length (shortname.c). */
size_t mw_short_function(const char *name, char *out, size_t len);
/* Short program name: basename of exe, else argv[0], else "?". */
const char *mw_proc_name(const mw_proc *p);
/* The program a process became when its trace ended at an exec (its blocks still live then
 * were replaced with its memory, not leaked), else NULL. */
const char *mw_proc_exec_target(const mw_proc *p);
/* exectarget.c: procs[i].untraced, the programs procs[i] exec'd or started (with children
 * followed) that have no trace among procs and that LD_PRELOAD cannot reach */
void mw_find_untraced(mw_report_proc *procs, size_t n, size_t i);
/* Its trace ended before the process did (END reason shutdown: the shim stopped tracing, as
 * before a seccomp filter): what it held then is not judged. */
bool mw_proc_stopped(const mw_proc *p);
/* "SIGSEGV" for 11 ("signal 77" for a number without a name), into buf. */
const char *mw_signal_name(uint64_t signo, char buf[24]);
/* The name of the thread that got the fatal signal ("" when unknown). */
const char *mw_fatal_thread_name(const mw_proc *p);
/* One line on the fatal signal p died of (FATAL_SIGNAL): "SIGSEGV (address 0x0) at +0.01 s
 * in thread main", into buf; false when it recorded none. */
bool mw_fatal_line(const mw_proc *p, char *buf, size_t len);
/* When the fatal stack shows glibc's allocator stopping the process because it found its heap
 * corrupt (malloc_printerr: a double free, a free of a pointer it did not allocate, a write
 * past a block into the allocator's own data), the site of the allocator call it was in
 * ("crash_here file.c:33 via free", as mw_site_label), into buf; false otherwise. */
bool mw_fatal_heap_error(mw_report_proc *rp, char *buf, size_t len);
/* Its test on n symbolized frames (innermost first): malloc_printerr among them (libc with
 * debug info), or, without libc's internal names, abort() reached from one of the allocator's
 * entry points (free, malloc, realloc ...) through libc's own frames only. */
bool mw_frames_heap_error(const mw_frame *fr, size_t n);
/* What the Markdown and HTML reports say before that site (the text report wraps its own). */
#define MW_HEAP_ERROR_LEAD                                                                   \
    ": glibc's allocator found its heap corrupt and stopped the process (a double free, a free " \
    "of a pointer it did not allocate, or a write past the end of a block), in "
/* What the Markdown and HTML reports say of a trace whose HEADER has MW_HF_MALLOC_SHADOWED,
 * after "malloc is the program's own (found before memwatch's): " (the text report wraps its
 * own). */
#define MW_SHADOWED_NOTE \
    "heap blocks it does not take from the C library are not traced (mappings are)"
/* Symbolized frames of a stack (innermost first), at most max; 0 without a symbolizer.
 * The one place every format gets its stacks from. */
size_t mw_stack_frames(mw_report_proc *rp, uint64_t stack, mw_frame *out, size_t max);
/* The frame that best names a site on one line: the first of a script's code named by the
 * runtime's perf map (a JavaScript function in a file, symbolize.c), else the first in the program's own code (the
 * executable or a library outside the system's library directories, and not code of a system
 * header under /usr/include inlined there), else the first with
 * source info, else the innermost: past malloc wrappers, operator new and libc's internals
 * even when the system libraries have debug info and the program has none. Fills *f, and *via (may be
 * NULL) with the named library function it called into (NULL when none); false when the
 * stack is empty. */
bool mw_site_frame(mw_report_proc *rp, uint64_t stack, mw_frame *f, const char **via);
/* The index of that frame among n symbolized frames (0 when n is 0). */
size_t mw_site_index(const mw_report_proc *rp, const mw_frame *fr, size_t n);
/* A site on one line: "func file:line via lib_function" of mw_site_frame's frame, into buf
 * ("(no stack)" when none). */
void mw_site_label(mw_report_proc *rp, uint64_t stack, char *buf, size_t len);
/* Labels of n rows (one stack each) for a table: rows of different stacks that would read the
 * same get the first caller where they differ ("site <- ... <- caller"), or, when their
 * callers are the same, the first frame inside the library they called where they differ
 * ("site via f -> ... -> g"), for up to 3 rounds. */
typedef char mw_label[400];
void mw_site_labels(mw_report_proc *rp, const uint64_t *stacks, size_t n, mw_label *labels);
/* How many frames right after f[i] (of n) are the same frame again: a recursion through one
 * call site, shown as one line. */
size_t mw_frame_repeats(const mw_frame *f, size_t i, size_t n);

#endif /* MW_REPORT_H */
