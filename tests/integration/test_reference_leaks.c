/*
 * test_reference_leaks.c — issue 3's equality tests: the unfreed-at-exit total and the
 * definite / indirect / reachable split of our trace equal valgrind memcheck's for the same
 * program and input, and the total equals heaptrack's.
 *
 * Programs: the reach_leaky, reach_threads and reach_cxx victims (every reachability case,
 * C++ containers, new[] cookies, exceptions), the real python3 interpreter running a small
 * script, the sqlite3 CLI, node, perl, mawk, git, and a `sh -c` pipeline (one comparison per
 * process that exits normally). Each program runs three times: under valgrind
 * (--leak-check=full --show-leak-kinds=all --run-libc-freeres=no --run-cxx-freeres=no
 * --leak-check-heuristics=none), under the shim, and under heaptrack (single-process
 * programs). All runs see the same environment: the shim run gets exactly the environment
 * valgrind gives its client (valgrind adds LD_LIBRARY_PATH, GLIBCXX_FORCE_NEW, ... and
 * appends to LD_PRELOAD), with LD_PRELOAD naming the shim padded with ':' to the same length.
 *
 * Mapping of kinds: our "reachable" (start or interior pointer from a root) is valgrind's
 * "still reachable" + "possibly lost" (valgrind's name for blocks reached only through
 * interior pointers). With --run-libc-freeres=no valgrind leaves libc's internal buffers
 * allocated, as they are in our run, so no freeres difference needs allowing.
 *
 * The ONE allowed difference, computed exactly: glibc sizes each thread's DTV (calloc'd by
 * ld.so's allocate_dtv) by the number of loaded modules with TLS, and each tool's preload
 * brings its own (ours: the shim and libunwind; heaptrack: its preload, libunwind,
 * libstdc++; valgrind: none). So every DTV block is 16 bytes larger per extra TLS module:
 * expected bytes = valgrind's + 16 * (extra TLS modules) * (DTV blocks valgrind lists).
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <elf.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "leaksum.h"
#include "mw_format.h"
#include "mwtest.h"

#define MAXENV 256
#define MAXPROC 16

typedef struct envv { char *v[MAXENV + 1]; int n; } envv;

static void env_add(envv *e, const char *fmt, const char *a)
{
    cr_assert_lt(e->n, MAXENV);
    char *s = NULL;
    cr_assert_geq(asprintf(&s, fmt, a), 0);
    e->v[e->n++] = s;
    e->v[e->n] = NULL;
}

static const char *build_abs(void)
{
    static char path[PATH_MAX];
    const char *b = getenv("MEMWATCH_BUILD");
    if (!realpath(b && *b ? b : "build", path)) cr_assert_fail("build dir %s not found", b ? b : "build");
    return path;
}

static bool slurp_file(const char *path, char *buf, size_t cap, size_t *len)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0) return false;
    size_t n = 0;
    ssize_t r;
    while (n < cap && (r = read(fd, buf + n, cap - n)) > 0) n += (size_t)r;
    close(fd);
    *len = n;
    return true;
}

/* ---- TLS modules a preload brings (see the header comment) ------------------------------ */
static bool has_pt_tls(const char *path)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0) return false;
    Elf64_Ehdr eh;
    bool tls = false;
    if (pread(fd, &eh, sizeof eh, 0) == (ssize_t)sizeof eh && !memcmp(eh.e_ident, ELFMAG, SELFMAG)) {
        for (int i = 0; i < eh.e_phnum; i++) {
            Elf64_Phdr ph;
            if (pread(fd, &ph, sizeof ph, (off_t)(eh.e_phoff + (uint64_t)i * eh.e_phentsize)) !=
                (ssize_t)sizeof ph)
                break;
            if (ph.p_type == PT_TLS) tls = true;
        }
    }
    close(fd);
    return tls;
}

/* The object and its resolved dependencies (ldd), as real paths. */
static int objects_of(const char *obj, char out[][PATH_MAX], int max)
{
    int n = 0;
    if (!realpath(obj, out[n])) return 0;
    n++;
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "ldd '%s' 2>/dev/null", obj);
    FILE *p = popen(cmd, "r");
    if (!p) return n;
    char line[1024];
    while (n < max && fgets(line, sizeof line, p)) {
        char *s = strstr(line, "=> /");
        s = s ? s + 3 : (line[strspn(line, " \t")] == '/' ? line + strspn(line, " \t") : NULL);
        if (!s) continue;
        s[strcspn(s, " (\n")] = 0;
        if (realpath(s, out[n])) n++;
    }
    pclose(p);
    return n;
}

