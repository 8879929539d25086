/*
 * leaksum.c — unfreed-at-exit figures from a memwatch trace, a valgrind log and a heaptrack
 * file, and a process runner for the tests that compare them (see leaksum.h).
 */
#include "leaksum.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <dirent.h>
#include <time.h>
#include <unistd.h>

#include "mw_format.h"

/* ---- live-block map: (tidx, seq) -> size, open addressing with backward-shift delete ---- */
typedef struct lb { uint64_t key, size; } lb;   /* key 0 = empty */
typedef struct lbmap { lb *t; size_t cap, n; } lbmap;

static uint64_t lb_key(mw_block_ref r) { return ((r.tidx + 1) << 40) ^ r.seq; }
static size_t lb_hash(uint64_t k, size_t cap) { return (size_t)((k * 0x9E3779B97F4A7C15ull) >> 17) & (cap - 1); }

static int lb_grow(lbmap *m)
{
    size_t ncap = m->cap ? m->cap * 2 : 1024;
    lb *nt = calloc(ncap, sizeof *nt);
    if (!nt) return -1;
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->t[i].key) continue;
        size_t j = lb_hash(m->t[i].key, ncap);
        while (nt[j].key) j = (j + 1) & (ncap - 1);
        nt[j] = m->t[i];
    }
    free(m->t);
    m->t = nt;
    m->cap = ncap;
    return 0;
}

static int lb_put(lbmap *m, uint64_t k, uint64_t size)
{
    if ((m->n + 1) * 2 > m->cap && lb_grow(m)) return -1;
    size_t j = lb_hash(k, m->cap);
    while (m->t[j].key && m->t[j].key != k) j = (j + 1) & (m->cap - 1);
    if (!m->t[j].key) m->n++;
    m->t[j] = (lb){k, size};
    return 0;
}

static lb *lb_get(lbmap *m, uint64_t k)
{
    if (!m->cap) return NULL;
    size_t j = lb_hash(k, m->cap);
    while (m->t[j].key) {
        if (m->t[j].key == k) return &m->t[j];
        j = (j + 1) & (m->cap - 1);
    }
    return NULL;
}

static bool lb_del(lbmap *m, uint64_t k, uint64_t *size)
{
    lb *e = lb_get(m, k);
    if (!e) return false;
    if (size) *size = e->size;
    size_t i = (size_t)(e - m->t);
    m->t[i].key = 0;
    m->n--;
    for (size_t j = (i + 1) & (m->cap - 1); m->t[j].key; j = (j + 1) & (m->cap - 1)) {
        size_t h = lb_hash(m->t[j].key, m->cap);
        /* move j back to i if its home h is not cyclically in (i, j] */
        if ((j > i && (h <= i || h > j)) || (j < i && (h <= i && h > j))) {
            m->t[i] = m->t[j];
            m->t[j].key = 0;
            i = j;
        }
    }
    return true;
}

int mw_leaks_from_trace(const char *path, mw_leak_totals *out, char *err, size_t errlen)
{
    return mw_leaks_each(path, out, NULL, NULL, err, errlen);
}

