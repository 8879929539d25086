/*
 * mwtest.c — integration-test helpers: paths, running victims, finding and decoding traces.
 * See mwtest.h for the contract. Plain libc + the format reader; no shim in this process.
 */
#include "mwtest.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>

extern char **environ;

/* ---- paths ------------------------------------------------------------------------------ */
static const char *abs_env(const char *var, const char *def, char *buf, size_t cap)
{
    if (buf[0]) return buf;
    const char *v = getenv(var);
    if (!v || !*v) v = def;
    if (!realpath(v, buf)) snprintf(buf, cap, "%s", v);
    return buf;
}

const char *mwt_build_dir(void)
{
    static char b[PATH_MAX];
    return abs_env("MEMWATCH_BUILD", "build", b, sizeof b);
}

const char *mwt_src_dir(void)
{
    static char b[PATH_MAX];
    return abs_env("MEMWATCH_SRC", ".", b, sizeof b);
}

const char *mwt_shim(void)
{
    static char b[PATH_MAX + 64];
    if (!b[0]) {
        strcpy(b, mwt_build_dir());
        strcat(b, "/libmemwatch_preload.so");
    }
    return b;
}

const char *mwt_victim(const char *name)
{
    static char ring[16][PATH_MAX + 320];
    static unsigned k;
    char *b = ring[k++ % 16];
    strcpy(b, mwt_build_dir());
    strcat(b, "/tests/victims/");
    strncat(b, name, 255);
    return b;
}

const char *mwt_python(void)
{
    static char exe[PATH_MAX];
    static bool looked;
    if (!looked) {
        looked = true;
        FILE *f = popen("python3 -c 'import sys; print(sys.executable)' 2>/dev/null", "r");
        if (f) {
            if (!fgets(exe, sizeof exe, f)) exe[0] = 0;
            pclose(f);
        }
        exe[strcspn(exe, "\n")] = 0;
    }
    return exe[0] == '/' ? exe : NULL;
}

char *mwt_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    if (!base || !*base) base = "/tmp";
    char *p = malloc(strlen(base) + 32);
    if (!p) return NULL;
    sprintf(p, "%s/mwtest.XXXXXX", base);
    if (!mkdtemp(p)) {
        free(p);
        return NULL;
    }
    return p;
}

