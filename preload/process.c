/*
 * process.c — following the process tree: fork, vfork, the exec family, posix_spawn (the
 * environment they pass on, MEMWATCH_FOLLOW, is made in process_env.c).
 *
 * fork: the parent writes a FORK record; the child restarts tracing into its own file (the
 * pthread_atfork child handler in init.c). vfork: the child shares the parent's memory, so it
 * must never touch rings, the writer or the heap bookkeeping: our vfork (assembly, it cannot
 * have a stack frame) sets the recursion guard in the child — every hook then passes straight
 * through — and clears it when the parent resumes, which then writes a FORK record and a SPAWN
 * naming the program the child exec'd (the child leaves its path in the waiting parent
 * thread's state); posix_spawn writes the same two. exec: an EXEC record is written and the
 * trace flushed before the real call; if the exec fails, the process simply goes on tracing.
 * The new program starts its own trace through the inherited LD_PRELOAD (a SPAWN or an EXEC
 * without a trace after it: a program the loader does not bring the shim into).
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/single_threaded.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "mw_core.h"
#include "mw_execfile.h"
#include "mw_path.h"

extern char **environ;

static pid_t (*real_fork)(void);
static pid_t (*real_Fork)(void); /* glibc 2.34+: fork without the atfork handlers and locks */
static int (*real_execve)(const char *, char *const[], char *const[]);
static int (*real_execvpe)(const char *, char *const[], char *const[]);
static int (*real_fexecve)(int, char *const[], char *const[]);
static int (*real_execveat)(int, const char *, char *const[], char *const[], int); /* glibc 2.34+ */
static int (*real_spawn)(pid_t *, const char *, const posix_spawn_file_actions_t *,
                         const posix_spawnattr_t *, char *const[], char *const[]);
static int (*real_spawnp)(pid_t *, const char *, const posix_spawn_file_actions_t *,
                          const posix_spawnattr_t *, char *const[], char *const[]);

void mw_process_init(void)
{
    real_fork = (pid_t(*)(void))dlsym(RTLD_NEXT, "fork");
    real_Fork = (pid_t(*)(void))dlsym(RTLD_NEXT, "_Fork");
    real_execve = dlsym(RTLD_NEXT, "execve");
    real_execvpe = dlsym(RTLD_NEXT, "execvpe");
    real_fexecve = dlsym(RTLD_NEXT, "fexecve");
    real_execveat = dlsym(RTLD_NEXT, "execveat");
    real_spawn = dlsym(RTLD_NEXT, "posix_spawn");
    real_spawnp = dlsym(RTLD_NEXT, "posix_spawnp");
}

static void resolve(void)
{
    if (!real_execve) {
        int g = mw_guard_enter();
        mw_process_init();
        mw_guard_leave(g);
    }
}

/* A program the shim cannot be loaded into (formats/mw_execfile.c: a 32-bit x86 one, or one
 * for another machine, itself or as a script's interpreter): its loader would say so on the
 * program's stderr for our LD_PRELOAD entry ("wrong ELF class: ELFCLASS64"), so it gets none
 * (mw_exec_env). The file is looked at only when the shim would pass itself on. dirfd, path
 * and flags as execveat's; search: path is a name execvp() looks up in PATH. System calls
 * only: also in a vfork child. */
static bool foreign_target(int dirfd, const char *path, int flags, bool search)
{
    if (!mw_cfg.follow || !path || !mw_exec_str_readable(path)) return false;
    char found[4096];
    if (search && !(path = mw_path_search(path, found, sizeof found))) return false;
    return mw_exec_kind(dirfd, path, flags, NULL, 0) == MW_EXEC_FOREIGN;
}

/* The environment an exec or spawn passes on (process_env.c), in arrays on this stack; the
 * program's own, untouched, when it cannot be read (the call then fails with EFAULT, as
 * natively). target is foreign_target's arguments for the program it starts. body is the
 * call with env_; when too_big (E2BIG) and the shim had added to the environment, it is made
 * again with the program's own (mw_exec_env_retry). */
