/*
 * process_env.c — the environment a traced program passes to the programs it starts (the exec
 * family and posix_spawn in process.c): with MEMWATCH_FOLLOW=0 our own LD_PRELOAD entry taken
 * out (also of this process's environment at start); with MEMWATCH_FOLLOW=1 our entry and the
 * MEMWATCH_* settings added to an environment the program built without them, and taken out
 * again in the new process, so that it sees the environment it was given.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <unistd.h>

#include "mw_core.h"

extern char **environ;

/* ---- LD_PRELOAD filtering ---------------------------------------------------------------- */
static bool is_self(const char *s, size_t n)
{
    static const char base[] = "libmemwatch_preload.so";
    size_t bl = sizeof base - 1;
    if (mw_self_path && strlen(mw_self_path) == n && memcmp(s, mw_self_path, n) == 0) return true;
    return n >= bl && memcmp(s + n - bl, base, bl) == 0 && (n == bl || s[n - bl - 1] == '/');
}

/* Writes `val` (an LD_PRELOAD list, ':' or ' ' separated) without our entries into out
 * (capacity >= strlen(val) + 1). */
static void strip_list(const char *val, char *out)
{
    size_t o = 0;
    const char *p = val;
    while (*p) {
        size_t n = strcspn(p, ": ");
        if (n && !is_self(p, n)) {
            if (o) out[o++] = ':';
            memcpy(out + o, p, n);
            o += n;
        }
        p += n;
        if (*p) p++;
    }
    out[o] = 0;
}

/* At start with MEMWATCH_FOLLOW=0: edit our own environment in place (the string only
 * shrinks), so every child and exec inherits LD_PRELOAD without us and with the others. */
void mw_env_strip_self(void)
{
    for (char **e = environ; e && *e; e++) {
        if (strncmp(*e, "LD_PRELOAD=", 11) != 0) continue;
        char *v = *e + 11;
        size_t n = strlen(v);
        char tmp[n + 1];
        strip_list(v, tmp);
        memcpy(v, tmp, strlen(tmp) + 1);
    }
}

/* ---- following through an environment of the program's own (MEMWATCH_FOLLOW=1) ----------- */
/* A program may start another with an environment it built (env -i, a subprocess given env=,
 * execle): without our LD_PRELOAD entry and the MEMWATCH_* settings that program would run
 * untraced, and the tree would be followed only where the environment happens to be inherited.
 * So at start the shim keeps its own LD_PRELOAD entry (the absolute path of the loaded object,
 * absolutize_self) and the MEMWATCH_* variables; an exec or spawn whose environment lacks them gets them added (ours
 * first in an LD_PRELOAD of other entries; a MEMWATCH_* variable the program set itself is
 * kept). Only for a shim that came in through LD_PRELOAD.
 *
 * The new program must still see the environment it was given: the additions are listed in
 * MEMWATCH_ADDED (names; "LD_PRELOAD+" for our entry put before others), and the shim in the
 * new process takes them out of its environ again at start (mw_env_hide_added), after keeping
 * them for the next exec. Only /proc/PID/environ, the kernel's copy, still shows them. */
#define FOLLOW_VARS_MAX 32u
static char follow_self[1024];              /* our LD_PRELOAD entry, "" = do not add */
static char follow_store[8192];             /* the MEMWATCH_* "K=V" strings */
static char *follow_vars[FOLLOW_VARS_MAX];
static unsigned follow_nvars;

/* Our LD_PRELOAD entry given as a relative path with a '/' ("build/libmemwatch_preload.so",
 * as the README's examples have it) names the shim only from the directory the program
 * started in: a child that changes directory before its exec (make's "cd dir && ...", a
 * script) would get ld.so's "cannot be preloaded" line on its stderr and run untraced. So the
 * entry is made absolute in this process's environment (*e, entry: n bytes in it). A bare
 * file name is left as it is there (ld.so looks it up in the library path, which children
 * inherit with it); what is added to an environment of the program's making (follow_env) is
 * the absolute path of the object ld.so loaded, whatever the entry. */