void mwt_rmtree(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) {
        unlink(dir);
        return;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char p[PATH_MAX];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
            mwt_rmtree(p);
        else
            unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

/* ---- running ------------------------------------------------------------------------------- */
static bool same_key(const char *a, const char *b)
{
    size_t i = 0;
    while (a[i] && a[i] != '=' && a[i] == b[i]) i++;
    return (a[i] == '=' || !a[i]) && (b[i] == '=' || !b[i]);
}

static char **build_env(const mwt_opts *o, char **owned, size_t *nowned)
{
    size_t n = 0, extra = 0;
    while (environ[n]) n++;
    while (o->env && o->env[extra]) extra++;
    char **env = calloc(n + extra + 4, sizeof *env);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (!strncmp(environ[i], "MEMWATCH_", 9) || !strncmp(environ[i], "LD_PRELOAD=", 11)) continue;
        bool overridden = false;
        for (size_t j = 0; j < extra; j++)
            if (same_key(environ[i], o->env[j])) overridden = true;
        if (!overridden) env[k++] = environ[i];
    }
    const char *user_preload = NULL;
    bool user_out = false;
    for (size_t j = 0; j < extra; j++) {
        if (!strncmp(o->env[j], "LD_PRELOAD=", 11)) {
            user_preload = o->env[j] + 11;
            continue;
        }
        if (!strncmp(o->env[j], "MEMWATCH_OUT=", 13)) user_out = true;
        if (strchr(o->env[j], '=')) env[k++] = (char *)o->env[j];
    }
    if (o->preload || user_preload) {
        size_t l = 16 + strlen(mwt_shim()) + (user_preload ? strlen(user_preload) : 0);
        char *s = malloc(l);
        if (o->preload && user_preload && *user_preload)
            snprintf(s, l, "LD_PRELOAD=%s:%s", mwt_shim(), user_preload);
        else
            snprintf(s, l, "LD_PRELOAD=%s", o->preload ? mwt_shim() : user_preload);
        owned[(*nowned)++] = s;
        env[k++] = s;
    }
    if (o->trace_dir && !user_out) {
        size_t l = strlen(o->trace_dir) + 40;
        char *s = malloc(l);
        snprintf(s, l, "MEMWATCH_OUT=%s/%%e.%%p.trace.zst", o->trace_dir);
        owned[(*nowned)++] = s;
        env[k++] = s;
    }
    env[k] = NULL;
    return env;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void append(char **buf, size_t *len, size_t *cap, const char *src, size_t n)
{
    if (*len + n + 1 > *cap) {
        *cap = (*len + n + 1) * 2;
        *buf = realloc(*buf, *cap);
    }
    memcpy(*buf + *len, src, n);
    *len += n;
    (*buf)[*len] = 0;
}

int mwt_spawn(const mwt_opts *o, mwt_run *r)
{
    memset(r, 0, sizeof *r);
    int po[2], pe[2], pi[2];
    if (pipe(po) || pipe(pe) || pipe(pi)) return -1;
    char *owned[4];
    size_t nowned = 0;
    char **env = build_env(o, owned, &nowned);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        setpgid(0, 0); /* its own group: a timeout kills whatever it started, too */
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* and it ends with the test (Criterion's timeout) */
        if (getppid() != parent) _exit(126);
        dup2(pi[0], 0);
        dup2(po[1], 1);
        dup2(pe[1], 2);
        close(po[0]), close(pe[0]), close(pi[1]), close(po[1]), close(pe[1]), close(pi[0]);
        if (o->cwd && chdir(o->cwd) != 0) _exit(126);
        environ = env;
        execvp(o->argv[0], (char *const *)o->argv);
        _exit(127);
    }
    close(po[1]), close(pe[1]), close(pi[0]);
    free(env);
    for (size_t i = 0; i < nowned; i++) free(owned[i]);
    if (o->stdin_data) {
        size_t n = strlen(o->stdin_data);
        ssize_t w = write(pi[1], o->stdin_data, n);
        (void)w;
    }
    close(pi[1]);
    r->pid = pid;
    size_t ocap = 0, ecap = 0;
    append(&r->out, &r->out_len, &ocap, "", 0);
    append(&r->err, &r->err_len, &ecap, "", 0);
    uint64_t start = now_ms(), limit = o->timeout_ms ? o->timeout_ms : 60000;
    bool signalled = false;
    setpgid(pid, pid); /* also here: whichever of the two runs first */
    struct pollfd fds[2] = { { po[0], POLLIN, 0 }, { pe[0], POLLIN, 0 } };
    int open_fds = 2;
    while (open_fds > 0) {
        uint64_t el = now_ms() - start;
        if (o->signal_after_ms && !signalled && el >= o->signal_after_ms) {
            kill(pid, o->signal_no);
            signalled = true;
        }
        if (el >= limit && !r->timed_out) {
            kill(-pid, SIGKILL); /* the group: a descendant holding the pipes ends too */
            kill(pid, SIGKILL);
            r->timed_out = true;
        }
        /* a descendant that left the group still holds the pipes: stop reading */
        if (r->timed_out && el >= limit + 2000) break;
        int rc = poll(fds, 2, 20);
        if (rc < 0 && errno != EINTR) break;
        for (int i = 0; i < 2; i++) {
            if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            char buf[65536];
            ssize_t n = read(fds[i].fd, buf, sizeof buf);
            if (n > 0) {
                if (i == 0)
                    append(&r->out, &r->out_len, &ocap, buf, (size_t)n);
                else
                    append(&r->err, &r->err_len, &ecap, buf, (size_t)n);
            } else {
                close(fds[i].fd);
                fds[i].fd = -1;
                open_fds--;
            }
        }
    }
    /* the pipes may close before the process ends (or stay open in grandchildren) */
    for (;;) {
        pid_t w = waitpid(pid, &r->raw_status, WNOHANG);
        if (w == pid) break;
        uint64_t el = now_ms() - start;
        if (o->signal_after_ms && !signalled && el >= o->signal_after_ms) {
            kill(pid, o->signal_no);
            signalled = true;
        }
        if (el >= limit && !r->timed_out) {
            kill(-pid, SIGKILL);
            kill(pid, SIGKILL);
            r->timed_out = true;
        }
        usleep(2000);
    }
    for (int i = 0; i < 2; i++)
        if (fds[i].fd >= 0) close(fds[i].fd);
    if (WIFEXITED(r->raw_status)) {
        r->exit_code = WEXITSTATUS(r->raw_status);
    } else {
        r->exit_code = -1;
        r->term_signal = WIFSIGNALED(r->raw_status) ? WTERMSIG(r->raw_status) : 0;
    }
    return 0;
}

void mwt_run_free(mwt_run *r)
{
    free(r->out);
    free(r->err);
    r->out = r->err = NULL;
}

size_t mwt_count_lines(const char *s, const char *prefix)
{
    size_t n = 0, pl = strlen(prefix);
    for (const char *p = s; p && *p;) {
        if (!strncmp(p, prefix, pl)) n++;
        p = strchr(p, '\n');
        if (p) p++;
    }
    return n;
}

/* ---- traces on disk ------------------------------------------------------------------------ */
static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

size_t mwt_find_traces(const char *dir, char ***paths)
{
    *paths = NULL;
    DIR *d = opendir(dir);
    if (!d) return 0;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l < 10 || strcmp(e->d_name + l - 10, ".trace.zst") != 0) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            *paths = realloc(*paths, cap * sizeof **paths);
        }
        char *p = malloc(strlen(dir) + l + 2);
        sprintf(p, "%s/%s", dir, e->d_name);
        (*paths)[n++] = p;
    }
    closedir(d);
    if (n) qsort(*paths, n, sizeof **paths, cmp_str);
    return n;
}