#define WITH_ENV(envp, argv, path, target, body, too_big)                                     \
    do {                                                                                      \
        bool ok_ = mw_exec_env_readable(envp);                                                \
        bool pass_ = ok_ && mw_exec_passes_shim((envp), foreign_target target);               \
        int dfd_ = pass_ ? mw_exec_dir_fd_before() : -1;                                      \
        char *arr_[ok_ ? mw_exec_env_slots(envp) : 1];                                        \
        char buf_[ok_ ? mw_exec_env_buf(envp) : 1], mark_[MW_EXEC_ENV_MARK];                  \
        char *const *env_ = ok_ ? mw_exec_env((envp), arr_, buf_, mark_, pass_) : (envp);    \
        body;                                                                                 \
        if ((too_big) && pass_ && mw_exec_env_retry((envp), env_, (argv), (path))) { /* E2BIG */ \
            env_ = (envp);                                                                    \
            body;                                                                             \
        }                                                                                     \
        mw_exec_dir_fd_after(dfd_); /* the exec failed, or it was a spawn */                 \
    } while (0)
#define EXEC_TOO_BIG (rc == -1 && errno == E2BIG)
#define SPAWN_TOO_BIG (rc == E2BIG)

/* ---- fork / vfork -------------------------------------------------------------------------- */
/* The shim's own child handlers (mw_atfork), for the fork below that runs none of glibc's. */
#define OWN_CHILD_MAX 8u
static void (*own_child[OWN_CHILD_MAX])(void);
static _Atomic unsigned n_own_child;

int mw_atfork(void (*prepare)(void), void (*parent)(void), void (*child)(void))
{
    if (child) {
        unsigned i = atomic_load(&n_own_child);
        if (i < OWN_CHILD_MAX) {
            own_child[i] = child;
            atomic_store(&n_own_child, i + 1);
        }
    }
    return pthread_atfork(prepare, parent, child);
}

/* A fork from a signal handler that interrupted this thread inside one of the shim's hooks,
 * in a process with no other program thread: natively single-threaded, so glibc's fork would
 * take none of malloc's locks. Under the shim the writer thread makes it multithreaded, and
 * glibc's fork waits for the arena lock that the interrupted malloc or free holds, for ever
 * (a 20 ms SIGALRM handler forking while main frees 2-6 KB blocks hung in 3 runs of 3 at
 * 06:35 UTC on 2026-11-23; a crash handler that forks after a fault inside free() would hang
 * the same way). So this fork is glibc's _Fork, which takes no lock and runs no atfork
 * handler: the shim runs its own child handlers, and tells glibc the child is single-threaded
 * (it is), as its fork would have. The program's own atfork handlers do not run for it; such
 * a child may only call async-signal-safe functions anyway (POSIX.1-2024 names _Fork, not
 * fork, for signal handlers). The parent counts the fork as a lost event (no FORK record). */
static bool fork_in_hook(void)
{
    return mw_in_interrupted_hook() && atomic_load(&mw_state) == MW_ST_ON;
}

static pid_t fork_bypassing_glibc(void)
{
    pid_t p = real_Fork();
    if (p == 0) {
        __libc_single_threaded = 1;
        unsigned n = atomic_load(&n_own_child);
        for (unsigned i = 0; i < n && i < OWN_CHILD_MAX; i++) own_child[i]();
    } else if (p > 0) {
        mw_count_lost(1, 0);
    }
    return p;
}

MW_EXPORT pid_t fork(void)
{
    if (!real_fork) resolve();
    if (!mw_tls_guard) mw_atfork_pending(); /* a fork before the shim's constructor (init.c) */
    if (MW_UNLIKELY(fork_in_hook()) && real_Fork && mw_alone_in_process()) return fork_bypassing_glibc();
    pid_t p = real_fork();
    MW_YIELD_RETRY("fork", p < 0 && errno == EAGAIN, p = real_fork()); /* yield.c: a task limit */
    if (p == 0 && atomic_load(&mw_fork_restart_pending) == MW_RESTART_IN_FORK) {
        int e = errno;
        mw_fork_restart(); /* after every atfork child handler has run (init.c) */
        errno = e;
    }
    if (p > 0 && !mw_tls_guard && atomic_load(&mw_state) == MW_ST_ON) {
        int e = errno;
        mw_thread *t = mw_self();
        if (t) MW_EMIT(t, 24, mw_enc_fork, (uint64_t)p);
        errno = e;
    } else if (p > 0 && fork_in_hook()) {
        mw_count_lost(1, 0); /* a signal handler's fork inside a hook: no FORK record (init.c) */
    }
    return p;
}