static char abs_preload[8192];
static void absolutize_self(char **e, const char *entry, size_t n)
{
    /* an absolute entry is passed on as given: a link `memwatch run` made for a shim whose
     * real path has a space or a colon, which LD_PRELOAD cannot carry (resolved, it was three
     * entries the loader could not open for every program CMD started) */
    if (entry[0] == '/') return;
    char abs[4096];
    if (mw_self_path && realpath(mw_self_path, abs) && strlen(abs) < sizeof follow_self && !strpbrk(abs, " :"))
        strcpy(follow_self, abs); /* what ld.so opened, relative to the directory at start */
    if (!memchr(entry, '/', n) || n >= sizeof abs) return;
    char rel[sizeof abs];
    memcpy(rel, entry, n);
    rel[n] = 0;
    if (!realpath(rel, abs) || strlen(abs) >= sizeof follow_self || strpbrk(abs, " :")) return;
    const char *val = *e + 11;
    size_t off = (size_t)(entry - val), al = strlen(abs);
    if (11 + strlen(val) - n + al + 1 > sizeof abs_preload) return;
    memcpy(abs_preload, "LD_PRELOAD=", 11);
    memcpy(abs_preload + 11, val, off);
    memcpy(abs_preload + 11 + off, abs, al);
    strcpy(abs_preload + 11 + off + al, entry + n);
    *e = abs_preload;
    strcpy(follow_self, abs);
}

/* A relative MEMWATCH_OUT names a place beside the program that first loaded the shim: made
 * absolute (the working directory at start, its '%' doubled, in front) in the environment and
 * in this process's pattern, so that a child forked or exec'd after a change of directory
 * writes there too instead of failing with a line on its stderr. */
static char abs_out[sizeof mw_cfg.out_pattern + 16];
static void absolutize_out(void)
{
    if (mw_cfg.out_pattern[0] == '/') return;
    char cwd[4096], pat[sizeof mw_cfg.out_pattern];
    if (!getcwd(cwd, sizeof cwd)) return;
    size_t n = 0;
    for (const char *c = cwd; *c; c++) {
        if (n + 3 >= sizeof pat) return;
        if (*c == '%') pat[n++] = '%';
        pat[n++] = *c;
    }
    if (n + 1 + strlen(mw_cfg.out_pattern) + 1 > sizeof pat) return;
    pat[n++] = '/';
    strcpy(pat + n, mw_cfg.out_pattern);
    for (char **e = environ; e && *e; e++)
        if (strncmp(*e, "MEMWATCH_OUT=", 13) == 0) {
            /* only the value in use: a bad one (the default pattern is used) stays as given */
            if (strcmp(*e + 13, mw_cfg.out_pattern) != 0) break;
            memcpy(abs_out, "MEMWATCH_OUT=", 13);
            strcpy(abs_out + 13, pat);
            *e = abs_out;
            break;
        }
    strcpy(mw_cfg.out_pattern, pat);
}

/* After mw_cfg.out_pattern changed (writer.c: a directory for the user the process became):
 * environ's MEMWATCH_OUT names the new pattern (the string swapped, as absolutize_out does),
 * and so does the copy passed to programs exec'd with an environment of their own; a
 * process that had none gets one, passed on as added (MEMWATCH_ADDED). */
static char out_now[sizeof mw_cfg.out_pattern + 16];
void mw_env_out_changed(void)
{
    if (strlen(mw_cfg.out_pattern) + 14 > sizeof out_now) return;
    memcpy(out_now, "MEMWATCH_OUT=", 13);
    strcpy(out_now + 13, mw_cfg.out_pattern);
    for (char **e = environ; e && *e; e++)
        if (strncmp(*e, "MEMWATCH_OUT=", 13) == 0) *e = out_now;
    unsigned v = 0;
    while (v < follow_nvars && strncmp(follow_vars[v], "MEMWATCH_OUT=", 13) != 0) v++;
    if (v < follow_nvars) follow_vars[v] = out_now;
    else if (follow_nvars < FOLLOW_VARS_MAX) follow_vars[follow_nvars++] = out_now;
}

void mw_env_warned_changed(void)
{
    const char *w = mw_config_warned_var();
    if (!w || !mw_cfg.follow) return;
    for (unsigned v = 0; v < follow_nvars; v++)
        if (follow_vars[v] == w) return; /* the same buffer: its new value goes */
    if (follow_nvars < FOLLOW_VARS_MAX) follow_vars[follow_nvars++] = (char *)w;
}

