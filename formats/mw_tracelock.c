/*
 * mw_tracelock.c — the running process's lock on its trace file (see mw_tracelock.h): taken
 * by the shim's writer, tested by the runner and the analyzer. Open file description locks
 * (Linux 3.15): unlike fcntl's per-process locks, closing another descriptor of the same file
 * does not drop them, and they are not lost when the descriptor moves to another number.
 */
#include "mw_tracelock.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

bool mw_tracelock_hold(int fd)
{
    struct flock l = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0, .l_pid = 0 };
    return fcntl(fd, F_OFD_SETLK, &l) == 0;
}

bool mw_tracelock_held(int fd)
{
    struct flock l = { .l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0, .l_pid = 0 };
    return fcntl(fd, F_OFD_GETLK, &l) == 0 && l.l_type != F_UNLCK;
}

bool mw_tracelock_held_path(const char *path)
{
    /* only a regular file is opened: opening the read end of a FIFO would let a writer
     * waiting in open() go on, and our close then send it SIGPIPE */
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) return false;
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) return false;
    bool held = mw_tracelock_held(fd);
    close(fd);
    return held;
}