void mwt_free_list(char **paths, size_t n)
{
    for (size_t i = 0; i < n; i++) free(paths[i]);
    free(paths);
}

/* ---- decoding -------------------------------------------------------------------------------- */
typedef struct idxvec {
    size_t *v;
    size_t n, cap;
} idxvec;

typedef struct loader {
    mwt_trace *t;
    mw_block_ref *early;    /* frees seen before their ALLOC (rings of different threads are
                               drained in any order): applied when the ALLOC arrives */
    size_t nearly, earlycap;
    idxvec *by_tidx;        /* per tidx: seq-1 -> index into t->blocks */
    size_t ntidx;
    size_t bcap, mcap, thcap, modcap, ncap;
} loader;

#define GROW(arr, n, cap)                                                  \
    do {                                                                   \
        if ((n) == (cap)) {                                                \
            (cap) = (cap) ? (cap) * 2 : 64;                                \
            (arr) = realloc((arr), (cap) * sizeof *(arr));                 \
        }                                                                  \
    } while (0)

static void copy_bytes(char *dst, size_t cap, mw_bytes b)
{
    size_t n = b.len < cap - 1 ? b.len : cap - 1;
    if (n) memcpy(dst, b.ptr, n);
    dst[n] = 0;
}

static mwt_thread *thread_new(loader *L, uint64_t tidx);

/* The thread that owns stream tidx now: the last one that took it (an index passes to a new
 * thread once its thread ended, TRACE-FORMAT.md 3.1). */
static mwt_thread *thread_get(loader *L, uint64_t tidx)
{
    mwt_trace *t = L->t;
    for (size_t i = t->nthreads; i-- > 0;)
        if (t->threads[i].tidx == tidx) return &t->threads[i];
    return thread_new(L, tidx);
}

static mwt_thread *thread_new(loader *L, uint64_t tidx)
{
    mwt_trace *t = L->t;
    GROW(t->threads, t->nthreads, L->thcap);
    mwt_thread *th = &t->threads[t->nthreads++];
    memset(th, 0, sizeof *th);
    th->tidx = tidx;
    return th;
}

static mwt_block *block_of(loader *L, mw_block_ref r)
{
    if (r.tidx >= L->ntidx || r.seq == 0 || r.seq > L->by_tidx[r.tidx].n) return NULL;
    size_t i = L->by_tidx[r.tidx].v[r.seq - 1];
    return i == (size_t)-1 ? NULL : &L->t->blocks[i];
}