void mw_env_keep_follow(void)
{
    absolutize_out();
    size_t used = 0;
    for (char **e = environ; e && *e; e++) {
        if (strncmp(*e, "LD_PRELOAD=", 11) == 0 && !follow_self[0]) {
            for (const char *p = *e + 11; *p;) {
                size_t n = strcspn(p, ": ");
                if (n && is_self(p, n) && n < sizeof follow_self) {
                    memcpy(follow_self, p, n);
                    follow_self[n] = 0;
                    absolutize_self(e, p, n);
                    break;
                }
                p += n;
                if (*p) p++;
            }
        } else if (strncmp(*e, "MEMWATCH_", 9) == 0 && strchr(*e, '=') && strchr(*e, '=') - *e <= 60 &&
                   strncmp(*e, "MEMWATCH_ADDED=", 15) != 0 &&
                   strncmp(*e, "MEMWATCH_WARNED=", 16) != 0 && /* this process's own goes on, below */
                   strncmp(*e, "MEMWATCH_DIR_FD=", 16) != 0) { /* a descriptor of this exec's only */
            /* (a name longer than 60 bytes is none of ours: not passed on, so that
             * MEMWATCH_ADDED always has room to name what was added) */
            size_t n = strlen(*e) + 1;
            if (follow_nvars == FOLLOW_VARS_MAX || used + n > sizeof follow_store) continue;
            follow_vars[follow_nvars++] = memcpy(follow_store + used, *e, n);
            used += n;
        }
    }
    /* the hash of the lines this process said about its settings (config.c): a program it
     * starts with the same settings does not say them again */
    const char *warned = mw_config_warned_var();
    if (warned && follow_nvars < FOLLOW_VARS_MAX) follow_vars[follow_nvars++] = (char *)warned;
}

/* envp has the variable of the "K=V" string kv. */
static bool env_has(char *const *envp, const char *kv)
{
    size_t kl = (size_t)(strchr(kv, '=') - kv) + 1;
    for (size_t i = 0; envp && envp[i]; i++)
        if (strncmp(envp[i], kv, kl) == 0) return true;
    return false;
}

/* An LD_PRELOAD value naming us. */
static bool lists_self(const char *val)
{
    for (const char *p = val; *p;) {
        size_t n = strcspn(p, ": ");
        if (n && is_self(p, n)) return true;
        p += n;
        if (*p) p++;
    }
    return false;
}

/* Appends name (at most 60 bytes: mw_env_keep_follow) to the MEMWATCH_ADDED string in mark
 * (FOLLOW_MARK_CAP bytes: room for all of them). */
#define FOLLOW_MARK_CAP MW_EXEC_ENV_MARK
_Static_assert(MW_EXEC_ENV_MARK == 32u + FOLLOW_VARS_MAX * 64u, "room for every name added");
static void mark_add(char *mark, const char *name, size_t nl)
{
    size_t l = strlen(mark);
    if (mark[l - 1] != '=') mark[l++] = ',';
    memcpy(mark + l, name, nl);
    mark[l + nl] = 0;
}

/* envp, or (when it lacks them) a copy in out[] (n + 3 + FOLLOW_VARS_MAX slots) with our
 * LD_PRELOAD entry, the missing MEMWATCH_* variables and the MEMWATCH_ADDED list of them
 * added; a new LD_PRELOAD string is built in buf (strlen of envp's LD_PRELOAD + sizeof
 * follow_self + 16 bytes), the list in mark. */
