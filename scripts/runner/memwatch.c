/*
 * scripts/runner/memwatch.c — `memwatch run [options] -- CMD ARGS...`: the test-suite runner.
 *
 * Runs CMD with the shim preloaded (our absolute path put first in LD_PRELOAD, every existing
 * entry kept), every process of the tree tracing into one run directory, then hands all the
 * traces to memwatch-analyze (found beside this binary) for one report with a section per
 * process and a merged verdict. The runner's exit status is CMD's own, unless --fail-on holds
 * for a gated process (then 1). Signals sent to the runner are forwarded to CMD; a CMD killed
 * by a signal is reported and the runner dies of the same signal.
 *
 * Process handling lives here; analysis, gating and rendering are the analyzer's (its
 * --ignore flag and its exec-only rule decide which processes are gated).
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
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mw_execfile.h"
#include "mw_path.h"
#include "pathsame.h"
#include "runner.h"
#include "say.h"
#include "store.h"

static volatile sig_atomic_t g_child = 0;

static void usage(FILE *f)
{
    fprintf(f,
        "usage: memwatch run [options] -- CMD [ARGS...]\n"
        "Runs CMD under the memwatch shim (all processes it starts are traced), analyzes\n"
        "every trace and prints one report with a merged verdict.\n\n"
        "options:\n"
        "  --out DIR            run directory for traces and the store\n"
        "                       (default memwatch-run.<YYYYmmdd-HHMMSS>/)\n"
        "  --fail-on EXPR       exit 1 when EXPR holds for any gated process\n"
        "                       (analyzer grammar, e.g. 'leaked>0,peak_heap>512M')\n"
        "  --suppressions FILE  LeakSanitizer-style suppressions (leak:PATTERN)\n"
        "  --ignore GLOB        list but do not gate programs matching GLOB (repeatable;\n"
        "                       matched against the executable path and its base name)\n"
        "  --format FMT         report format: text (default), json, md, html\n"
        "  -o FILE              write the report to FILE instead of stderr\n"
        "  --html FILE          also write the HTML report of the whole run to FILE\n"
        "  --alerts FILE        alert rules for the analyzer (key = value lines)\n"
        "  --grace SECONDS      once CMD has ended, wait up to this long for the programs\n"
        "                       it started that still run, so their traces end (default 2)\n"
        "  --keep / --no-keep   keep (default) or delete the traces and store afterwards\n"
        "  --quiet, -q          print the report only when the gate fails\n"
        "  -h, --help           this help;  --version  print the version\n\n"
        "exit status: CMD's own (128+N style death by the same signal when CMD was killed),\n"
        "1 when --fail-on holds, 2 for a usage error, 127 when CMD is not found, 126\n"
        "when it cannot be run.\n");
}

volatile sig_atomic_t mw_runner_stop_waiting = 0;

/* Forward signals that somebody sent to the runner itself (kill, timeout(1), CI cancel).
 * Terminal-generated ones (SI_KERNEL) already reached CMD: it is in our process group. Once
 * CMD has ended, one that would end a program (Ctrl-C) ends the wait for the programs it
 * started that still run (--grace), and the report is made. */
static void forward(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    if (g_child > 0 && si && si->si_code != SI_KERNEL) kill((pid_t)g_child, sig);
    else if (g_child == 0 && (sig == SIGINT || sig == SIGTERM || sig == SIGHUP || sig == SIGQUIT))
        mw_runner_stop_waiting = 1;
}

static const int k_forwarded[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2,
                                   SIGALRM, SIGWINCH, SIGCONT, SIGTSTP };

static void install_forwarders(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = forward;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof k_forwarded / sizeof *k_forwarded; i++)
        sigaction(k_forwarded[i], &sa, NULL);
}

static void restore_default_signals(void)
{
    for (size_t i = 0; i < sizeof k_forwarded / sizeof *k_forwarded; i++)
        signal(k_forwarded[i], SIG_DFL);
}