static void add_block(loader *L, uint64_t tidx, uint64_t seq, uint64_t kind, uint64_t size,
                      uint64_t addr, uint64_t stack)
{
    mwt_trace *t = L->t;
    GROW(t->blocks, t->nblocks, L->bcap);
    t->blocks[t->nblocks] = (mwt_block){ tidx, seq, kind, size, addr, stack, false, 0, 0,
                                         t->have_time ? t->last_time : 0 };
    if (tidx >= L->ntidx) {
        size_t nn = tidx + 16;
        L->by_tidx = realloc(L->by_tidx, nn * sizeof *L->by_tidx);
        memset(L->by_tidx + L->ntidx, 0, (nn - L->ntidx) * sizeof *L->by_tidx);
        L->ntidx = nn;
    }
    idxvec *iv = &L->by_tidx[tidx];
    while (iv->n < seq) {
        GROW(iv->v, iv->n, iv->cap);
        iv->v[iv->n++] = (size_t)-1;
    }
    iv->v[seq - 1] = t->nblocks++;
    t->allocs++;
    t->bytes_allocated += size;
    t->live_blocks++;
    t->live_bytes += size;
    t->kind_count[kind]++;
    t->kind_bytes[kind] += size;
    for (size_t i = 0; i < L->nearly; i++) {
        if (L->early[i].tidx == tidx && L->early[i].seq == seq) {
            L->early[i] = L->early[--L->nearly];
            t->blocks[t->nblocks - 1].freed = true;
            t->live_blocks--;
            t->live_bytes -= size;
            break;
        }
    }
}

static void free_block(loader *L, mw_block_ref r)
{
    mwt_block *b = block_of(L, r);
    if (!b) { /* its ALLOC may still come (another thread's ring drained later) */
        GROW(L->early, L->nearly, L->earlycap);
        L->early[L->nearly++] = r;
        return;
    }
    if (b->freed) {
        L->t->unknown_frees++;
        return;
    }
    b->freed = true;
    L->t->live_blocks--;
    L->t->live_bytes -= b->size;
}