__attribute__((visibility("hidden"), used)) long mw_vfork_fail(long rax)
{
    errno = (int)-rax;
    return -1;
}

/* The parent side of vfork, once the child has exec'd or ended (the parent thread was
 * suspended until then): a FORK record, and a SPAWN naming the program the child exec'd
 * (note_vfork_exec), which may write no trace of its own (a static one). Returns pid. */
__attribute__((visibility("hidden"), used)) long mw_vfork_parent(long pid)
{
    if (MW_UNLIKELY(mw_vfork_child_ran_exit)) mw_after_vfork_child_exit();
    mw_thread *t = mw_tls_self;
    if (!t) return pid;
    if (atomic_load(&mw_state) == MW_ST_ON && mw_own()) {
        int e = errno;
        MW_EMIT(t, 24, mw_enc_fork, (uint64_t)pid);
        size_t n = strnlen(t->vfork_exec, sizeof t->vfork_exec);
        if (n) MW_EMIT(t, 32 + n, mw_enc_spawn, (uint64_t)pid, t->vfork_exec, n);
        errno = e;
    }
    t->vfork_exec[0] = '\0';
    return pid;
}

/* vfork: pop the return address into a register (the child will reuse this stack), do the
 * system call, push it back; child: guard = 1<<20 (hooks pass through), parent: guard = 0,
 * then its records (mw_vfork_parent). */
__asm__(".text\n"
        ".globl vfork\n"
        ".type vfork,@function\n"
        "vfork:\n"
        "  pop %rdi\n"
        "  mov $58, %eax\n"
        "  syscall\n"
        "  push %rdi\n"
        "  cmp $-4095, %rax\n"
        "  jae 3f\n"
        "  mov mw_tls_guard@gottpoff(%rip), %rdx\n"
        "  test %rax, %rax\n"
        "  jnz 2f\n"
        "  movl $1048576, %fs:(%rdx)\n" /* MW_GUARD_VFORK */
        "  ret\n"
        "2:\n"
        "  movl $0, %fs:(%rdx)\n"
        "  mov %rax, %rdi\n"
        "  jmp mw_vfork_parent\n" /* returns the pid to vfork's caller */
        "3:\n"
        "  mov %rax, %rdi\n"
        "  jmp mw_vfork_fail\n"
        ".size vfork, .-vfork\n");

/* ---- chroot ----------------------------------------------------------------------------------- */
/* What the process execs after it may not reach the shim's file any more (process_env.c);
 * the output directory and /proc may be out of its new root's reach: both are kept open from
 * before (writer.c, procfs.c). For chroot() and syscall(SYS_chroot or SYS_pivot_root). */
void mw_root_change_before(void)
{
    if (!mw_tls_guard && mw_own()) {
        int e = errno, g = mw_guard_enter();
        mw_writer_before_chroot(); /* children made after it still reach the output directory */
        mw_proc_keep();            /* the exit scan, RSS samples and the rest still reach /proc */
        mw_guard_leave(g);
        errno = e;
    }
}

void mw_root_change_after(void)
{
    int e = errno;
    mw_env_after_chroot();
    errno = e;
}

MW_EXPORT int chroot(const char *path)
{
    static int (*real)(const char *);
    if (!real) real = (int (*)(const char *))mw_next_symbol("chroot");
    mw_root_change_before();
    int rc = real ? real(path) : (int)syscall(SYS_chroot, path);
    if (rc == 0) mw_root_change_after();
    return rc;
}

/* ---- exec ------------------------------------------------------------------------------------ */
/* The program execvp() or posix_spawnp() runs for a name without a slash (formats/mw_path.c),
 * or the name itself when no file in PATH has it: so the EXEC and SPAWN records name a file
 * the analyzer can look at ("env prog" or a posix_spawnp of a static program was not listed
 * as untraced before 2026-11-23, exectarget.c). System calls only: also in a vfork child. */
static const char *in_path(const char *file, char *buf, size_t cap)
{
    const char *found = mw_path_search(file, buf, cap);
    return found ? found : file;
}

/* A vfork child about to exec path: it may touch nothing of the shim's but the waiting
 * parent thread's vfork_exec, which the parent records once vfork returns there. */