/* TLS modules among the preloads' objects that the target does not load itself. */
static int extra_tls_modules(const char *const preloads[], const char *target)
{
    static char tgt[64][PATH_MAX], pre[64][PATH_MAX];
    int nt = objects_of(target, tgt, 64), extra = 0;
    for (int k = 0; preloads[k]; k++) {
        int np = objects_of(preloads[k], pre, 64);
        for (int i = 0; i < np; i++) {
            bool in_target = false;
            for (int j = 0; j < nt && !in_target; j++) in_target = !strcmp(pre[i], tgt[j]);
            if (!in_target && has_pt_tls(pre[i])) extra++;
        }
    }
    return extra;
}

/* ---- the three runs ---------------------------------------------------------------------- */
typedef struct ref_ctx {
    char dir[1024];
    envv base, vg_env, mw_env, ht_env;
    char shim[PATH_MAX];
} ref_ctx;

static void setup(ref_ctx *c, const char *tag)
{
    memset(c, 0, sizeof *c);
    cr_assert_eq(mw_tempdir(c->dir, sizeof c->dir, tag), 0);
    snprintf(c->shim, sizeof c->shim, "%s/libmemwatch_preload.so", build_abs());
    cr_assert_eq(access(c->shim, R_OK), 0, "%s missing", c->shim);
    env_add(&c->base, "PATH=%s", "/usr/bin:/bin");
    env_add(&c->base, "HOME=%s", c->dir);
    env_add(&c->base, "TMPDIR=%s", c->dir);
    env_add(&c->base, "PYTHONHASHSEED=%s", "0");
    env_add(&c->base, "PYTHONDONTWRITEBYTECODE=%s", "1");
    env_add(&c->base, "PERL_HASH_SEED=%s", "0"); /* perl hashes (and sizes its buckets) by a random seed */
    char out[PATH_MAX + 32];
    snprintf(out, sizeof out, "%s/mw.%%e.%%p.trace.zst", c->dir);
    env_add(&c->base, "MEMWATCH_OUT=%s", out);   /* in every run: equal environment sizes */
    env_add(&c->base, "MEMWATCH_QUIET=%s", "1");

    /* The environment valgrind hands its client. */
    char *argv[] = {"/usr/bin/valgrind", "-q", "--run-libc-freeres=no", "/usr/bin/env", "-0", NULL};
    char envout[PATH_MAX];
    snprintf(envout, sizeof envout, "%s/vgenv.bin", c->dir);
    int st = mw_run(argv, c->base.v, c->dir, envout, NULL, 60);
    cr_assert(st == 0, "valgrind /usr/bin/env failed (status %d): is valgrind installed?", st);
    static char buf[65536];
    size_t len = 0;
    cr_assert(slurp_file(envout, buf, sizeof buf - 1, &len));
    unlink(envout);
    buf[len] = 0;
    size_t vg_preload_len = 0;
    for (size_t i = 0; i < len; i += strlen(buf + i) + 1) {
        if (!buf[i]) continue;
        env_add(&c->vg_env, "%s", buf + i);
        if (!strncmp(buf + i, "LD_PRELOAD=", 11)) {
            vg_preload_len = strlen(buf + i + 11);
            char pad[PATH_MAX * 2];
            snprintf(pad, sizeof pad, "%s", c->shim);
            while (strlen(pad) < vg_preload_len && strlen(pad) < sizeof pad - 1) strcat(pad, ":");
            env_add(&c->mw_env, "LD_PRELOAD=%s", pad);
        } else {
            env_add(&c->mw_env, "%s", buf + i);
        }
    }
    cr_assert_gt(vg_preload_len, 0, "valgrind did not set LD_PRELOAD");
    cr_assert_geq(vg_preload_len, strlen(c->shim), "shim path longer than valgrind's LD_PRELOAD");
    /* heaptrack's client: valgrind's environment minus LD_PRELOAD (heaptrack sets its own),
     * plus one padding variable: heaptrack's preload removes its DUMP_HEAPTRACK_OUTPUT from
     * the environment at start, and the environ array programs copy (setenv) would be one
     * pointer shorter. Its name and value as long as LD_PRELOAD's: perl copies every variable
     * into %ENV, in blocks of their lengths. */
    for (int i = 0; i < c->vg_env.n; i++)
        if (strncmp(c->vg_env.v[i], "LD_PRELOAD=", 11)) env_add(&c->ht_env, "%s", c->vg_env.v[i]);
    char pad[PATH_MAX];
    size_t pn = vg_preload_len < sizeof pad - 1 ? vg_preload_len : sizeof pad - 1;
    memset(pad, 'x', pn);
    pad[pn] = 0;
    env_add(&c->ht_env, "HT_PADDING=%s", pad); /* "LD_PRELOAD" is 10 bytes too */
}