static void on_record(loader *L, const mw_record *rec, uint64_t seq, uint64_t cur_tidx)
{
    mwt_trace *t = L->t;
    t->records++;
    t->nrec[rec->type]++;
    switch (rec->type) {
    case MW_REC_HEADER:
        t->has_header = true;
        t->pid = rec->u.header.pid;
        t->ppid = rec->u.header.ppid;
        t->flags = rec->u.header.flags;
        copy_bytes(t->exe, sizeof t->exe, rec->u.header.exe);
        copy_bytes(t->argv0, sizeof t->argv0, rec->u.header.argv);
        break;
    case MW_REC_END:
        t->has_end = true;
        t->exit_status = rec->u.end.exit_status;
        t->end_reason = rec->u.end.reason;
        t->lost_events = rec->u.end.lost_events;
        t->lost_bytes = rec->u.end.lost_bytes;
        t->last_t_ns = rec->u.end.t_ns;
        break;
    case MW_REC_TIME:
        if (t->have_time && rec->u.time.t_ns == t->last_time) t->time_repeats++;
        t->have_time = true;
        t->last_time = rec->u.time.t_ns;
        t->last_t_ns = rec->u.time.t_ns;
        break;
    case MW_REC_THREAD_START: {
        mwt_thread *th = thread_get(L, rec->u.thread_start.tidx);
        if (th->started) th = thread_new(L, rec->u.thread_start.tidx); /* a new owner */
        th->started = true;
        th->tid = rec->u.thread_start.tid;
        th->parent = rec->u.thread_start.parent_tidx;
        copy_bytes(th->name, sizeof th->name, rec->u.thread_start.name);
        break;
    }
    case MW_REC_THREAD_NAME:
        copy_bytes(thread_get(L, rec->u.thread_name.tidx)->name, 64, rec->u.thread_name.name);
        break;
    case MW_REC_THREAD_END:
        thread_get(L, rec->u.thread_end.tidx)->ended = true;
        break;
    case MW_REC_MODULE_LOAD: {
        GROW(t->modules, t->nmodules, L->modcap);
        mwt_module *m = &t->modules[t->nmodules++];
        memset(m, 0, sizeof *m);
        m->id = rec->u.module_load.id;
        m->bias = rec->u.module_load.bias;
        m->start = rec->u.module_load.start;
        m->size = rec->u.module_load.size;
        m->build_id_len = rec->u.module_load.build_id.len;
        copy_bytes(m->path, sizeof m->path, rec->u.module_load.path);
        break;
    }
    case MW_REC_MODULE_UNLOAD:
        for (size_t i = 0; i < t->nmodules; i++)
            if (t->modules[i].id == rec->u.module_unload.id) t->modules[i].unloaded = true;
        break;
    case MW_REC_STACK_NODE: {
        uint64_t id = rec->u.stack_node.id;
        if (id == 0 || id > 100000000u) break;
        if (id >= L->ncap) {
            size_t nc = (id + 1) * 2;
            t->node_parent = realloc(t->node_parent, nc * sizeof(uint64_t));
            t->node_ip = realloc(t->node_ip, nc * sizeof(uint64_t));
            memset(t->node_parent + L->ncap, 0, (nc - L->ncap) * sizeof(uint64_t));
            memset(t->node_ip + L->ncap, 0, (nc - L->ncap) * sizeof(uint64_t));
            L->ncap = nc;
        }
        t->node_parent[id] = rec->u.stack_node.parent;
        t->node_ip[id] = rec->u.stack_node.ip;
        if (id + 1 > t->nnodes) t->nnodes = id + 1;
        break;
    }
    case MW_REC_ALLOC:
        add_block(L, cur_tidx, seq, rec->u.alloc.kind < MW_AK_COUNT ? rec->u.alloc.kind : MW_AK_COUNT,
                  rec->u.alloc.size, rec->u.alloc.addr, rec->u.alloc.stack);
        thread_get(L, cur_tidx)->allocs++;
        break;
    case MW_REC_INHERIT: /* live from the start, not an allocation of this process */
        add_block(L, cur_tidx, seq, MW_AK_COUNT, rec->u.inherit.size, rec->u.inherit.addr, 0);
        t->allocs--;
        t->bytes_allocated -= rec->u.inherit.size;
        t->kind_count[MW_AK_COUNT]--;
        t->kind_bytes[MW_AK_COUNT] -= rec->u.inherit.size;
        t->inherited++;
        t->inherited_bytes += rec->u.inherit.size;
        break;
    case MW_REC_FREE:
        free_block(L, rec->u.free.ref);
        t->frees++;
        thread_get(L, cur_tidx)->frees++;
        break;
    case MW_REC_REALLOC:
        free_block(L, rec->u.realloc.old);
        t->frees++;
        t->reallocs++;
        add_block(L, cur_tidx, seq, MW_AK_COUNT, rec->u.realloc.size, rec->u.realloc.addr,
                  rec->u.realloc.stack);
        thread_get(L, cur_tidx)->allocs++;
        break;
    case MW_REC_MMAP: {
        GROW(t->maps, t->nmaps, L->mcap);
        mwt_map *m = &t->maps[t->nmaps++];
        memset(m, 0, sizeof *m);
        m->addr = rec->u.mmap.addr;
        m->len = rec->u.mmap.len;
        m->prot = rec->u.mmap.prot;
        m->flags = rec->u.mmap.flags;
        m->offset = rec->u.mmap.offset;
        m->stack = rec->u.mmap.stack;
        m->fd = rec->u.mmap.fd;
        copy_bytes(m->path, sizeof m->path, rec->u.mmap.path);
        break;
    }
    case MW_REC_MUNMAP:
        t->munmaps++;
        for (size_t i = 0; i < t->nmaps; i++)
            if (t->maps[i].addr == rec->u.munmap.addr && !t->maps[i].unmapped) t->maps[i].unmapped = true;
        break;
    case MW_REC_MREMAP:
        t->mremaps++;
        break;
    case MW_REC_RSS:
        t->rss_samples++;
        if (rec->u.rss.rss > t->max_rss) t->max_rss = rec->u.rss.rss;
        if (rec->u.rss.own > t->max_own) t->max_own = rec->u.rss.own;
        if (!rec->u.rss.own || rec->u.rss.own > rec->u.rss.rss) t->own_odd++;
        if (rec->u.rss.rss < (1u << 20) || rec->u.rss.rss > rec->u.rss.vm_size || rec->u.rss.vm_size < (4u << 20) ||
            rec->u.rss.vm_size > (1ull << 47) || rec->u.rss.anon > rec->u.rss.vm_size ||
            rec->u.rss.file > rec->u.rss.vm_size || rec->u.rss.shmem > rec->u.rss.vm_size)
            t->rss_odd++;
        if (rec->u.rss.own <= rec->u.rss.rss) {
            t->last_prog_rss = rec->u.rss.rss - rec->u.rss.own;
            if (t->rss_samples == 1) t->first_prog_rss = t->last_prog_rss;
        }
        break;
    case MW_REC_FATAL_SIGNAL:
        if (!t->fatal_signo) {
            t->fatal_signo = rec->u.fatal.signo;
            t->fatal_addr = rec->u.fatal.addr;
            t->fatal_stack = rec->u.fatal.stack;
        }
        break;
    case MW_REC_FORK:
        if (t->nforks < 64) t->forks[t->nforks++] = rec->u.fork.child_pid;
        break;
    case MW_REC_EXEC:
        if (t->nexecs < 8) copy_bytes(t->execs[t->nexecs++], 256, rec->u.exec.path);
        break;
    case MW_REC_SPAWN:
        if (t->nspawns < 8) {
            t->spawn_pids[t->nspawns] = rec->u.spawn.child_pid;
            copy_bytes(t->spawns[t->nspawns++], 256, rec->u.spawn.path);
        }
        break;
    case MW_REC_MARK:
        if (t->nmarks < 32) copy_bytes(t->marks[t->nmarks++], 128, rec->u.mark.label);
        break;
    case MW_REC_LOST:
        if (!t->has_end) {
            t->lost_events += rec->u.lost.events;
            t->lost_bytes += rec->u.lost.bytes;
        }
        break;
    case MW_REC_LIMITS:
        t->limits_phys = rec->u.limits.phys_mem;
        break;
    case MW_REC_REACH: {
        mw_reach_iter it;
        mw_reach_entry e;
        mw_reach_iter_init(&it, rec);
        while (mw_reach_next(&it, &e) == 1) {
            mwt_block *b = block_of(L, e.ref);
            if (b) {
                b->reach = e.kind;
                b->reach_addr = e.addr;
            }
        }
        break;
    }
    default:
        break;
    }
}