static void note_vfork_exec(const char *path, bool search)
{
    mw_thread *t = mw_tls_self;
    if (!t || !path || !mw_exec_str_readable(path)) return;
    char found[sizeof t->vfork_exec];
    if (search) path = in_path(path, found, sizeof found);
    size_t n = strnlen(path, sizeof t->vfork_exec - 1);
    memcpy(t->vfork_exec, path, n);
    t->vfork_exec[n] = '\0';
}

/* The exec failed (it returned): a vfork child's may be followed by another try, or _exit. */
static void after_exec_failed(void)
{
    mw_thread *t = mw_tls_self;
    if (mw_tls_guard >= MW_GUARD_VFORK && t) t->vfork_exec[0] = '\0';
}

/* search: path is a name execvp() looks up in PATH */
static void before_exec(const char *path, bool search)
{
    if (mw_tls_guard >= MW_GUARD_VFORK) {
        note_vfork_exec(path, search);
        return;
    }
    if (mw_tls_guard || atomic_load(&mw_state) != MW_ST_ON) return;
    if (path && !mw_exec_str_readable(path)) return; /* the exec fails (EFAULT): tracing goes on */
    /* a child sharing this memory that vfork did not make (clone with CLONE_VM, as spawn
     * helpers do): the exec is the child's, not this process's (its EXEC and END had gone into
     * the parent's trace) */
    if (mw_raw_syscall6(SYS_getpid, 0, 0, 0, 0, 0, 0) != mw_pid) return;
    if (!mw_own()) { /* a child of a fork we did not see (_Fork, then exec) */
        mw_not_own();
        return;
    }
    int e = errno;
    mw_thread *t = mw_self();
    char found[4096];
    if (search && path) path = in_path(path, found, sizeof found);
    size_t n = path ? strnlen(path, MW_MAX_STR) : 0;
    if (t) MW_EMIT(t, 32 + n, mw_enc_exec, path ? path : "", n);
    mw_writer_sync_exec();
    errno = e;
}

MW_EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
    resolve();
    before_exec(path, false);
    int rc;
    WITH_ENV(envp, argv, path, (AT_FDCWD, path, 0, false), rc = real_execve(path, argv, env_), EXEC_TOO_BIG);
    after_exec_failed();
    return rc;
}

MW_EXPORT int execv(const char *path, char *const argv[]) { return execve(path, argv, environ); }

MW_EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
    resolve();
    before_exec(file, true);
    int rc;
    WITH_ENV(envp, argv, file, (AT_FDCWD, file, 0, true), rc = real_execvpe(file, argv, env_), EXEC_TOO_BIG);
    after_exec_failed();
    return rc;
}

MW_EXPORT int execvp(const char *file, char *const argv[]) { return execvpe(file, argv, environ); }

MW_EXPORT int fexecve(int fd, char *const argv[], char *const envp[])
{
    resolve();
    before_exec("(fexecve)", false);
    int rc;
    WITH_ENV(envp, argv, "/dev/fd/N", (fd, "", AT_EMPTY_PATH, false), rc = real_fexecve(fd, argv, env_), EXEC_TOO_BIG);
    after_exec_failed();
    return rc;
}

/* execveat(2) without glibc's wrapper (before 2.34), made inline: syscall() is the shim's own,
 * which comes back here for SYS_execveat (hooks_seccomp.c). */
static int raw_execveat(int dirfd, const char *path, char *const argv[], char *const envp[], int flags)
{
    long r = mw_raw_syscall6(SYS_execveat, dirfd, (long)path, (long)argv, (long)envp, flags, 0);
    if ((unsigned long)r > -4096ul) {
        errno = (int)-r;
        return -1;
    }
    return (int)r;
}

/* execveat: the path as given (relative to dirfd, or empty with AT_EMPTY_PATH). Until 08:35
 * UTC on 2026-11-23 it was not interposed: the process's trace was cut at the exec, without
 * its END and the records since the writer's last flush. */
MW_EXPORT int execveat(int dirfd, const char *path, char *const argv[], char *const envp[], int flags)
{
    resolve();
    const char *p = path;
    __asm__("" : "+r"(p)); /* glibc declares path nonnull; a program may pass NULL all the same */
    before_exec(p && mw_exec_str_readable(p) && !p[0] ? "(execveat)" : p, false);
    int rc;
    WITH_ENV(envp, argv, path, (dirfd, path, flags, false), rc = real_execveat ? real_execveat(dirfd, path, argv, env_, flags)
                                      : raw_execveat(dirfd, path, argv, env_, flags),
             EXEC_TOO_BIG);
    after_exec_failed();
    return rc;
}