/* CMD stopped (Ctrl-Z: the terminal's SIGTSTP reached its process group, ours; or a
 * background read's SIGTTIN): the runner stops too, by the same signal, so that the shell
 * sees the whole job stopped and gives its prompt back; `fg` or `bg` continue both (SIGCONT
 * to the group). The runner itself catches SIGTSTP (to pass on one sent to it alone), which
 * left it running in waitpid: the shell waited for a job that would never stop or end, and
 * the terminal hung (until 02:50 UTC on 2026-11-24). */
static void stop_as(int sig)
{
    if (sig != SIGTSTP && sig != SIGTTIN && sig != SIGTTOU) sig = SIGSTOP;
    struct sigaction dfl, old;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    if (sig != SIGSTOP) sigaction(sig, &dfl, &old); /* stop, not the handler */
    sigset_t set, prev;
    sigemptyset(&set);
    sigaddset(&set, sig);
    sigprocmask(SIG_UNBLOCK, &set, &prev);
    raise(sig); /* returns once continued */
    sigprocmask(SIG_SETMASK, &prev, NULL);
    if (sig != SIGSTOP) sigaction(sig, &old, NULL);
}

/* The run directory: --out DIR (made unless it exists) or a new memwatch-run.STAMP[.N].
 * *made: the runner made it (only then may --no-keep remove it). */
static int make_run_dir(const char *requested, char *out, size_t outlen, bool *made)
{
    *made = false;
    if (requested) {
        if (snprintf(out, outlen, "%s", requested) >= (int)outlen) {
            mw_say("memwatch: --out path too long\n");
            return -1;
        }
        if (mkdir(out, 0700) == 0) *made = true;
        else if (errno != EEXIST) {
            mw_say("memwatch: cannot create run directory %s: %s\n", out, strerror(errno));
            return -1;
        }
        struct stat st;
        if (stat(out, &st) != 0 || !S_ISDIR(st.st_mode)) {
            mw_say("memwatch: %s is not a directory\n", out);
            return -1;
        }
        return 0;
    }
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    char stamp[32];
    strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
    for (int n = 0; n < 1000; n++) {
        int w = n ? snprintf(out, outlen, "memwatch-run.%s.%d", stamp, n)
                  : snprintf(out, outlen, "memwatch-run.%s", stamp);
        if (w >= (int)outlen) return -1;
        if (mkdir(out, 0700) == 0) {
            *made = true;
            return 0;
        }
        if (errno != EEXIST) {
            mw_say("memwatch: cannot create run directory %s: %s\n", out, strerror(errno));
            return -1;
        }
    }
    mw_say("memwatch: cannot find a free run directory name for %s\n", stamp);
    return -1;
}

/* Environment for CMD: LD_PRELOAD with the shim first (existing entries kept, ours not
 * duplicated) and MEMWATCH_OUT pointing into the run directory, both named in MEMWATCH_ADDED
 * as far as the runner added them: CMD's shim takes them out of its environment again at
 * start (as it does for the programs it starts, preload/process_env.c), so CMD sees the
 * environment it was given (`memwatch run -- env` printed LD_PRELOAD and MEMWATCH_OUT until
 * 02:04 UTC on 2026-11-24), and passes them on to what CMD starts. A CMD the shim cannot be
 * loaded into (a 32-bit program: formats/mw_execfile.c) gets no LD_PRELOAD entry, whose
 * loader would print an error line for it into CMD's stderr; the end of the run says why no
 * trace was written. */