int mwt_trace_load(const char *path, mwt_trace *t)
{
    memset(t, 0, sizeof *t);
    t->exit_status = -1;
    snprintf(t->path, sizeof t->path, "%s", path);
    mw_reader *r = mw_reader_open(path, t->err, sizeof t->err);
    if (!r) {
        t->status = MW_IO_ERROR;
        return -1;
    }
    loader L = { .t = t };
    mw_record rec;
    uint64_t seq = 0, cur = 0;
    int st;
    while ((st = mw_reader_next(r, &rec, &seq)) == MW_OK) {
        if (rec.type == MW_REC_THREAD_SWITCH) cur = rec.u.thread_switch.tidx;
        on_record(&L, &rec, seq, cur);
    }
    t->status = st;
    if (st != MW_EOF) snprintf(t->err, sizeof t->err, "%s", mw_reader_error(r));
    mw_reader_close(r);
    for (size_t i = 0; i < L.ntidx; i++) free(L.by_tidx[i].v);
    free(L.by_tidx);
    t->unknown_frees += L.nearly; /* frees whose block never appeared */
    free(L.early);
    if (!t->has_header) {
        if (!t->err[0]) snprintf(t->err, sizeof t->err, "%s: no HEADER record", path);
        return -1;
    }
    return 0;
}

int mwt_trace_load_one(const char *dir, mwt_trace *t)
{
    char **p;
    size_t n = mwt_find_traces(dir, &p);
    if (n != 1) {
        memset(t, 0, sizeof *t);
        snprintf(t->err, sizeof t->err, "%zu traces in %s (expected exactly 1)", n, dir);
        mwt_free_list(p, n);
        return -1;
    }
    int rc = mwt_trace_load(p[0], t);
    mwt_free_list(p, n);
    return rc;
}