static void teardown(ref_ctx *c)
{
    mw_tempdir_remove(c->dir);
    for (int i = 0; i < c->base.n; i++) free(c->base.v[i]);
    for (int i = 0; i < c->vg_env.n; i++) free(c->vg_env.v[i]);
    for (int i = 0; i < c->mw_env.n; i++) free(c->mw_env.v[i]);
    for (int i = 0; i < c->ht_env.n; i++) free(c->ht_env.v[i]);
}

static int run_valgrind(ref_ctx *c, char *const argv[])
{
    char logopt[PATH_MAX + 32], out[PATH_MAX];
    snprintf(logopt, sizeof logopt, "--log-file=%s/vg.%%p.log", c->dir);
    snprintf(out, sizeof out, "%s/vg.stdout", c->dir);
    char *vargv[64] = {"/usr/bin/valgrind", "--leak-check=full", "--show-leak-kinds=all",
                       "--errors-for-leak-kinds=none", "--run-libc-freeres=no",
                       "--run-cxx-freeres=no", "--leak-check-heuristics=none",
                       "--trace-children=yes", "--child-silent-after-fork=no", logopt};
    int n = 10;
    for (int i = 0; argv[i] && n < 63; i++) vargv[n++] = argv[i];
    vargv[n] = NULL;
    return mw_run(vargv, c->base.v, c->dir, out, NULL, 200);
}

/* realpath of a command name as PATH=/usr/bin:/bin resolves it; basename into key. */
static void program_key(const char *cmd, char *key, size_t len)
{
    char word[1024], path[1100], real[PATH_MAX];
    snprintf(word, sizeof word, "%s", cmd);
    word[strcspn(word, " ")] = 0;
    if (word[0] == '/') snprintf(path, sizeof path, "%s", word);
    else snprintf(path, sizeof path, "/usr/bin/%s", word);
    const char *r = realpath(path, real) ? real : path;
    const char *b = strrchr(r, '/');
    b = b ? b + 1 : r;
    size_t n = strlen(b) < len - 1 ? strlen(b) : len - 1;
    memcpy(key, b, n);
    key[n] = 0;
}

typedef struct proc_res {
    char key[256];
    mw_vg_totals vg;
    uint64_t n_dtv, dtv_bytes;
    uint64_t cxx_pool_bytes, cxx_pool_blocks;   /* libstdc++'s emergency EH pool */
    mw_leak_totals mw;
    bool have_mw;
} proc_res;

/* A process's depth in the tree of the run's processes (0: started by the test; 1: its
 * child...), from the (pid, ppid) pairs of every log or trace of the run: with the program's
 * name it tells a fork child from its parent (both the same program). */
typedef struct pidpair { uint64_t pid, ppid; } pidpair;

static int depth_of(uint64_t pid, const pidpair *pp, int n)
{
    int depth = 0;
    for (int guard = 0; guard < n; guard++) {
        uint64_t parent = 0;
        bool found = false, parent_in = false;
        for (int i = 0; i < n; i++)
            if (pp[i].pid == pid) { parent = pp[i].ppid; found = true; }
        if (!found) break;
        for (int i = 0; i < n; i++) parent_in |= pp[i].pid == parent;
        if (!parent_in) break;
        depth++;
        pid = parent;
    }
    return depth;
}

