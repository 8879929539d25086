/*
 * analyze.c — hands a run directory to memwatch-analyze: the run's *.trace.zst in it (not the
 * ones an earlier run left in a reused --out DIR), one store (DIR/run.db), the user's report
 * options passed through, and --ignore patterns for gating.
 * The report goes to stderr (CMD owns stdout) unless -o names a file.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mw_path.h"
#include "mw_tracelock.h"
#include "report.h"
#include "runner.h"
#include "say.h"

static int has_suffix(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A directory the shim made for a user the traced program became (preload/hooks_uid.c):
 * the traces of what it started as that user are in it. */
static bool is_user_dir(const char *dir, const char *name)
{
    if (strncmp(name, "memwatch.uid-", 13) != 0 || !name[13] || strspn(name + 13, "0123456789") != strlen(name + 13))
        return false;
    char p[PATH_MAX];
    struct stat st;
    return snprintf(p, sizeof p, "%s/%s", dir, name) < (int)sizeof p && lstat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Appends DIR/NAME.trace.zst paths to v[0..*n) (*cap slots), and those of the user
 * directories in DIR when users is set. false: out of memory, or DIR unreadable (said). */
static bool add_traces(const char *dir, bool users, char ***v, size_t *n, size_t *cap, bool *oom)
{
    DIR *d = opendir(dir);
    if (!d) {
        mw_say("memwatch: cannot read run directory %s: %s\n", dir, strerror(errno));
        return false;
    }
    struct dirent *e;
    bool ok = true;
    while (ok && (e = readdir(d))) {
        size_t len = strlen(dir) + strlen(e->d_name) + 2;
        if (users && is_user_dir(dir, e->d_name)) {
            char sub[PATH_MAX];
            snprintf(sub, sizeof sub, "%s/%s", dir, e->d_name);
            ok = add_traces(sub, false, v, n, cap, oom);
            continue;
        }
        if (!has_suffix(e->d_name, ".trace.zst")) continue;
        if (*n == *cap) {
            char **g = realloc(*v, (*cap *= 2) * sizeof **v);
            if (!g) {
                *oom = true;
                ok = false;
                break;
            }
            *v = g;
        }
        if (!((*v)[*n] = malloc(len))) {
            *oom = true;
            ok = false;
            break;
        }
        snprintf((*v)[*n], len, "%s/%s", dir, e->d_name);
        ++*n;
    }
    closedir(d);
    return ok;
}

/* Lists the DIR/NAME.trace.zst files, and DIR/memwatch.uid-N/NAME.trace.zst, sorted. Returns
 * the count (0 on none), -1 on error: never a partial list (a trace left out would be a leak
 * the gate did not see). */
static int list_traces(const char *dir, char ***out)
{
    size_t n = 0, cap = 16;
    char **v = malloc(cap * sizeof *v);
    bool oom = v == NULL;
    if (v && !add_traces(dir, true, &v, &n, &cap, &oom) && !oom) {
        for (size_t i = 0; i < n; i++) free(v[i]);
        free(v);
        return -1;
    }
    if (oom) {
        mw_say("memwatch: out of memory listing the traces of %s\n", dir);
        for (size_t i = 0; i < n; i++) free(v[i]);
        free(v);
        return -1;
    }
    qsort(v, n, sizeof *v, cmp_str);
    *out = v;
    return (int)n;
}

static const char *const store_files[] = { "run.db", "run.db-journal", "run.db-wal", "run.db-shm" };

int mw_runner_existing(const char *dir, mw_trace_list *l)
{
    l->paths = NULL;
    l->store_had = 0;
    l->dir_made = false;
    for (unsigned i = 0; i < sizeof store_files / sizeof *store_files; i++) {
        char p[PATH_MAX];
        struct stat st;
        snprintf(p, sizeof p, "%s/%s", dir, store_files[i]);
        if (lstat(p, &st) == 0) l->store_had |= 1u << i;
    }
    l->n = list_traces(dir, &l->paths);
    if (l->n < 0) {
        l->n = 0;
        return -1;
    }
    return 0;
}

void mw_trace_list_free(mw_trace_list *l)
{
    for (int i = 0; i < l->n; i++) free(l->paths[i]);
    free(l->paths);
    l->paths = NULL;
    l->n = 0;
}

static bool in_list(const mw_trace_list *l, const char *path)
{
    return l && l->n && bsearch(&path, l->paths, (size_t)l->n, sizeof *l->paths, cmp_str) != NULL;
}

/* The traces of dir not in before (this run's), in traces[0..return). */
static int run_traces(const char *dir, const mw_trace_list *before, char ***traces)
{
    int n = list_traces(dir, traces);
    int k = 0;
    for (int i = 0; i < n; i++) {
        if (in_list(before, (*traces)[i])) free((*traces)[i]);
        else (*traces)[k++] = (*traces)[i];
    }
    return n < 0 ? n : k;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Programs CMD started can outlive it: Python's multiprocessing resource tracker ends once
 * its parent has, a test's server when the runner's shell is gone, a daemon never. Analyzed
 * right away, their traces have no end record and their blocks were never scanned ("killed,
 * or still running", until 2026-11-24). A traced process holds a lock on its trace while it
 * runs (formats/mw_tracelock.h): wait up to o->grace_ms for every such lock to go, listing the
 * directory again each round for the traces of the programs those start meanwhile; then name
 * the ones still running. A trace seen without its lock never takes it again (its process
 * has ended or exec'd), so only the others are asked again. */
static void wait_for_running(const char *dir, const mw_trace_list *before, const mw_run_opts *o)
{
    uint64_t deadline = now_ms() + o->grace_ms;
    mw_trace_list done = { 0 }; /* sorted: traces whose lock was free */
    size_t done_cap = 0;
    for (;;) {
        char **traces = NULL;
        int n = run_traces(dir, before, &traces);
        if (n < 0) break;
        int running = 0, named = 0;
        char names[3][PATH_MAX];
        size_t nsorted = (size_t)done.n; /* the part sorted at the end of the last round */
        for (int i = 0; i < n; i++) {
            if (nsorted && bsearch(&traces[i], done.paths, nsorted, sizeof *done.paths, cmp_str)) continue;
            if (mw_tracelock_held_path(traces[i])) {
                if (named < 3) { /* the file name, one line whatever the program's name holds */
                    const char *slash = strrchr(traces[i], '/');
                    char *d = names[named++];
                    snprintf(d, PATH_MAX, "%s", slash ? slash + 1 : traces[i]);
                    for (; *d; d++)
                        if ((unsigned char)*d < 0x20 || *d == 0x7f) *d = '?';
                }
                running++;
                continue;
            }
            if ((size_t)done.n == done_cap) {
                size_t nc = done_cap ? 2 * done_cap : 64;
                char **g = realloc(done.paths, nc * sizeof *g);
                if (!g) continue; /* asked again next round */
                done.paths = g;
                done_cap = nc;
            }
            done.paths[done.n++] = traces[i];
            traces[i] = NULL;
        }
        for (int i = 0; i < n; i++) free(traces[i]);
        free(traces);
        if (done.n > 1) qsort(done.paths, (size_t)done.n, sizeof *done.paths, cmp_str);
        if (!running) break;
        bool stopped = mw_runner_stop_waiting != 0;
        uint64_t now = now_ms();
        if (stopped || now >= deadline) {
            if (!o->quiet) {
                char when[64];
                if (stopped)
                    snprintf(when, sizeof when, "when a signal ended the wait, %g s after it ended",
                             (double)(now + o->grace_ms - deadline) / 1000.0);
                else
                    snprintf(when, sizeof when, "%g s after it ended (--grace)", o->grace_ms / 1000.0);
                mw_say("memwatch: %d program%s CMD started %s still running %s; %s reported as far as %s: "
                       "%s%s%s%s%s%s\n",
                       running, running == 1 ? "" : "s", running == 1 ? "is" : "are", when,
                       running == 1 ? "its trace is" : "their traces are",
                       running == 1 ? "it goes" : "they go", names[0], named > 1 ? ", " : "",
                       named > 1 ? names[1] : "", named > 2 ? ", " : "", named > 2 ? names[2] : "",
                       running > named ? ", ..." : "");
            }
            break;
        }
        struct timespec nap = { 0, 20 * 1000 * 1000 };
        nanosleep(&nap, NULL);
    }
    mw_trace_list_free(&done);
}

/* Copies what comes from fd in to fd out until end of input; once out fails (a reader that
 * went away: `memwatch run ... 2>&1 | head`), the rest is read and dropped. */
static void pass_through(int in, int out)
{
    char buf[16384];
    bool dropping = false;
    for (;;) {
        ssize_t n = read(in, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        for (ssize_t off = 0; !dropping && off < n;) {
            ssize_t w = write(out, buf + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) dropping = true;
            else off += w;
        }
    }
}

/* Runs the analyzer with argv; its stdout goes to fd out_fd, through a pipe the runner reads
 * when out_fd is its standard error (which a reader may close early: the analyzer then still
 * runs to the end and gives the gate's status, where it died of SIGPIPE and the runner said
 * the analysis failed). Returns its exit status, or -1. */
/* Writes the n paths, each ended by a NUL byte, to fd (the analyzer's --trace-list -); stops
 * at an error (an analyzer that ended early). */
static void write_list(int fd, char **paths, int n)
{
    for (int i = 0; i < n; i++) {
        const char *p = paths[i];
        size_t left = strlen(p) + 1;
        while (left) {
            ssize_t w = write(fd, p, left);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) return;
            p += w;
            left -= (size_t)w;
        }
    }
}

static int run_analyzer(char **argv, int out_fd, char **traces, int ntraces)
{
    int pfd[2] = { -1, -1 }, lfd[2] = { -1, -1 };
    if (out_fd == STDERR_FILENO && pipe2(pfd, O_CLOEXEC) != 0) pfd[0] = pfd[1] = -1;
    if (pipe2(lfd, O_CLOEXEC) != 0) {
        if (pfd[0] >= 0) { close(pfd[0]); close(pfd[1]); }
        return -1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        if (pfd[0] >= 0) { close(pfd[0]); close(pfd[1]); }
        close(lfd[0]);
        close(lfd[1]);
        return -1;
    }
    if (pid == 0) {
        signal(SIGPIPE, SIG_DFL); /* the runner ignores it: the analyzer is as run by hand */
        int to = pfd[1] >= 0 ? pfd[1] : out_fd;
        if (to != STDOUT_FILENO) dup2(to, STDOUT_FILENO);
        dup2(lfd[0], STDIN_FILENO);
        execv(argv[0], argv);
        mw_say("memwatch: cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    /* the list first: the analyzer reads all of it before it writes a line */
    close(lfd[0]);
    write_list(lfd[1], traces, ntraces);
    close(lfd[1]);
    if (pfd[0] >= 0) {
        close(pfd[1]);
        pass_through(pfd[0], out_fd);
        close(pfd[0]);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* CMD as execvp found it (formats/mw_path.c), its real path; "" when none. */
static void resolve_cmd(const char *cmd, char *out, size_t len)
{
    char cand[PATH_MAX];
    out[0] = '\0';
    const char *found = mw_path_search(cmd, cand, sizeof cand);
    char *r = found && found[0] ? realpath(found, NULL) : NULL;
    if (r) snprintf(out, len, "%s", r);
    free(r);
}

int mw_runner_analyze(const char *analyzer, const char *dir, const mw_run_opts *o, const mw_trace_list *before,
                      const char *cmd)
{
    if (o->grace_ms) wait_for_running(dir, before, o);
    char **traces = NULL;
    int n = run_traces(dir, before, &traces);
    if (n <= 0) {
        char prog[PATH_MAX], why[160] = "";
        resolve_cmd(cmd, prog, sizeof prog);
        if (prog[0]) mw_why_untraceable(prog, why, sizeof why);
        if (n == 0 && why[0])
            mw_say("memwatch: no traces were written in %s: %s: %s\n", dir, prog, why);
        else if (n == 0)
            mw_say("memwatch: no traces were written in %s (is the program dynamically linked?)\n", dir);
        free(traces);
        return o->fail_on ? 1 : 0;
    }
    char db[PATH_MAX];
    snprintf(db, sizeof db, "%s/run.db", dir);

    /* the traces go through a pipe (--trace-list -), not the command line: a test suite's
     * tens of thousands of programs made execv fail with E2BIG (until 03:27 UTC on 2026-11-24) */
    size_t max = 20 + 2 * o->n_ignore;
    char **argv = calloc(max, sizeof *argv);
    if (!argv) return o->fail_on ? 1 : 0;
    size_t k = 0;
    argv[k++] = (char *)analyzer;
    argv[k++] = "--trace-list";
    argv[k++] = "-";
    argv[k++] = "--db";
    argv[k++] = db;
    if (o->suppressions) { argv[k++] = "--suppressions"; argv[k++] = (char *)o->suppressions; }
    if (o->alerts) { argv[k++] = "--alerts"; argv[k++] = (char *)o->alerts; }
    for (size_t i = 0; i < o->n_ignore; i++) { argv[k++] = "--ignore"; argv[k++] = (char *)o->ignore[i]; }
    size_t common = k;
    if (o->fail_on) { argv[k++] = "--fail-on"; argv[k++] = (char *)o->fail_on; }
    if (o->format) { argv[k++] = "--format"; argv[k++] = (char *)o->format; }
    if (o->output) { argv[k++] = "-o"; argv[k++] = (char *)o->output; }

    /* --quiet: hold the report back and show it only when the gate fails */
    FILE *held = o->quiet && !o->output ? tmpfile() : NULL;
    int out_fd = held ? fileno(held) : STDERR_FILENO;
    int rc = run_analyzer(argv, out_fd, traces, n);
    if (held) {
        if (rc != 0) {
            rewind(held);
            char buf[8192];
            size_t got;
            while ((got = fread(buf, 1, sizeof buf, held)) > 0) fwrite(buf, 1, got, stderr);
        }
        fclose(held);
    }
    int gate = 0;
    if (rc == 1) gate = 1;
    else if (rc != 0) {
        mw_say("memwatch: the analysis failed (memwatch-analyze exit status %d)%s\n", rc,
               o->fail_on ? "; failing the gate because it could not be checked" : "");
        gate = o->fail_on ? 1 : 0;
    }
    if (o->html && (rc == 0 || rc == 1)) {
        k = common;
        argv[k++] = "--format";
        argv[k++] = "html";
        argv[k++] = "-o";
        argv[k++] = (char *)o->html;
        argv[k] = NULL;
        int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
        int hr = run_analyzer(argv, devnull >= 0 ? devnull : STDERR_FILENO, traces, n);
        if (devnull >= 0) close(devnull);
        if (hr != 0 && hr != 1)
            mw_say("memwatch: could not write the HTML report %s\n", o->html);
    }
    for (int i = 0; i < n; i++) free(traces[i]);
    free(traces);
    free(argv);
    return gate;
}

void mw_runner_cleanup(const char *dir, const mw_run_opts *o, const mw_trace_list *before)
{
    (void)o;
    char **traces = NULL;
    int n = run_traces(dir, before, &traces);
    for (int i = 0; i < n; i++) {
        unlink(traces[i]);
        free(traces[i]);
    }
    free(traces);
    if (before && before->n) return; /* the store holds the earlier runs' rows too: it stays */
    char p[PATH_MAX];
    /* only the files this run made: a run.db that was there (a file of the user's, or an
     * earlier run's store) went with it until 03:08 UTC on 2026-11-24 */
    for (unsigned i = 0; i < sizeof store_files / sizeof *store_files; i++) {
        if (before && (before->store_had & (1u << i))) continue;
        snprintf(p, sizeof p, "%s/%s", dir, store_files[i]);
        unlink(p);
    }
    DIR *d = opendir(dir); /* the users' directories, emptied above */
    for (struct dirent *e; d && (e = readdir(d));)
        if (is_user_dir(dir, e->d_name)) {
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            rmdir(p);
        }
    if (d) closedir(d);
    /* only a directory the runner made, and only when nothing else (an -o report, ...) lives
     * there: an empty --out DIR of the user's was removed too */
    if (before && before->dir_made) rmdir(dir);
}