int mw_leaks_each(const char *path, mw_leak_totals *out,
                  void (*fn)(uint64_t size, unsigned kind, void *arg), void *arg, char *err,
                  size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->exit_status = -1;
    mw_reader *r = mw_reader_open(path, err, errlen);
    if (!r) return -1;
    lbmap live = {0};
    lbmap kinds = {0};   /* key -> kind from REACH */
    /* A thread may free a block whose ALLOC is still in its allocating thread's ring: the
     * FREE then precedes the ALLOC in the stream. Such frees wait here for their ALLOC. */
    lbmap early = {0};
    uint64_t cur = 0;
    mw_record rec;
    uint64_t seq;
    int st, rc = 0;
    while ((st = mw_reader_next(r, &rec, &seq)) == MW_OK) {
        out->records++;
        switch (rec.type) {
        case MW_REC_HEADER:
            out->pid = rec.u.header.pid;
            out->ppid = rec.u.header.ppid;
            snprintf(out->exe, sizeof out->exe, "%.*s", (int)rec.u.header.exe.len,
                     (const char *)rec.u.header.exe.ptr);
            break;
        case MW_REC_THREAD_SWITCH: cur = rec.u.thread_switch.tidx; break;
        case MW_REC_ALLOC:
            if (lb_del(&early, lb_key((mw_block_ref){cur, seq}), NULL)) break;
            if (lb_put(&live, lb_key((mw_block_ref){cur, seq}), rec.u.alloc.size)) rc = -1;
            break;
        case MW_REC_INHERIT: /* a fork child's copy of its parent's block: unfreed like any */
            if (lb_del(&early, lb_key((mw_block_ref){cur, seq}), NULL)) break;
            if (lb_put(&live, lb_key((mw_block_ref){cur, seq}), rec.u.inherit.size)) rc = -1;
            break;
        case MW_REC_REALLOC:
            if (!lb_del(&live, lb_key(rec.u.realloc.old), NULL) &&
                lb_put(&early, lb_key(rec.u.realloc.old), 1))
                rc = -1;
            if (lb_del(&early, lb_key((mw_block_ref){cur, seq}), NULL)) break;
            if (lb_put(&live, lb_key((mw_block_ref){cur, seq}), rec.u.realloc.size)) rc = -1;
            break;
        case MW_REC_FREE:
            if (!lb_del(&live, lb_key(rec.u.free.ref), NULL) &&
                lb_put(&early, lb_key(rec.u.free.ref), 1))
                rc = -1;
            break;
        case MW_REC_REACH: {
            mw_reach_iter it;
            mw_reach_entry e;
            int k;
            mw_reach_iter_init(&it, &rec);
            out->reach_records++;
            while ((k = mw_reach_next(&it, &e)) == 1) {
                out->reach_entries++;
                if (lb_put(&kinds, lb_key(e.ref), e.kind < 4 ? e.kind : 0)) rc = -1;
            }
            if (k < 0) { snprintf(err, errlen, "%s: malformed REACH record", path); rc = -1; }
            break;
        }
        case MW_REC_END:
            out->ended = true;
            out->end_reason = rec.u.end.reason;
            out->exit_status = rec.u.end.exit_status;
            break;
        default: break;
        }
    }
    if (st != MW_EOF && rc == 0) {
        snprintf(err, errlen, "%s: %s", path, mw_reader_error(r));
        rc = -1;
    }
    for (size_t i = 0; i < live.cap; i++) {
        if (!live.t[i].key) continue;
        out->bytes += live.t[i].size;
        out->blocks++;
        lb *k = lb_get(&kinds, live.t[i].key);
        unsigned kind = k ? (unsigned)k->size : 0;
        out->kind_bytes[kind] += live.t[i].size;
        out->kind_blocks[kind]++;
        if (fn) fn(live.t[i].size, kind, arg);
    }
    free(live.t);
    free(kinds.t);
    free(early.t);
    mw_reader_close(r);
    return rc;
}

/* ---- valgrind ---------------------------------------------------------------------------- */
static uint64_t parse_num(const char *s, const char **end)
{
    uint64_t v = 0;
    while (*s == ' ') s++;
    for (; (*s >= '0' && *s <= '9') || *s == ','; s++)
        if (*s != ',') v = v * 10 + (uint64_t)(*s - '0');
    if (end) *end = s;
    return v;
}

/* "NAME: X bytes in Y blocks" */
static bool bytes_blocks(const char *line, const char *name, uint64_t *bytes, uint64_t *blocks)
{
    const char *p = strstr(line, name);
    if (!p) return false;
    p += strlen(name);
    const char *e;
    *bytes = parse_num(p, &e);
    const char *q = strstr(e, " in ");
    *blocks = q ? parse_num(q + 4, NULL) : 0;
    return true;
}

int mw_vg_parse(const char *log_path, mw_vg_totals *out)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(log_path, "r");
    if (!f) return -1;
    char line[4096];
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '=' && line[1] == '=') {
            out->pid = strtol(line + 2, NULL, 10);
        }
        char *body = strstr(line, "== ");
        if (!body) continue;
        body += 3;
        line[strcspn(line, "\n")] = 0;
        if (!strncmp(body, "Command: ", 9)) snprintf(out->command, sizeof out->command, "%s", body + 9);
        if (!strncmp(body, "Parent PID: ", 12)) out->ppid = strtol(body + 12, NULL, 10);
        if (bytes_blocks(body, "in use at exit:", &out->in_use_bytes, &out->in_use_blocks))
            out->have_in_use = true;
        if (strstr(body, "All heap blocks were freed")) out->have_summary = out->have_in_use = true;
        if (bytes_blocks(body, "definitely lost:", &out->definite_bytes, &out->definite_blocks))
            out->have_summary = true;
        bytes_blocks(body, "indirectly lost:", &out->indirect_bytes, &out->indirect_blocks);
        bytes_blocks(body, "possibly lost:", &out->possible_bytes, &out->possible_blocks);
        bytes_blocks(body, "still reachable:", &out->reachable_bytes, &out->reachable_blocks);
        bytes_blocks(body, "suppressed:", &out->suppressed_bytes, &out->suppressed_blocks);
    }
    fclose(f);
    return 0;
}