static int set_preload(const char *shim, bool *had);
static int prepare_env(const char *shim, const char *dir, const char *cmd)
{
    char found[PATH_MAX];
    const char *prog = mw_path_search(cmd, found, sizeof found);
    bool foreign = prog && mw_exec_kind(AT_FDCWD, prog, 0, NULL, 0) == MW_EXEC_FOREIGN;
    bool had_preload = false, had_out = getenv("MEMWATCH_OUT") != NULL;
    if (!foreign && set_preload(shim, &had_preload) != 0) return -1;
    char out[PATH_MAX + 64];
    if (snprintf(out, sizeof out, "%s/memwatch.%%e.%%p.trace.zst", dir) >= (int)sizeof out) return -1;
    if (setenv("MEMWATCH_OUT", out, 1) != 0) return -1;
    /* our entry before the ones CMD was given ("LD_PRELOAD+": only ours is taken out), or
     * the whole variable */
    char added[64] = "";
    if (!foreign) strcat(added, had_preload ? "LD_PRELOAD+" : "LD_PRELOAD");
    if (!had_out) strcat(added, added[0] ? ",MEMWATCH_OUT" : "MEMWATCH_OUT");
    return added[0] ? setenv("MEMWATCH_ADDED", added, 1) : unsetenv("MEMWATCH_ADDED");
}

/* LD_PRELOAD with the shim first, the other entries kept, copies of ours dropped; *had: it
 * was set before (even empty). */
