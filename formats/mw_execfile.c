/*
 * mw_execfile.c — the machine an exec's program is built for (mw_execfile.h), linked into the
 * shim, the runner and the analyzer.
 */
#include "mw_execfile.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The ELF identity of the code this file is built into. */
#if defined(__x86_64__)
#define SELF_MACHINE EM_X86_64
#elif defined(__i386__)
#define SELF_MACHINE EM_386
#elif defined(__aarch64__)
#define SELF_MACHINE EM_AARCH64
#elif defined(__arm__)
#define SELF_MACHINE EM_ARM
#elif defined(__riscv)
#define SELF_MACHINE EM_RISCV
#elif defined(__powerpc64__)
#define SELF_MACHINE EM_PPC64
#elif defined(__s390x__)
#define SELF_MACHINE EM_S390
#endif
#define SELF_CLASS (sizeof(void *) == 8 ? ELFCLASS64 : ELFCLASS32)
#define SELF_DATA (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? ELFDATA2LSB : ELFDATA2MSB)

/* The kernel reads this much of a file to pick its binary format (BINPRM_BUF_SIZE), and
 * follows at most this many "#!" interpreters (exec_binprm: a sixth fails with ELOOP, seen on
 * this kernel with a chain of scripts). */
#define HEAD_BYTES 256u
#define MAX_DEPTH 5u

static void describe(unsigned cls, unsigned machine, char *desc, size_t dcap)
{
    if (!desc || !dcap) return;
    static const struct { unsigned m; const char *name; } names[] = {
        { EM_386, "x86" },        { EM_X86_64, "x86-64" }, { EM_AARCH64, "ARM" }, { EM_ARM, "ARM" },
        { EM_RISCV, "RISC-V" },   { EM_PPC64, "POWER" },   { EM_PPC, "PowerPC" }, { EM_S390, "s390" },
        { EM_MIPS, "MIPS" },      { EM_SPARCV9, "SPARC" },
    };
    unsigned bits = cls == ELFCLASS64 ? 64 : 32;
    if (cls == ELFCLASS32 && machine == EM_X86_64) {
        snprintf(desc, dcap, "an x32 program");
        return;
    }
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (names[i].m == machine) {
            snprintf(desc, dcap, "a %u-bit %s program", bits, names[i].name);
            return;
        }
    snprintf(desc, dcap, "a %u-bit program for ELF machine %u", bits, machine);
}

int mw_exec_head_kind(const unsigned char *h, size_t n, char *interp, size_t cap, char *desc, size_t dcap)
{
    if (desc && dcap) desc[0] = '\0';
    if (n >= 2 && h[0] == '#' && h[1] == '!') {
        size_t i = 2;
        while (i < n && (h[i] == ' ' || h[i] == '\t')) i++;
        size_t s = i;
        while (i < n && h[i] != ' ' && h[i] != '\t' && h[i] != '\n' && h[i] != '\0') i++;
        if (i == s || i - s >= cap) return MW_EXEC_UNKNOWN;
        memcpy(interp, h + s, i - s);
        interp[i - s] = '\0';
        return MW_EXEC_SCRIPT;
    }
    if (n < 20 || memcmp(h, ELFMAG, SELFMAG) != 0) return MW_EXEC_UNKNOWN;
    unsigned cls = h[EI_CLASS], data = h[EI_DATA];
    if ((cls != ELFCLASS32 && cls != ELFCLASS64) || (data != ELFDATA2LSB && data != ELFDATA2MSB))
        return MW_EXEC_UNKNOWN;
    /* e_machine: at offset 18 in both classes, in the file's byte order */
    unsigned machine = data == ELFDATA2LSB ? (unsigned)h[18] | (unsigned)h[19] << 8 : (unsigned)h[19] | (unsigned)h[18] << 8;
#ifdef SELF_MACHINE
    if (cls == SELF_CLASS && data == SELF_DATA && machine == SELF_MACHINE) return MW_EXEC_NATIVE;
    describe(cls, machine, desc, dcap);
    return MW_EXEC_FOREIGN;
#else
    (void)machine;
    return MW_EXEC_UNKNOWN; /* a machine this file does not know its own name for */
#endif
}

/* The first bytes of the regular file an exec would open; -1 when it cannot be read. */
static ssize_t read_head(int dirfd, const char *path, int flags, unsigned char *h, size_t cap)
{
    struct stat st;
    int at = flags & (AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW);
    if (fstatat(dirfd, path, &st, at) != 0 || !S_ISREG(st.st_mode)) return -1;
    if ((flags & AT_EMPTY_PATH) && !path[0]) return pread(dirfd, h, cap, 0); /* dirfd is the file */
    int fd = openat(dirfd, path,
                    O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | ((flags & AT_SYMLINK_NOFOLLOW) ? O_NOFOLLOW : 0));
    if (fd < 0) return -1;
    ssize_t got = -1;
    struct stat now;
    if (fstat(fd, &now) == 0 && S_ISREG(now.st_mode)) got = pread(fd, h, cap, 0);
    close(fd);
    return got;
}

int mw_exec_kind(int dirfd, const char *path, int flags, char *desc, size_t dcap)
{
    int e = errno, kind = MW_EXEC_UNKNOWN;
    unsigned char h[HEAD_BYTES];
    char interp[2][HEAD_BYTES];
    if (desc && dcap) desc[0] = '\0';
    unsigned depth = 0;
    for (; path && depth <= MAX_DEPTH; depth++) {
        ssize_t n = read_head(dirfd, path, flags, h, sizeof h);
        if (n <= 0) break;
        char *next = interp[depth % 2];
        kind = mw_exec_head_kind(h, (size_t)n, next, sizeof interp[0], desc, dcap);
        if (kind != MW_EXEC_SCRIPT) break;
        kind = MW_EXEC_UNKNOWN;
        dirfd = AT_FDCWD; /* the kernel opens an interpreter as a path of its own */
        flags = 0;
        path = next;
    }
    if (kind == MW_EXEC_FOREIGN && depth > 0 && desc && dcap) {
        char what[96];
        snprintf(what, sizeof what, "%s", desc);
        snprintf(desc, dcap, "a script run by %s, %s", path, what);
    }
    errno = e;
    return kind;
}