static char *const *follow_env(char *const *envp, char **out, char *buf, char *mark)
{
    if (!follow_self[0] || !mw_alloc_tracing) return envp;
    bool need = false, seen = false;
    for (size_t i = 0; envp && envp[i]; i++)
        if (strncmp(envp[i], "LD_PRELOAD=", 11) == 0) {
            seen = true;
            need |= !lists_self(envp[i] + 11);
        }
    need |= !seen;
    for (unsigned v = 0; v < follow_nvars && !need; v++) need = !env_has(envp, follow_vars[v]);
    if (!need) return envp;
    size_t k = 0;
    bool added = false;
    strcpy(mark, "MEMWATCH_ADDED=");
    for (size_t i = 0; envp && envp[i]; i++) {
        if (strncmp(envp[i], "MEMWATCH_ADDED=", 15) == 0) continue; /* ours is made below */
        if (strncmp(envp[i], "LD_PRELOAD=", 11) == 0 && !added) {
            added = true;
            if (!lists_self(envp[i] + 11)) {
                const char *rest = envp[i] + 11;
                strcpy(buf, "LD_PRELOAD=");
                strcat(buf, follow_self);
                if (*rest) {
                    strcat(buf, ":");
                    strcat(buf, rest);
                }
                /* the variable was there (even empty): the new program strips only our entry */
                mark_add(mark, "LD_PRELOAD+", 11);
                out[k++] = buf;
                continue;
            }
        }
        out[k++] = envp[i];
    }
    if (!added) {
        strcpy(buf, "LD_PRELOAD=");
        strcat(buf, follow_self);
        mark_add(mark, "LD_PRELOAD", 10);
        out[k++] = buf;
    }
    for (unsigned v = 0; v < follow_nvars; v++)
        if (!env_has(envp, follow_vars[v])) {
            out[k++] = follow_vars[v];
            mark_add(mark, follow_vars[v], (size_t)(strchr(follow_vars[v], '=') - follow_vars[v]));
        }
    out[k++] = mark;
    out[k] = NULL;
    return out;
}

/* Takes variable name out of environ (the array is compacted in place). */
static void env_remove(const char *name, size_t nl)
{
    char **w = environ;
    for (char **r = environ; r && *r; r++)
        if (!(strncmp(*r, name, nl) == 0 && (*r)[nl] == '=')) *w++ = *r;
    if (w) *w = NULL;
}

void mw_env_hide_added(void)
{
    const char *m = NULL;
    for (char **e = environ; e && *e && !m; e++)
        if (strncmp(*e, "MEMWATCH_ADDED=", 15) == 0) m = *e + 15;
    if (!m) return;
    char list[FOLLOW_MARK_CAP];
    size_t ml = strnlen(m, sizeof list - 1);
    memcpy(list, m, ml);
    list[ml] = 0;
    env_remove("MEMWATCH_ADDED", 14);
    for (char *p = list; *p;) {
        size_t n = strcspn(p, ",");
        if (n == 11 && memcmp(p, "LD_PRELOAD+", 11) == 0) {
            /* our entry went before the program's own: those stay */
            for (char **e = environ; e && *e; e++) {
                if (strncmp(*e, "LD_PRELOAD=", 11) != 0) continue;
                char *v = *e + 11;
                char tmp[strlen(v) + 1];
                strip_list(v, tmp);
                memcpy(v, tmp, strlen(tmp) + 1);
                break;
            }
        } else if ((n == 10 && memcmp(p, "LD_PRELOAD", 10) == 0) || (n > 9 && memcmp(p, "MEMWATCH_", 9) == 0)) {
            env_remove(p, n); /* only what the shim adds: never another variable of the program's */
        }
        p += n;
        if (*p) p++;
    }
}

static size_t env_count(char *const *envp)
{
    size_t n = 0;
    while (envp && envp[n]) n++;
    return n;
}

static size_t preload_len(char *const *envp)
{
    for (size_t i = 0; envp && envp[i]; i++)
        if (strncmp(envp[i], "LD_PRELOAD=", 11) == 0) return strlen(envp[i]) + 1;
    return 1;
}

/* Fills out[] (n+1 slots) with envp where LD_PRELOAD lacks our entry (string built in buf). */
static char *const *filter_env(char *const *envp, char **out, char *buf)
{
    size_t i = 0;
    for (; envp && envp[i]; i++) {
        if (strncmp(envp[i], "LD_PRELOAD=", 11) == 0) {
            memcpy(buf, "LD_PRELOAD=", 11);
            strip_list(envp[i] + 11, buf + 11);
            out[i] = buf;
        } else {
            out[i] = envp[i];
        }
    }
    out[i] = NULL;
    return out;
}

/* ---- what process.c's WITH_ENV calls -------------------------------------------------------- */
size_t mw_exec_env_slots(char *const *envp) { return env_count(envp) + 3 + FOLLOW_VARS_MAX; }