static void keyed(char *key, size_t len, const char *cmd, int depth)
{
    char prog[200];
    program_key(cmd, prog, sizeof prog);
    if (depth) snprintf(key, len, "%s (depth %d)", prog, depth);
    else snprintf(key, len, "%s", prog);
}

/* Valgrind logs of processes that ran to a leak summary. */
static int collect_vg(ref_ctx *c, proc_res *p, int max)
{
    pidpair pp[4 * MAXPROC];
    int npp = 0;
    DIR *d = opendir(c->dir);
    cr_assert(d);
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, "vg.", 3) || !strstr(e->d_name, ".log")) continue;
        char path[PATH_MAX + 300];
        snprintf(path, sizeof path, "%s/%s", c->dir, e->d_name);
        mw_vg_totals t;
        if (mw_vg_parse(path, &t)) continue;
        if (npp < 4 * MAXPROC) pp[npp++] = (pidpair){ (uint64_t)t.pid, (uint64_t)t.ppid };
        if (!t.have_summary || !t.have_in_use) continue;
        cr_assert_lt(n, max);
        memset(&p[n], 0, sizeof p[n]);
        p[n].vg = t;
        mw_vg_records_with(path, ": allocate_dtv ", NULL, &p[n].dtv_bytes, &p[n].n_dtv);
        mw_vg_records_with(path, "libstdc++.so", "_dl_init", &p[n].cxx_pool_bytes,
                           &p[n].cxx_pool_blocks);
        n++;
    }
    closedir(d);
    for (int i = 0; i < n; i++)
        keyed(p[i].key, sizeof p[i].key, p[i].vg.command, depth_of((uint64_t)p[i].vg.pid, pp, npp));
    return n;
}

/* Our traces of processes that exited normally, matched to the valgrind ones by program and
 * depth. */
static void collect_mw(ref_ctx *c, proc_res *p, int n)
{
    static mw_leak_totals all[4 * MAXPROC];
    pidpair pp[4 * MAXPROC];
    int nall = 0;
    DIR *d = opendir(c->dir);
    cr_assert(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, "mw.", 3) || !strstr(e->d_name, ".trace.zst")) continue;
        char path[PATH_MAX + 300], err[512];
        snprintf(path, sizeof path, "%s/%s", c->dir, e->d_name);
        cr_assert_lt(nall, 4 * MAXPROC);
        cr_assert_eq(mw_leaks_from_trace(path, &all[nall], err, sizeof err), 0, "%s", err);
        pp[nall] = (pidpair){ all[nall].pid, all[nall].ppid };
        nall++;
    }
    closedir(d);
    for (int k = 0; k < nall; k++) {
        const mw_leak_totals *t = &all[k];
        if (!t->ended || t->end_reason != MW_END_EXIT) continue;   /* exec'd: no exit */
        char key[256];
        keyed(key, sizeof key, t->exe, depth_of(t->pid, pp, nall));
        int hit = -1;
        for (int i = 0; i < n; i++)
            if (!strcmp(p[i].key, key)) {
                cr_assert(!p[i].have_mw, "two traces of %s exited normally", key);
                hit = i;
            }
        cr_assert_geq(hit, 0, "trace of %s (pid %lu) has no valgrind counterpart", key, t->pid);
        p[hit].mw = *t;
        p[hit].have_mw = true;
    }
}

/* Set by programs whose lost memory contains pointer cycles between blocks (the demo's SQLite
 * connection and its statements): which block of a lost cycle leads it (definite) and which
 * are indirect follows address order, and valgrind's allocator places blocks elsewhere than
 * glibc's. Such programs compare lost = definite + indirect exactly instead of each kind. */
static bool g_lost_total_only;