/* execl*: gather the variadic arguments into an array on the stack. */
#define GATHER_ARGS(arg0, ap, argv_name, extra)                                    \
    size_t argc_ = 1;                                                              \
    va_start(ap, arg0);                                                            \
    while (va_arg(ap, const char *)) argc_++;                                      \
    va_end(ap);                                                                    \
    char *argv_name[argc_ + 1];                                                    \
    argv_name[0] = (char *)(arg0);                                                 \
    va_start(ap, arg0);                                                            \
    for (size_t i_ = 1; i_ <= argc_; i_++) argv_name[i_] = va_arg(ap, char *);     \
    extra;                                                                         \
    va_end(ap)

MW_EXPORT int execl(const char *path, const char *arg, ...)
{
    va_list ap;
    GATHER_ARGS(arg, ap, argv, (void)0);
    return execve(path, argv, environ);
}

MW_EXPORT int execlp(const char *file, const char *arg, ...)
{
    va_list ap;
    GATHER_ARGS(arg, ap, argv, (void)0);
    return execvpe(file, argv, environ);
}

MW_EXPORT int execle(const char *path, const char *arg, ...)
{
    va_list ap;
    char *const *envp;
    GATHER_ARGS(arg, ap, argv, envp = va_arg(ap, char *const *));
    return execve(path, argv, envp);
}

/* ---- posix_spawn: the environment (process_env.c), a FORK and a SPAWN record ---------------- */
static void record_spawn(pid_t pid, const char *path, bool search)
{
    if (mw_tls_guard || atomic_load(&mw_state) != MW_ST_ON) return;
    int e = errno;
    mw_thread *t = mw_self();
    if (t) {
        MW_EMIT(t, 24, mw_enc_fork, (uint64_t)pid);
        bool ok = path && mw_exec_str_readable(path);
        char found[4096];
        if (ok && search) path = in_path(path, found, sizeof found);
        size_t n = ok ? strnlen(path, MW_MAX_STR) : 0;
        if (n) MW_EMIT(t, 32 + n, mw_enc_spawn, (uint64_t)pid, path, n);
    }
    errno = e;
}

/* One try of posix_spawn (search: posix_spawnp), with the environment the shim passes on. */
static int spawn_once(bool search, pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
                      const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
    int rc;
    WITH_ENV(envp, argv, path, (AT_FDCWD, path, 0, search),
             rc = (search ? real_spawnp : real_spawn)(pid, path, fa, attr, argv, env_), SPAWN_TOO_BIG);
    return rc;
}

/* A spawn that failed for want of a task (EAGAIN) is made again once the shim gave way
 * (yield.c), as a fork is. */
static int spawn(bool search, pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
                 const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
    resolve();
    int rc = spawn_once(search, pid, path, fa, attr, argv, envp);
    MW_YIELD_RETRY(search ? "posix_spawnp" : "posix_spawn", rc == EAGAIN,
                   rc = spawn_once(search, pid, path, fa, attr, argv, envp));
    if (rc == 0 && pid) record_spawn(*pid, path, search);
    return rc;
}

MW_EXPORT int posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
                          const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
    return spawn(false, pid, path, fa, attr, argv, envp);
}

MW_EXPORT int posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa,
                           const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
    return spawn(true, pid, file, fa, attr, argv, envp);
}

/* ---- system() and popen() after a change of user -------------------------------------------- *
 * glibc starts their shell with the process's environment, by its own spawn that no hook sees:
 * after the process became another user (hooks_uid.c), the shell could not reach the
 * directory made for it (no MEMWATCH_DIR_FD, the descriptor closed on exec) and ran untraced
 * with a line; and a process whose settings got lines (config.c) has a MEMWATCH_WARNED to pass
 * on, without which the shell said them again. Only then, for the call, environ is the
 * environment an exec would get (WITH_ENV: the variables added and marked) and the descriptor
 * stays open across it. Otherwise they are glibc's own, untouched. */
static bool shell_env_differs(void) { return mw_writer_user_dir_fd() >= 0 || mw_config_warned_var(); }