size_t mw_exec_env_buf(char *const *envp) { return preload_len(envp) + sizeof follow_self + 16; }

/* After a chroot() from which the shim's file cannot be reached, a program exec'd there would
 * get ld.so's "cannot be preloaded" line on its stderr: our entry is taken out of what such
 * a program receives, and out of environ for what libc starts itself (system(), popen()). */
static bool shim_unreachable;

void mw_env_after_chroot(void)
{
    const char *self = follow_self[0] ? follow_self : mw_self_path;
    if (!self || self[0] != '/' || access(self, R_OK) == 0) return;
    shim_unreachable = true;
    mw_env_strip_self();
}

void mw_env_drop_self(void)
{
    shim_unreachable = true;
    mw_env_strip_self();
}

/* A program exec'd as the user the process became may not pass through the output
 * directory to the one made for that user (writer.c): that directory's descriptor stays open
 * across the exec, named by MEMWATCH_DIR_FD, which is passed on as an added variable (the new
 * program's shim takes it out of its environment and the descriptor out of its numbers). */
static char dirfd_var[48];

int mw_exec_dir_fd_before(void)
{
    int fd = mw_writer_user_dir_fd();
    if (fd < 0 || !mw_cfg.follow || shim_unreachable) return -1;
    memcpy(dirfd_var, "MEMWATCH_DIR_FD=", 16);
    dirfd_var[16 + mw_u64_to_dec(dirfd_var + 16, (uint64_t)fd)] = 0;
    unsigned v = 0;
    while (v < follow_nvars && follow_vars[v] != dirfd_var) v++;
    if (v == follow_nvars) {
        if (follow_nvars == FOLLOW_VARS_MAX) return -1;
        follow_vars[follow_nvars++] = dirfd_var;
    }
    return fcntl(fd, F_SETFD, 0) == 0 ? fd : -1;
}

void mw_exec_dir_fd_after(int fd)
{
    if (fd >= 0) fcntl(fd, F_SETFD, FD_CLOEXEC);
}

/* ---- what the program passes to an exec, checked before it is read ------------------------- *
 * A path or environment the kernel cannot read makes exec fail with EFAULT; the shim reads
 * them first (the EXEC record's path, the environment it passes on), and a bad pointer
 * killed the program with SIGSEGV instead (execve with envp (char **)16, 2026-11-23). So each
 * page they lie in is read once with process_vm_readv on ourselves, which fails cleanly;
 * where that system call is refused (EPERM), and once the program has installed a seccomp
 * filter (which may kill it for the call: hooks_seccomp.c), they are read as before. */
typedef struct { uintptr_t pg[8]; unsigned n; } pages_seen;

static bool page_readable(pages_seen *ps, uintptr_t pg)
{
    if (atomic_load_explicit(&mw_sandboxed, memory_order_relaxed)) return true;
    for (unsigned i = 0; i < ps->n && i < 8; i++)
        if (ps->pg[i] == pg) return true;
    char b;
    struct iovec l = {&b, 1}, r = {(void *)pg, 1};
    int e = errno;
    ssize_t got = process_vm_readv(getpid(), &l, 1, &r, 1, 0);
    bool bad = got != 1 && errno == EFAULT;
    errno = e;
    if (bad) return false;
    ps->pg[ps->n++ % 8] = pg;
    return true;
}

static bool str_readable(pages_seen *ps, const char *s)
{
    for (uintptr_t a = (uintptr_t)s;;) {
        uintptr_t pg = a & ~(uintptr_t)4095;
        if (!page_readable(ps, pg)) return false;
        if (memchr((const void *)a, 0, pg + 4096 - a)) return true;
        a = pg + 4096;
    }
}

bool mw_exec_str_readable(const char *s)
{
    pages_seen ps = {{0}, 0};
    return s && str_readable(&ps, s);
}

bool mw_exec_env_readable(char *const *envp)
{
    if (!envp) return true; /* an empty environment (Linux) */
    pages_seen ps = {{0}, 0};
    for (char *const *e = envp;; e++) {
        uintptr_t a = (uintptr_t)e, first = a & ~(uintptr_t)4095, last = (a + sizeof *e - 1) & ~(uintptr_t)4095;
        if (!page_readable(&ps, first) || (last != first && !page_readable(&ps, last))) return false;
        if (!*e) return true;
        if (!str_readable(&ps, *e)) return false;
    }
}