static void compare(const proc_res *p, int extra_tls)
{
    const mw_vg_totals *v = &p->vg;
    const mw_leak_totals *m = &p->mw;
    uint64_t dtv = 16u * (uint64_t)extra_tls * p->n_dtv;
    cr_log_info("%s: valgrind %lu B / %lu blocks (def %lu, ind %lu, poss %lu, reach %lu; %lu DTVs); "
                "memwatch %lu B / %lu blocks (def %lu, ind %lu, reach %lu, unknown %lu blocks)",
                p->key, v->in_use_bytes, v->in_use_blocks, v->definite_bytes, v->indirect_bytes,
                v->possible_bytes, v->reachable_bytes, p->n_dtv, m->bytes, m->blocks,
                m->kind_bytes[MW_REACH_DEFINITE], m->kind_bytes[MW_REACH_INDIRECT],
                m->kind_bytes[MW_REACH_REACHABLE], m->kind_blocks[MW_REACH_UNKNOWN]);
    cr_expect_eq(m->blocks, v->in_use_blocks, "%s: unfreed blocks: memwatch %lu, valgrind %lu",
                 p->key, m->blocks, v->in_use_blocks);
    cr_expect_eq(m->bytes, v->in_use_bytes + dtv,
                 "%s: unfreed bytes: memwatch %lu, valgrind %lu + %lu (DTVs)", p->key, m->bytes,
                 v->in_use_bytes, dtv);
    cr_expect_eq(m->kind_blocks[MW_REACH_UNKNOWN], 0, "%s: blocks without a verdict", p->key);
    if (g_lost_total_only) {
        uint64_t ml = m->kind_bytes[MW_REACH_DEFINITE] + m->kind_bytes[MW_REACH_INDIRECT];
        uint64_t mb = m->kind_blocks[MW_REACH_DEFINITE] + m->kind_blocks[MW_REACH_INDIRECT];
        cr_expect_eq(ml, v->definite_bytes + v->indirect_bytes,
                     "%s: lost (definite + indirect): memwatch %lu, valgrind %lu", p->key, ml,
                     v->definite_bytes + v->indirect_bytes);
        cr_expect_eq(mb, v->definite_blocks + v->indirect_blocks, "%s: lost blocks", p->key);
    } else {
    cr_expect_eq(m->kind_bytes[MW_REACH_DEFINITE], v->definite_bytes,
                 "%s: definitely lost: memwatch %lu, valgrind %lu", p->key,
                 m->kind_bytes[MW_REACH_DEFINITE], v->definite_bytes);
    cr_expect_eq(m->kind_blocks[MW_REACH_DEFINITE], v->definite_blocks, "%s: definite blocks",
                 p->key);
    cr_expect_eq(m->kind_bytes[MW_REACH_INDIRECT], v->indirect_bytes,
                 "%s: indirectly lost: memwatch %lu, valgrind %lu", p->key,
                 m->kind_bytes[MW_REACH_INDIRECT], v->indirect_bytes);
    cr_expect_eq(m->kind_blocks[MW_REACH_INDIRECT], v->indirect_blocks, "%s: indirect blocks",
                 p->key);
    }
    cr_expect_eq(m->kind_bytes[MW_REACH_REACHABLE], v->reachable_bytes + v->possible_bytes + dtv,
                 "%s: reachable: memwatch %lu, valgrind still reachable %lu + possibly lost %lu"
                 " + %lu (DTVs)", p->key, m->kind_bytes[MW_REACH_REACHABLE], v->reachable_bytes,
                 v->possible_bytes, dtv);
    cr_expect_eq(m->kind_blocks[MW_REACH_REACHABLE], v->reachable_blocks + v->possible_blocks,
                 "%s: reachable blocks", p->key);
}

/* Valgrind's own nondeterminism: about one run in twelve here, memcheck reports reach_leaky's
 * 300000-byte block (and the 1015-byte block only it points to) as "possibly lost", through an
 * interior pointer in memory its exit path leaves behind (a who_points_at just before exit()
 * finds none; the other runs, and memwatch's scan, find the block definitely lost). A test
 * that sets g_vg_retry_possible repeats the valgrind run, twice at most, while a summary
 * counts that many possibly lost bytes or more; the comparison itself stays exact. */
static uint64_t g_vg_retry_possible;

static bool vg_possible_over(ref_ctx *c, uint64_t limit)
{
    proc_res p[MAXPROC];
    int n = collect_vg(c, p, MAXPROC);
    for (int i = 0; i < n; i++)
        if (p[i].vg.possible_bytes >= limit) return true;
    return false;
}