int mw_vg_records_with(const char *log_path, const char *pat1, const char *pat2,
                       uint64_t *bytes, uint64_t *blocks)
{
    *bytes = *blocks = 0;
    FILE *f = fopen(log_path, "r");
    if (!f) return -1;
    char line[4096];
    uint64_t cur_bytes = 0, cur_blocks = 0;
    bool in_rec = false, m1 = false, m2 = false;
    for (;;) {
        char *got = fgets(line, sizeof line, f);
        const char *body = got ? strstr(line, "== ") : NULL;
        bool starts = body && strstr(body, " in loss record ");
        bool ends = !got || (body && body[3] == '\n') || starts;
        if (in_rec && ends) {
            if (m1 && (m2 || !pat2)) { *bytes += cur_bytes; *blocks += cur_blocks; }
            in_rec = false;
        }
        if (!got) break;
        if (!body) continue;
        body += 3;
        if (starts) {
            /* "N bytes in M blocks are ..." or "N (a direct, b indirect) bytes in M blocks" */
            cur_bytes = parse_num(body, NULL);
            const char *q = strstr(body, " bytes in ");
            cur_blocks = q ? parse_num(q + 10, NULL) : 0;
            in_rec = true;
            m1 = m2 = false;
        } else if (in_rec) {
            if (strstr(body, pat1)) m1 = true;
            if (pat2 && strstr(body, pat2)) m2 = true;
        }
    }
    fclose(f);
    return 0;
}

/* ---- heaptrack ----------------------------------------------------------------------------- */
int mw_heaptrack_leaked(const char *zst_path, uint64_t *bytes, uint64_t *blocks,
                        uint64_t *events)
{
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "zstd -dc -- '%s' 2>/dev/null", zst_path);
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    uint64_t *sizes = NULL;
    size_t n = 0, cap = 0;
    int64_t sum = 0, cnt = 0;
    uint64_t ev = 0;
    char line[8192];
    int rc = 0;
    while (fgets(line, sizeof line, p)) {
        if (line[0] == 'a' && line[1] == ' ') {
            if (n == cap) {
                cap = cap ? cap * 2 : 4096;
                uint64_t *ns = realloc(sizes, cap * sizeof *ns);
                if (!ns) { rc = -1; break; }
                sizes = ns;
            }
            sizes[n++] = strtoull(line + 2, NULL, 16);
        } else if ((line[0] == '+' || line[0] == '-') && line[1] == ' ') {
            uint64_t i = strtoull(line + 2, NULL, 16);
            if (i >= n) { rc = -1; break; }
            ev++;
            if (line[0] == '+') { sum += (int64_t)sizes[i]; cnt++; }
            else { sum -= (int64_t)sizes[i]; cnt--; }
        }
    }
    int st = pclose(p);
    free(sizes);
    if (st != 0 || ev == 0) rc = -1;
    *bytes = sum > 0 ? (uint64_t)sum : 0;
    *blocks = cnt > 0 ? (uint64_t)cnt : 0;
    if (events) *events = ev;
    return rc;
}

/* ---- processes ------------------------------------------------------------------------------ */
int mw_run(char *const argv[], char *const envp[], const char *cwd, const char *out_path,
           const char *err_path, int timeout_s)
{
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        /* ends with the test (Criterion's timeout kills it before ours runs out): a victim
         * left spinning would slow every test after it */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(126);
        int o = open(out_path ? out_path : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int e = open(err_path ? err_path : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int i = open("/dev/null", O_RDONLY);
        if (o < 0 || e < 0 || i < 0) _exit(126);
        dup2(i, 0);
        dup2(o, 1);
        dup2(e, 2);
        if (cwd && chdir(cwd) != 0) _exit(126);
        setpgid(0, 0);
        execve(argv[0], argv, envp);
        _exit(127);
    }
    setpgid(pid, pid);
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int status = -1;
    for (;;) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid) return status;
        if (w < 0 && errno != EINTR) return -1;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - t0.tv_sec > timeout_s) {
            kill(-pid, SIGKILL);
            waitpid(pid, &status, 0);
            return -1;
        }
        usleep(5000);
    }
}

int mw_tempdir(char *buf, size_t len, const char *tag)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(buf, len, "%s/mw-%s-XXXXXX", tmp && *tmp ? tmp : "/tmp", tag);
    return mkdtemp(buf) ? 0 : -1;
}

void mw_tempdir_remove(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char p[4096];
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(dir);
}