static int system_once(int (*real)(const char *), const char *cmd)
{
    if (!cmd || mw_tls_guard || !shell_env_differs()) return real(cmd);
    int rc;
    WITH_ENV(environ, NULL, "/bin/sh", (AT_FDCWD, NULL, 0, false), { /* sh: this machine's */
        char **saved_ = environ;
        environ = (char **)env_;
        rc = real(cmd);
        environ = saved_;
    }, false);
    return rc;
}

/* system() and popen() whose shell could not be started for want of a task are made again
 * once the shim gave way (yield.c), as a fork is. glibc's system() then returns the status
 * of a shell that exited with 127 and leaves the spawn's EAGAIN in errno (a shell that ran
 * and exited with 127 leaves errno as it found it: cleared here first, so that a command is
 * never run twice); popen() returns NULL with ENOMEM (or EAGAIN). */
static bool system_spawn_failed(int rc) { return rc == 127 << 8 && errno == EAGAIN; }

MW_EXPORT int system(const char *cmd)
{
    static int (*real)(const char *);
    if (!real) real = (int (*)(const char *))mw_next_symbol("system");
    if (!real) {
        errno = ENOSYS;
        return -1;
    }
    int e = errno;
    errno = 0;
    int rc = system_once(real, cmd);
    MW_YIELD_RETRY("system", cmd && system_spawn_failed(rc), (errno = 0, rc = system_once(real, cmd)));
    if (errno == 0) errno = e;
    return rc;
}

static FILE *popen_once(FILE *(*real)(const char *, const char *), const char *cmd, const char *type)
{
    if (!cmd || mw_tls_guard || !shell_env_differs()) return real(cmd, type);
    FILE *f;
    WITH_ENV(environ, NULL, "/bin/sh", (AT_FDCWD, NULL, 0, false), { /* sh: this machine's */
        char **saved_ = environ;
        environ = (char **)env_;
        f = real(cmd, type);
        environ = saved_;
    }, false);
    return f;
}

MW_EXPORT FILE *popen(const char *cmd, const char *type)
{
    static FILE *(*real)(const char *, const char *);
    if (!real) real = (FILE * (*)(const char *, const char *)) mw_next_symbol("popen");
    if (!real) {
        errno = ENOSYS;
        return NULL;
    }
    FILE *f = popen_once(real, cmd, type);
    MW_YIELD_RETRY("popen", cmd && !f && (errno == ENOMEM || errno == EAGAIN), f = popen_once(real, cmd, type));
    return f;
}

/* ---- daemon() ------------------------------------------------------------------------------- *
 * glibc's daemon() forks and ends the parent with its own internal _exit, which no hook sees:
 * the parent's trace had no END and lost what the process did since the writer's last flush
 * (the report said "truncated", 2026-11-23). While tracing it is done here as glibc does it
 * (misc/daemon.c), through the shim's fork and _exit: fork; the parent ends with status 0; the
 * child starts a session, goes to "/" unless nochdir, and unless noclose puts /dev/null, when
 * it is the character device 1:3, on its standard descriptors (ENODEV when it is not). */
MW_EXPORT int daemon(int nochdir, int noclose)
{
    static int (*real)(int, int);
    if (!real) real = (int (*)(int, int))mw_next_symbol("daemon");
    if (mw_tls_guard || atomic_load(&mw_state) != MW_ST_ON || !mw_own()) {
        if (!real) {
            errno = ENOSYS;
            return -1;
        }
        return real(nochdir, noclose);
    }
    pid_t p = fork();
    if (p < 0) return -1;
    if (p > 0) _exit(0);
    if (setsid() == -1) return -1;
    if (!nochdir) (void)chdir("/");
    if (noclose) return 0;
    int fd = (int)mw_raw_syscall6(SYS_openat, AT_FDCWD, (long)"/dev/null", O_RDWR, 0, 0, 0);
    struct stat st;
    if (fd < 0) {
        errno = -fd;
        return -1;
    }
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    if (!S_ISCHR(st.st_mode) || st.st_rdev != makedev(1, 3)) {
        close(fd);
        errno = ENODEV;
        return -1;
    }
    (void)dup2(fd, STDIN_FILENO);
    (void)dup2(fd, STDOUT_FILENO);
    (void)dup2(fd, STDERR_FILENO);
    if (fd > 2) close(fd);
    return 0;
}