static void remove_vg_logs(ref_ctx *c)
{
    DIR *d = opendir(c->dir);
    cr_assert(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, "vg.", 3) || !strstr(e->d_name, ".log")) continue;
        char path[PATH_MAX + 300];
        snprintf(path, sizeof path, "%s/%s", c->dir, e->d_name);
        unlink(path);
    }
    closedir(d);
}

/* Runs argv under valgrind, the shim (and heaptrack when with_heaptrack), compares. */
static void reference(const char *tag, char *const argv[], int nproc, bool with_heaptrack)
{
    ref_ctx c;
    setup(&c, tag);
    int st = run_valgrind(&c, argv);
    cr_assert(st >= 0, "valgrind run of %s timed out", argv[0]);
    for (int again = 0; g_vg_retry_possible && again < 2 && vg_possible_over(&c, g_vg_retry_possible); again++) {
        cr_log_warn("%s: valgrind found an interior pointer to a lost block; running it again", tag);
        remove_vg_logs(&c);
        st = run_valgrind(&c, argv);
        cr_assert(st >= 0, "valgrind run of %s timed out", argv[0]);
    }
    char out[PATH_MAX + 16];
    snprintf(out, sizeof out, "%s/mw.stdout", c.dir);
    int st2 = mw_run(argv, c.mw_env.v, c.dir, out, NULL, 120);
    cr_assert(st2 >= 0, "shim run of %s timed out", argv[0]);
    cr_expect_eq(st2, st, "exit status differs: %d under the shim, %d under valgrind", st2, st);
    static char a[1 << 16], b[1 << 16];
    size_t la = 0, lb = 0;
    char vgout[PATH_MAX + 16];
    snprintf(vgout, sizeof vgout, "%s/vg.stdout", c.dir);
    cr_assert(slurp_file(vgout, a, sizeof a, &la) && slurp_file(out, b, sizeof b, &lb));
    cr_expect(la == lb && !memcmp(a, b, la), "stdout differs between the runs");
    cr_expect_gt(la, 0, "the program printed nothing");

    proc_res p[MAXPROC];
    int n = collect_vg(&c, p, MAXPROC);
    cr_assert_eq(n, nproc, "%d valgrind leak summaries, expected %d", n, nproc);
    collect_mw(&c, p, n);
    const char *shim_objs[] = {c.shim, NULL};
    const char *vg_objs[] = {"/usr/libexec/valgrind/vgpreload_core-amd64-linux.so",
                             "/usr/libexec/valgrind/vgpreload_memcheck-amd64-linux.so", NULL};
    char target[PATH_MAX];
    if (argv[0][0] == '/') snprintf(target, sizeof target, "%s", argv[0]);
    else snprintf(target, sizeof target, "/usr/bin/%s", argv[0]);
    int x_mw = extra_tls_modules(shim_objs, target) - extra_tls_modules(vg_objs, target);
    for (int i = 0; i < n; i++) {
        cr_expect(p[i].have_mw, "no normally-ended trace for %s", p[i].key);
        if (p[i].have_mw) compare(&p[i], x_mw);
    }

    if (with_heaptrack) {
        cr_assert_eq(nproc, 1);
        char hto[PATH_MAX + 16], htf[PATH_MAX + 16];
        snprintf(hto, sizeof hto, "%s/ht", c.dir);
        snprintf(htf, sizeof htf, "%s/ht.zst", c.dir);
        char *hargv[64] = {"/usr/bin/heaptrack", "-o", hto};
        int k = 3;
        for (int i = 0; argv[i] && k < 63; i++) hargv[k++] = argv[i];
        hargv[k] = NULL;
        cr_assert(access("/usr/bin/heaptrack", X_OK) == 0, "heaptrack is not installed");
        cr_assert(mw_run(hargv, c.ht_env.v, c.dir, NULL, NULL, 120) >= 0, "heaptrack timed out");
        uint64_t hb = 0, hn = 0;
        cr_assert_eq(mw_heaptrack_leaked(htf, &hb, &hn, NULL), 0, "cannot read %s", htf);
        const char *ht_objs[] = {"/usr/lib/heaptrack/libheaptrack_preload.so", NULL};
        int x_ht = extra_tls_modules(ht_objs, target) - extra_tls_modules(vg_objs, target);
        uint64_t dtv_ht = 16u * (uint64_t)x_ht * p[0].n_dtv;
        uint64_t dtv_mw = 16u * (uint64_t)x_mw * p[0].n_dtv;
        /* heaptrack calls __gnu_cxx::__freeres at exit (as valgrind's --run-cxx-freeres=yes
         * would): libstdc++'s emergency exception pool, allocated by libstdc++'s constructor,
         * counts as freed there and is unfreed in our trace and valgrind's. */
        uint64_t pool_b = p[0].cxx_pool_bytes, pool_n = p[0].cxx_pool_blocks;
        cr_log_info("%s: heaptrack leaked %lu B / %lu blocks (libstdc++ pool: %lu B / %lu blocks)",
                    p[0].key, hb, hn, pool_b, pool_n);
        cr_expect_eq(hn + pool_n, p[0].mw.blocks,
                     "%s: unfreed blocks: heaptrack %lu + %lu (libstdc++ pool), memwatch %lu",
                     p[0].key, hn, pool_n, p[0].mw.blocks);
        cr_expect_eq(hb - dtv_ht + pool_b, p[0].mw.bytes - dtv_mw,
                     "%s: unfreed bytes without DTV growth: heaptrack %lu + %lu (libstdc++ pool),"
                     " memwatch %lu", p[0].key, hb - dtv_ht, pool_b, p[0].mw.bytes - dtv_mw);
    }
    teardown(&c);
}