void mwt_trace_free(mwt_trace *t)
{
    free(t->blocks);
    free(t->maps);
    free(t->threads);
    free(t->modules);
    free(t->node_parent);
    free(t->node_ip);
    memset(t, 0, sizeof *t);
}

mwt_trace *mwt_trace_load_all(const char *dir, size_t *n)
{
    char **p;
    *n = mwt_find_traces(dir, &p);
    mwt_trace *ts = calloc(*n ? *n : 1, sizeof *ts);
    for (size_t i = 0; i < *n; i++) mwt_trace_load(p[i], &ts[i]);
    mwt_free_list(p, *n);
    return ts;
}

void mwt_traces_free(mwt_trace *ts, size_t n)
{
    for (size_t i = 0; i < n; i++) mwt_trace_free(&ts[i]);
    free(ts);
}

const mwt_trace *mwt_trace_with_live(const mwt_trace *ts, size_t n, uint64_t size)
{
    for (size_t i = 0; i < n; i++)
        if (mwt_live_of_size(&ts[i], size)) return &ts[i];
    return NULL;
}

size_t mwt_stack_ips(const mwt_trace *t, uint64_t stack, uint64_t *ips, size_t max)
{
    size_t n = 0;
    while (stack && stack < t->nnodes && n < 100000) {
        if (n < max) ips[n] = t->node_ip[stack];
        n++;
        stack = t->node_parent[stack];
    }
    return n;
}

const mwt_module *mwt_module_of(const mwt_trace *t, uint64_t ip)
{
    for (size_t i = 0; i < t->nmodules; i++)
        if (ip >= t->modules[i].start && ip < t->modules[i].start + t->modules[i].size) return &t->modules[i];
    return NULL;
}

const mwt_thread *mwt_thread_of(const mwt_trace *t, uint64_t tidx)
{
    for (size_t i = t->nthreads; i-- > 0;)
        if (t->threads[i].tidx == tidx) return &t->threads[i];
    return NULL;
}

size_t mwt_live_of_size(const mwt_trace *t, uint64_t size)
{
    size_t n = 0;
    for (size_t i = 0; i < t->nblocks; i++)
        if (!t->blocks[i].freed && t->blocks[i].size == size) n++;
    return n;
}

size_t mwt_allocs_in_sizes(const mwt_trace *t, uint64_t lo, uint64_t hi, size_t *live)
{
    size_t n = 0, l = 0;
    for (size_t i = 0; i < t->nblocks; i++) {
        if (t->blocks[i].size < lo || t->blocks[i].size >= hi) continue;
        n++;
        if (!t->blocks[i].freed) l++;
    }
    if (live) *live = l;
    return n;
}

size_t mwt_allocs_of_size(const mwt_trace *t, uint64_t size)
{
    size_t n = 0;
    for (size_t i = 0; i < t->nblocks; i++)
        if (t->blocks[i].size == size) n++;
    return n;
}

size_t mwt_unzstd(const char *in, const char *out)
{
    FILE *fi = fopen(in, "rb"), *fo = fopen(out, "wb");
    size_t total = (size_t)-1;
    ZSTD_DStream *ds = ZSTD_createDStream();
    if (fi && fo && ds) {
        static unsigned char ib[1 << 16], ob[1 << 17];
        size_t got;
        total = 0;
        while (total != (size_t)-1 && (got = fread(ib, 1, sizeof ib, fi)) > 0) {
            ZSTD_inBuffer zi = {ib, got, 0};
            while (zi.pos < zi.size) {
                ZSTD_outBuffer zo = {ob, sizeof ob, 0};
                if (ZSTD_isError(ZSTD_decompressStream(ds, &zo, &zi))) {
                    total = (size_t)-1;
                    break;
                }
                fwrite(ob, 1, zo.pos, fo);
                total += zo.pos;
            }
        }
    }
    ZSTD_freeDStream(ds);
    if (fi) fclose(fi);
    if (fo) fclose(fo);
    return total;
}
