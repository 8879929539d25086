/*
 * test_format_tracelock.c — the lock a running process holds on its trace (formats/
 * mw_tracelock.c): seen through another descriptor of the file, kept when the holder's
 * descriptor moves to another number (dup, close of the old one: what the shim's descriptor
 * protection does), kept while a forked child still has the file open, gone once every
 * descriptor of the holder's open file is closed; asked by path only of regular files (a
 * FIFO is neither opened nor waited on). And the analyzer's use of it: a trace without an END
 * record is "still running" only while the lock is held (mw_proc.still_running).
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ingest.h"
#include "model.h"
#include "mw_format.h"
#include "mw_tracefile.h"
#include "mw_tracelock.h"

static char dir[256], file[300];

static void setup(void)
{
    snprintf(dir, sizeof dir, "%s/mwlockXXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(file, sizeof file, "%s/t.trace.zst", dir);
}

static void teardown(void)
{
    char p[400];
    snprintf(p, sizeof p, "%s/fifo", dir);
    unlink(p);
    unlink(file);
    rmdir(dir);
}

TestSuite(tracelock, .init = setup, .fini = teardown);

static bool held_via_other_fd(void)
{
    int fd = open(file, O_RDONLY);
    cr_assert_geq(fd, 0);
    bool h = mw_tracelock_held(fd);
    close(fd);
    return h;
}

Test(tracelock, held_while_open_and_moved_gone_when_closed)
{
    int fd = open(file, O_WRONLY | O_CREAT | O_EXCL, 0600);
    cr_assert_geq(fd, 0);
    cr_assert_not(held_via_other_fd(), "no lock yet");
    cr_assert_not(mw_tracelock_held_path(file));
    cr_assert(mw_tracelock_hold(fd));
    cr_assert(held_via_other_fd());
    cr_assert(mw_tracelock_held_path(file));
    /* moved to another number, as the shim's hooks move a protected descriptor */
    int moved = fcntl(fd, F_DUPFD_CLOEXEC, 100);
    cr_assert_geq(moved, 100);
    close(fd);
    cr_assert(held_via_other_fd(), "closing the old number dropped the lock");
    /* another descriptor of the same file opened and closed by the same process (what would
     * drop a per-process fcntl lock) */
    int other = open(file, O_RDONLY);
    close(other);
    cr_assert(held_via_other_fd(), "closing another descriptor of the file dropped the lock");
    close(moved);
    cr_assert_not(held_via_other_fd(), "the lock outlived its descriptor");
    cr_assert_not(mw_tracelock_held_path(file));
}

Test(tracelock, a_forked_child_keeps_it_until_it_closes_its_copy)
{
    int fd = open(file, O_WRONLY | O_CREAT | O_EXCL, 0600);
    cr_assert_geq(fd, 0);
    cr_assert(mw_tracelock_hold(fd));
    int go[2];
    cr_assert_eq(pipe(go), 0);
    pid_t c = fork();
    cr_assert_geq(c, 0);
    if (c == 0) {
        char b;
        close(go[1]);
        (void)!read(go[0], &b, 1); /* until the parent has looked */
        _exit(0);
    }
    close(go[0]);
    close(fd);
    cr_expect(held_via_other_fd(), "the child's copy holds it");
    close(go[1]);
    int st;
    cr_assert_eq(waitpid(c, &st, 0), c);
    cr_assert_not(held_via_other_fd(), "the child has ended");
}

Test(tracelock, only_regular_files_are_asked_by_path)
{
    char fifo[400];
    snprintf(fifo, sizeof fifo, "%s/fifo", dir);
    cr_assert_eq(mkfifo(fifo, 0600), 0);
    /* a writer waiting in open() for a reader: asking must not let it through */
    pid_t c = fork();
    cr_assert_geq(c, 0);
    if (c == 0) {
        alarm(5);
        int w = open(fifo, O_WRONLY);
        _exit(w >= 0 ? 3 : 4);
    }
    cr_assert_not(mw_tracelock_held_path(fifo));
    usleep(100000);
    int st;
    cr_expect_eq(waitpid(c, &st, WNOHANG), 0, "the FIFO's writer got through its open()");
    kill(c, SIGKILL);
    waitpid(c, &st, 0);
    cr_assert_not(mw_tracelock_held_path("/no/such/trace.zst"));
    cr_assert_not(mw_tracelock_held_path(dir), "a directory");
}

/* A trace cut short: no END record. */
static void write_cut_trace(void)
{
    mw_tracebuf b;
    mw_tb_init(&b);
    MW_TB_ADD(&b, mw_enc_header, 42, 1, 4096, 0, 0, MW_HF_ALLOC_TRACING | MW_HF_NO_ADDRESSES, "/p", 2, "p", 1);
    mw_tb_switch(&b, 0);
    MW_TB_ADD(&b, mw_enc_thread_start, 0, 42, 0, "main", 4);
    mw_tb_alloc(&b, MW_AK_MALLOC, 100, 0, 0);
    cr_assert_eq(mw_tb_write_file(&b, NULL, file), 0);
    mw_tb_release(&b);
}

static bool ingested_still_running(void)
{
    mw_proc *p = mw_proc_new(file);
    char err[256];
    cr_assert_eq(mw_ingest_file(p, file, err, sizeof err), 0, "%s", err);
    cr_assert(p->truncated);
    bool r = p->still_running;
    mw_proc_free(p);
    return r;
}

Test(tracelock, the_analyzer_says_still_running_only_while_it_is_held)
{
    write_cut_trace();
    cr_assert_not(ingested_still_running(), "no lock: killed");
    int fd = open(file, O_WRONLY);
    cr_assert_geq(fd, 0);
    cr_assert(mw_tracelock_hold(fd));
    cr_assert(ingested_still_running());
    close(fd);
    cr_assert_not(ingested_still_running());
}