/* ---- the programs ------------------------------------------------------------------------- */
/* A victim of tests/victims (one argument or none). */
static void victim_reference(const char *name, const char *arg, const char *tag, int nproc,
                             bool with_heaptrack)
{
    char victim[PATH_MAX];
    snprintf(victim, sizeof victim, "%s/tests/victims/%s", build_abs(), name);
    char *argv[] = {victim, (char *)arg, NULL};
    reference(tag, argv, nproc, with_heaptrack);
}

Test(reference, leaky_victim, .timeout = 120)
{
    g_vg_retry_possible = 300000;
    victim_reference("reach_leaky", NULL, "ref-victim", 1, true);
}

/* The program `make demo` shows (examples/leaky_server.c): a lost SQLite connection with
 * everything hanging off it (indirect), a lost list, leaked request bodies, reachable cache. */
Test(reference, demo_leaky_server, .timeout = 120)
{
    char prog[PATH_MAX];
    snprintf(prog, sizeof prog, "%s/examples/leaky_server", build_abs());
    char *argv[] = {prog, NULL};
    g_lost_total_only = true;
    reference("ref-demo", argv, 1, false);
}

Test(reference, threads_victim, .timeout = 120)
{
    victim_reference("reach_threads", NULL, "ref-threads", 1, true);
}

/* Threads whose stacks the kernel merged with mappings above them under the shim. */
Test(reference, threads_merged_stacks, .timeout = 120)
{
    victim_reference("reach_threads", "merged", "ref-merged", 1, true);
}

Test(reference, cxx_victim, .timeout = 120)
{
    victim_reference("reach_cxx", NULL, "ref-cxx", 1, true);
}

Test(reference, sqlite3_cli, .timeout = 120)
{
    char *argv[] = {"/usr/bin/sqlite3", ":memory:",
                    "CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, v REAL);"
                    "INSERT INTO t(name, v) VALUES ('a', 1.5), ('b', 2.5), ('c', 3.5);"
                    "CREATE INDEX t_name ON t(name);"
                    "UPDATE t SET v = v * 2 WHERE name > 'a';"
                    "SELECT name, v FROM t ORDER BY v DESC;"
                    "SELECT count(*), sum(v) FROM t;",
                    NULL};
    reference("ref-sqlite", argv, 1, true);
}

/* The real interpreter (not pyenv's shell shim). -S: no site-packages .pth hooks, which are
 * machine-specific; the script avoids modules whose libraries the shim itself links
 * (liblzma): a library already loaded makes no loader allocations when the program loads
 * it (a difference we would otherwise have to name). */
static void python_reference(const char *script, const char *tag, int nproc, bool with_heaptrack)
{
    const char *exe = mwt_python();
    cr_assert(exe, "python3 not found");
    char *argv[] = {(char *)exe, "-S", "-c", (char *)script, NULL};
    reference(tag, argv, nproc, with_heaptrack);
}