/* LD_TRACE_LOADED_OBJECTS set, not empty: the loader only lists the libraries it would load
 * (ldd runs the dynamic loader so) and runs nothing; a preload is listed with them. */
static bool lists_libraries(char *const *envp)
{
    for (size_t i = 0; envp && envp[i]; i++)
        if (strncmp(envp[i], "LD_TRACE_LOADED_OBJECTS=", 24) == 0 && envp[i][24]) return true;
    return false;
}

/* Our entry names a file the new program's loader can open: with this process's effective
 * ids as they are now (a server that became another user may not reach a build tree in
 * root's 0700 home) and still there (a tree rebuilt or removed meanwhile). Else the loader
 * printed "cannot be preloaded (cannot open shared object file): ignored." into the new
 * program's stderr (before 02:01 UTC on 2026-11-24). One faccessat(2) per exec. */
static bool self_openable(void)
{
    const char *self = follow_self[0] ? follow_self : mw_self_path;
    return !self || self[0] != '/' || faccessat(AT_FDCWD, self, R_OK, AT_EACCESS) == 0;
}

bool mw_exec_passes_shim(char *const *envp, bool foreign)
{
    /* ldd: the shim and the libraries it needs were in its list (before 00:58 UTC on
     * 2026-11-24), and nothing it runs would write a trace. A 32-bit program: its loader's
     * "cannot be preloaded (wrong ELF class: ELFCLASS64)" line was on its stderr (before
     * 01:59 UTC on 2026-11-24); what it starts in turn is not traced either. */
    if (!mw_cfg.follow || shim_unreachable || foreign || lists_libraries(envp)) return false;
    int e = errno;
    bool ok = self_openable();
    errno = e;
    return ok;
}

char *const *mw_exec_env(char *const *envp, char **out, char *buf, char *mark, bool pass)
{
    return pass ? follow_env(envp, out, buf, mark) : filter_env(envp, out, buf);
}

/* The kernel bounds a new program's arguments and environment together (a quarter of the
 * stack limit, 2 MiB by default): a program that fills it to the byte, with an environment
 * of its own making, got E2BIG under the shim for the few hundred bytes of variables it adds
 * (the program started natively). Its exec is tried again with the environment as given, so
 * it starts, untraced (2026-11-23, test shim_proc/an_exec_at_the_kernels_argument_limit_runs).
 *
 * fits_natively: whether path with argv and envp fits that bound (fs/exec.c,
 * bprm_stack_limits): the strings and the file name, and a pointer for each string, within
 * a quarter of the stack limit (at most 6 MiB, at least 128 KiB). It only decides whether a
 * line is said: the exec is tried again either way. */
static bool fits_natively(char *const *argv, char *const *envp, const char *path)
{
    struct rlimit rl;
    uint64_t lim = getrlimit(RLIMIT_STACK, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY ? rl.rlim_cur / 4 : UINT64_MAX;
    if (lim > (6u << 20)) lim = 6u << 20;
    if (lim < (128u << 10)) lim = 128u << 10;
    uint64_t n = (path ? strnlen(path, 1u << 16) : 0) + 1, argc = 0, envc = 0;
    for (; argv && argv[argc] && n < lim; argc++) n += strnlen(argv[argc], 1u << 20) + 1;
    for (; envp && envp[envc] && n < lim; envc++) n += strnlen(envp[envc], 1u << 20) + 1;
    n += ((argc ? argc : 1) + envc) * sizeof(void *);
    return n <= lim;
}

bool mw_exec_env_retry(char *const *envp, char *const *env, char *const *argv, const char *path)
{
    if (env == envp || !mw_cfg.follow || shim_unreachable) return false; /* nothing was added */
    if (fits_natively(argv, envp, path))
        mw_diag("a program's arguments and environment are past the kernel's limit (E2BIG) with "
                "memwatch's variables added: it is started without them (untraced)");
    errno = E2BIG;
    return true;
}