static int set_preload(const char *shim, bool *had)
{
    const char *old = getenv("LD_PRELOAD");
    *had = old != NULL;
    size_t need = strlen(shim) + (old ? strlen(old) : 0) + 2;
    char *pre = malloc(need);
    if (!pre) return -1;
    strcpy(pre, shim);
    if (old && *old) {
        /* keep every other entry, drop copies of ours (a nested `memwatch run`) */
        char *copy = strdup(old);
        if (!copy) { free(pre); return -1; }
        char *save = NULL;
        for (char *tok = strtok_r(copy, ": ", &save); tok; tok = strtok_r(NULL, ": ", &save)) {
            if (strcmp(tok, shim) == 0) continue;
            strcat(pre, ":");
            strcat(pre, tok);
        }
        free(copy);
    }
    int rc = setenv("LD_PRELOAD", pre, 1);
    free(pre);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) { usage(stdout); return 0; }
    if (argc >= 2 && !strcmp(argv[1], "--version")) { printf("memwatch %s\n", MEMWATCH_VERSION); return 0; }
    if (argc < 2 || strcmp(argv[1], "run") != 0) {
        mw_say("memwatch: expected 'run' (try: memwatch run -- CMD ARGS..., or --help)\n");
        return 2;
    }
    mw_run_opts o;
    int cmd_at = mw_runner_parse(argc, argv, 2, &o);
    if (cmd_at < 0) return 2;
    if (o.help) { usage(stdout); return 0; }
    if (o.version) { printf("memwatch %s\n", MEMWATCH_VERSION); return 0; }

    char shim[PATH_MAX], analyzer[PATH_MAX];
    if (mw_runner_locate(shim, sizeof shim, analyzer, sizeof analyzer) != 0) return 2;

    char dir[PATH_MAX];
    bool dir_made;
    if (make_run_dir(o.out_dir, dir, sizeof dir, &dir_made) != 0) return 2;
    char absdir[PATH_MAX];
    if (!realpath(dir, absdir)) {
        mw_say("memwatch: cannot resolve %s: %s\n", dir, strerror(errno));
        return 2;
    }

    /* a run.db already there must be a memwatch store the analyzer will take: checked now,
     * not after CMD has run (a file of the user's named so failed the analysis at the end) */
    char store[PATH_MAX + 16], serr[PATH_MAX + 160];
    snprintf(store, sizeof store, "%s/run.db", absdir);
    if (mw_store_check(store, "--out", serr, sizeof serr) != 0) {
        mw_say("memwatch: %s\n", serr);
        return 2;
    }
    /* and a report file must not be the store (the analyzer would refuse, after CMD) */
    const char *const reports[][2] = { { "-o", o.output }, { "--html", o.html } };
    for (size_t i = 0; i < 2; i++)
        if (reports[i][1] && mw_path_same(reports[i][1], store)) {
            mw_say("memwatch: %s %s is the run's store %s: choose another file\n", reports[i][0],
                   reports[i][1], store);
            return 2;
        }
    mw_trace_list before; /* a reused --out DIR: what earlier runs left there */
    if (mw_runner_existing(absdir, &before) != 0) return 2;
    before.dir_made = dir_made;
    install_forwarders();
    int errpipe[2];
    if (pipe2(errpipe, O_CLOEXEC) != 0) { perror("memwatch: pipe"); return 2; }
    char link_dir[PATH_MAX];
    if (mw_runner_shim_link(shim, sizeof shim, link_dir, sizeof link_dir) != 0) return 2;
    pid_t pid = fork();
    if (pid < 0) { perror("memwatch: fork"); mw_runner_shim_unlink(link_dir); return 2; }
    if (pid == 0) {
        close(errpipe[0]);
        restore_default_signals();
        if (prepare_env(shim, absdir, argv[cmd_at]) != 0) {
            int e = ENOMEM;
            (void)!write(errpipe[1], &e, sizeof e);
            _exit(127);
        }
        execvp(argv[cmd_at], argv + cmd_at);
        int e = errno;
        (void)!write(errpipe[1], &e, sizeof e);
        _exit(127);
    }
    g_child = pid;
    close(errpipe[1]);
    int exec_errno = 0;
    if (read(errpipe[0], &exec_errno, sizeof exec_errno) == (ssize_t)sizeof exec_errno) {
        mw_say("memwatch: cannot run %s: %s\n", argv[cmd_at], strerror(exec_errno));
    }
    close(errpipe[0]);

    int status = 0;
    for (;;) {
        if (waitpid(pid, &status, WUNTRACED | WCONTINUED) < 0) {
            if (errno == EINTR) continue;
            perror("memwatch: waitpid");
            mw_runner_shim_unlink(link_dir);
            return 2;
        }
        /* only the latest of the events already there says whether CMD is stopped now: a
         * background read's SIGTTIN goes to the whole process group, and may stop the runner
         * between waitpid's return of CMD's stop and stop_as; after `fg` continued both, that
         * stop was over, and the runner stopped again, alone, taking the terminal from CMD */
        for (int later; waitpid(pid, &later, WNOHANG | WUNTRACED | WCONTINUED) == pid;) status = later;
        if (WIFCONTINUED(status)) continue;
        if (!WIFSTOPPED(status)) break;
        stop_as(WSTOPSIG(status));
    }
    g_child = 0;
    if (exec_errno) {
        mw_runner_shim_unlink(link_dir);
        mw_runner_cleanup(absdir, &o, &before);
        /* as shells, env(1) and timeout(1) say it: 127 not found, 126 found but not runnable
         * (not executable, a directory; it was 127 for both until 03:18 UTC on 2026-11-24) */
        return exec_errno == ENOENT ? 127 : 126;
    }

    int term_sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    int cmd_rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + term_sig;
    if (term_sig)
        mw_say("memwatch: %s was killed by signal %d (%s)\n", argv[cmd_at], term_sig,
               strsignal(term_sig));

    /* From here on the runner only reports: a standard error whose reader went away (`2>&1 |
     * head`) must not make it die of SIGPIPE (status 141) instead of returning CMD's status or
     * the gate's; its lines are then dropped */
    signal(SIGPIPE, SIG_IGN);
    int gate = mw_runner_analyze(analyzer, absdir, &o, &before, argv[cmd_at]);
    mw_runner_shim_unlink(link_dir); /* after the analysis, which reads the modules the traces name */
    if (!o.keep) mw_runner_cleanup(absdir, &o, &before);
    else if (!o.quiet || gate == 1) mw_say("memwatch: traces and store kept in %s\n", absdir);
    mw_trace_list_free(&before);

    if (gate == 1) return 1;
    if (term_sig) {
        /* die the same way CMD did, without a core file of our own */
        struct rlimit no_core = { 0, 0 };
        setrlimit(RLIMIT_CORE, &no_core);
        restore_default_signals();
        signal(term_sig, SIG_DFL);
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, term_sig);
        sigprocmask(SIG_UNBLOCK, &set, NULL);
        raise(term_sig);
    }
    return cmd_rc;
}