Test(reference, python3, .timeout = 120)
{
    python_reference("import json, collections, re\n"
                     "class Node:\n"
                     "    def __init__(self, v): self.v = v; self.kids = []\n"
                     "root = Node(0)\n"
                     "for i in range(2000): root.kids.append(Node(i))\n"
                     "blobs = [bytearray(5000) for _ in range(10)]\n"
                     "words = collections.Counter(re.findall(r'\\w+', 'a b a c b a'))\n"
                     "print(json.dumps({'n': len(root.kids), 'w': words}, sort_keys=True))\n",
                     "ref-python", 1, true);
}

/* python3's os.fork(): the child changes and drops what it inherited and ends with os._exit
 * (as multiprocessing's workers do); each process as valgrind says, the child's definite
 * leaks included (the runtime locks Python replaces after a fork). */
Test(reference, python3_fork, .timeout = 120)
{
    python_reference("import os\n"
                     "table = {i: [bytearray(64)] * 3 for i in range(3000)}\n"
                     "blobs = [bytearray(5000) for _ in range(10)]\n"
                     "pid = os.fork()\n"
                     "if pid == 0:\n"
                     "    table['new'] = [bytearray(300) for _ in range(50)]\n"
                     "    del blobs[:5]\n"
                     "    os._exit(0)\n"
                     "os.waitpid(pid, 0)\n"
                     "print(len(table), len(blobs))\n",
                     "ref-python-fork", 2, false);
}

Test(reference, node, .timeout = 180)
{
    char *argv[] = {"/usr/bin/node", "-e",
                    "const m = new Map(); for (let i = 0; i < 1000; i++) m.set('k' + i, {i});"
                    "const b = Buffer.alloc(100000, 7);"
                    "console.log(JSON.stringify({n: m.size, s: b.reduce((a, x) => a + x, 0)}));",
                    NULL};
    reference("ref-node", argv, 1, true);
}

/* Fork children that free, realloc and leak what they inherited, a grandchild, a worker
 * thread's block in the copy (tests/victims/fork_inherit.c): each process's unfreed blocks
 * and their verdicts as valgrind's for the same process. */
Test(reference, fork_children, .timeout = 120)
{
    victim_reference("fork_inherit", NULL, "ref-fork", 3, false);
}

/* A fork from a thread other than main: in the child main's stack is a root (fork_thread.c). */
Test(reference, fork_from_a_thread, .timeout = 120)
{
    victim_reference("fork_thread", NULL, "ref-fork-thread", 2, false);
}

Test(reference, sh_pipeline, .timeout = 120)
{
    char *argv[] = {"/bin/sh", "-c",
                    "printf 'pear\\napple\\nfig\\napple\\n' > in.txt; cat in.txt | sort | tr a-z A-Z",
                    NULL};
    /* Processes that exit normally: sh, cat, sort, tr (the forked shells exec). */
    reference("ref-sh", argv, 4, false);
}

/* perl copies the environment into %ENV and sizes its hashes by a random seed
 * (PERL_HASH_SEED=0 in every run): the unfreed total is the same in all three tools only with
 * equal environments and the seed fixed. */
Test(reference, perl, .timeout = 120)
{
    char *argv[] = {"/usr/bin/perl", "-e",
                    "my %h; $h{$_} = [1 .. 10] for 1 .. 2000; my @a = map { 'x' x $_ } 1 .. 300;"
                    "print scalar(keys %h), ' ', length(join('', @a)), \"\\n\";",
                    NULL};
    reference("ref-perl", argv, 1, true);
}

/* Debian's awk is mawk: its symbol table and arrays are reachable at exit, partly through
 * interior pointers only (valgrind's "possibly lost"). */
Test(reference, mawk, .timeout = 120)
{
    char *argv[] = {"/usr/bin/awk",
                    "BEGIN { for (i = 0; i < 3000; i++) a[i] = i \"x\"; n = 0; for (k in a) n++; print n }",
                    NULL};
    reference("ref-awk", argv, 1, true);
}

Test(reference, git, .timeout = 120)
{
    char *argv[] = {"/usr/bin/git", "--version", NULL};
    reference("ref-git", argv, 1, true);
}
