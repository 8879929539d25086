/*
 * watch_anon.c — makes a private file-backed page range (a program's .data/.bss pages, a
 * MAP_PRIVATE file mapping) anonymous, so userfaultfd can write-protect it.
 *
 * userfaultfd write-protection works on anonymous, shmem and hugetlb memory only; a global
 * variable lives in a private mapping of the executable. Its pages are replaced by anonymous
 * copies with the same bytes and protection: while copying, the range is read-only and a
 * thread writing to it waits in the SIGSEGV handler (watch_mprotect.c) until the copy is in
 * place, then its write goes to the copy. Shared mappings are left alone (the caller falls
 * back to mprotect watching).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "watch_core.h"

_Atomic uintptr_t mw_anon_lo, mw_anon_hi;

/* Finds the mapping containing addr in /proc/self/maps: its end, protection and whether it
 * is private and file-backed. */
static bool find_mapping(uintptr_t addr, uintptr_t *end, int *prot, bool *priv_file)
{
    static char buf[1 << 16];
    /* the thread's view: /proc/self/maps is empty after the main thread's pthread_exit() */
    int n = mw_w_read_file("/proc/thread-self/maps", buf, sizeof buf);
    if (n <= 0) n = mw_w_read_file("/proc/self/maps", buf, sizeof buf);
    if (n <= 0) return false;
    for (char *line = buf; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = 0;
        unsigned long lo, hi, off;
        char perms[8] = "", path[8] = "";
        unsigned dmaj, dmin;
        unsigned long ino;
        int k = sscanf(line, "%lx-%lx %7s %lx %x:%x %lu %7s", &lo, &hi, perms, &off, &dmaj, &dmin,
                       &ino, path);
        if (k >= 7 && addr >= lo && addr < hi) {
            *end = hi;
            *prot = (perms[0] == 'r' ? PROT_READ : 0) | (perms[1] == 'w' ? PROT_WRITE : 0) |
                    (perms[2] == 'x' ? PROT_EXEC : 0);
            *priv_file = perms[3] == 'p' && ino != 0;
            return true;
        }
        line = nl ? nl + 1 : NULL;
    }
    return false;
}

int mw_watch_make_anon(uintptr_t lo, uintptr_t hi)
{
    for (uintptr_t p = lo; p < hi;) {
        uintptr_t end;
        int prot;
        bool priv_file;
        if (!find_mapping(p, &end, &prot, &priv_file)) return -EFAULT;
        if (end > hi) end = hi;
        if (!(prot & PROT_WRITE)) return -EACCES;
        if (!priv_file) { p = end; continue; }
        if (!mw_mprot_init()) return -ENOSYS;
        size_t len = end - p;
        void *tmp = (void *)syscall(SYS_mmap, NULL, len, PROT_READ | PROT_WRITE,
                                    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (tmp == MAP_FAILED) return -errno;
        atomic_store(&mw_anon_lo, p);
        atomic_store(&mw_anon_hi, end);
        int r = 0;
        if (syscall(SYS_mprotect, p, len, prot & ~PROT_WRITE) < 0) {
            r = -errno;
        } else {
            memcpy(tmp, (const void *)p, len);
            if (syscall(SYS_mremap, tmp, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, p) == -1) {
                r = -errno;
                syscall(SYS_mprotect, p, len, prot);
            } else {
                tmp = NULL;
                if (prot != (PROT_READ | PROT_WRITE)) syscall(SYS_mprotect, p, len, prot);
            }
        }
        atomic_store(&mw_anon_hi, 0);
        atomic_store(&mw_anon_lo, 0);
        if (tmp) syscall(SYS_munmap, tmp, len);
        if (r < 0) return r;
        p = end;
    }
    return 0;
}
