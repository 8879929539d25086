/*
 * exectarget.c — the programs a traced process started that could not be traced, and why.
 *
 * With MEMWATCH_FOLLOW (the default) every program a traced process execs, or starts with
 * vfork or posix_spawn, brings the shim in through the LD_PRELOAD it inherits and writes a
 * trace under its pid. Some cannot: the dynamic loader never runs for a statically linked
 * program, and it ignores LD_PRELOAD's paths for a setuid or setgid one (secure mode). A
 * report that lists the exec but no trace after it leaves the user looking for a file that
 * was never written, so the report names such programs and the reason, read from the
 * program's file as it is on disk now (the analyzer usually runs where the traces were made).
 * A program built with a sanitizer the shim stays out of (preload/sanitizers.c) is one too, and
 * so is one for another machine (a 32-bit x86 one: formats/mw_execfile.c), which the shim
 * passes no LD_PRELOAD entry of its own.
 * A program without a trace for no reason seen here is not listed: its trace may simply not
 * be among the ones given.
 */
#include <elf.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mw_execfile.h"
#include "report.h"

/* 1: fd is an ELF program with no PT_INTERP (statically linked); 0: it has one, or is not
 * an ELF program. Reads the header and at most 64 program headers. */
static int elf_is_static(int fd)
{
    Elf64_Ehdr eh;
    if (pread(fd, &eh, sizeof eh, 0) != (ssize_t)sizeof eh) return 0;
    if (memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64) return 0;
    if (eh.e_type != ET_EXEC && eh.e_type != ET_DYN) return 0;
    if (eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum == 0 || eh.e_phnum > 64) return 0;
    Elf64_Phdr ph[64];
    size_t n = eh.e_phnum * sizeof(Elf64_Phdr);
    if (pread(fd, ph, n, (off_t)eh.e_phoff) != (ssize_t)n) return 0;
    for (unsigned i = 0; i < eh.e_phnum; i++)
        if (ph[i].p_type == PT_INTERP) return 0;
    return eh.e_entry != 0; /* a shared library has no interpreter either, and no entry */
}

/* The sanitizer a program at fd is built with that the shim does not trace
 * (preload/sanitizers.c: one with an allocator of its own, as a library or linked in),
 * from the names in its dynamic string table (its DT_NEEDED libraries and exported symbols);
 * NULL when none. Reads at most 64 program headers, 512 dynamic entries and 1 MiB of names. */
static const char *elf_sanitizer(int fd)
{
    Elf64_Ehdr eh;
    if (pread(fd, &eh, sizeof eh, 0) != (ssize_t)sizeof eh) return NULL;
    if (memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64) return NULL;
    if (eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum == 0 || eh.e_phnum > 64) return NULL;
    Elf64_Phdr ph[64];
    size_t n = eh.e_phnum * sizeof(Elf64_Phdr);
    if (pread(fd, ph, n, (off_t)eh.e_phoff) != (ssize_t)n) return NULL;
    const Elf64_Phdr *dyn = NULL;
    for (unsigned i = 0; i < eh.e_phnum; i++)
        if (ph[i].p_type == PT_DYNAMIC) dyn = &ph[i];
    if (!dyn) return NULL;
    Elf64_Dyn d[512];
    size_t dn = dyn->p_filesz / sizeof(Elf64_Dyn);
    if (dn > 512) dn = 512;
    ssize_t got = pread(fd, d, dn * sizeof(Elf64_Dyn), (off_t)dyn->p_offset);
    if (got < 0) return NULL;
    dn = (size_t)got / sizeof(Elf64_Dyn);
    uint64_t strtab = 0, strsz = 0;
    for (size_t i = 0; i < dn && d[i].d_tag != DT_NULL; i++) {
        if (d[i].d_tag == DT_STRTAB) strtab = d[i].d_un.d_ptr;
        if (d[i].d_tag == DT_STRSZ) strsz = d[i].d_un.d_val;
    }
    if (!strtab || !strsz || strsz > (1u << 20)) return NULL;
    off_t off = -1;   /* the string table's address to its place in the file */
    for (unsigned i = 0; i < eh.e_phnum; i++)
        if (ph[i].p_type == PT_LOAD && strtab >= ph[i].p_vaddr && strtab + strsz <= ph[i].p_vaddr + ph[i].p_filesz)
            off = (off_t)(ph[i].p_offset + (strtab - ph[i].p_vaddr));
    if (off < 0) return NULL;
    char *str = malloc(strsz + 1);
    if (!str) return NULL;
    const char *name = NULL;
    if (pread(fd, str, strsz, off) == (ssize_t)strsz) {
        static const struct { const char *mark, *name; } san[] = {
            { "libtsan.so", "ThreadSanitizer" },     { "__tsan_init", "ThreadSanitizer" },
            { "libhwasan.so", "HWAddressSanitizer" }, { "__hwasan_init", "HWAddressSanitizer" },
            { "libasan.so", "AddressSanitizer" },    { "__asan_init", "AddressSanitizer" },
            { "__msan_init", "MemorySanitizer" },     { "liblsan.so", "LeakSanitizer" },
        };
        str[strsz] = '\0';
        for (size_t k = 0; k < sizeof san / sizeof san[0] && !name; k++)
            for (const char *p = str; p < str + strsz && !name; p += strlen(p) + 1)
                if (!strncmp(p, san[k].mark, strlen(san[k].mark))) name = san[k].name;
    }
    free(str);
    return name;
}

/* Why LD_PRELOAD cannot reach the program at path; "" when nothing says so. */
void mw_why_untraceable(const char *path, char *why, size_t len)
{
    why[0] = '\0';
    if (path[0] != '/') return; /* a name no PATH entry had when the shim looked (process.c) */
    /* the path comes from a trace, which may be anyone's: only a regular file is opened (a
     * device's open can act: a watchdog's starts it) */
    struct stat st, was;
    if (stat(path, &was) != 0 || !S_ISREG(was.st_mode)) return;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) return;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_ino == was.st_ino && st.st_dev == was.st_dev) {
        char what[200];
        if (st.st_mode & (S_ISUID | S_ISGID))
            snprintf(why, len, "it is setuid or setgid: the loader ignores LD_PRELOAD for it");
        else if (mw_exec_kind(fd, "", AT_EMPTY_PATH, what, sizeof what) == MW_EXEC_FOREIGN)
            snprintf(why, len, "it is %s: the 64-bit x86-64 shim cannot be loaded into it", what);
        else if (elf_is_static(fd) == 1)
            snprintf(why, len, "it is statically linked: LD_PRELOAD never reaches it");
        else {
            const char *san = elf_sanitizer(fd);
            if (san) snprintf(why, len, "it is built with %s, which the shim stays out of", san);
        }
    }
    close(fd);
}

/* Whether a SPAWN's program is one LD_PRELOAD cannot reach, so worth keeping for the report
 * (ingest.c): a shell loop or a server may start hundreds of thousands of children, nearly
 * all of them traced. The answer for the last 256 paths seen is remembered (paths up to 255
 * bytes), so a program started again and again is looked at once. */
bool mw_spawn_may_be_untraced(const char *path)
{
    static struct { char path[256]; bool untraced; } seen[256];
    size_t len = strlen(path);
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) h = (h ^ (uint8_t)path[i]) * 16777619u;
    h = (h ^ (h >> 16)) & 255u;
    if (len < sizeof seen[0].path && strcmp(seen[h].path, path) == 0) return seen[h].untraced;
    char why[96];
    mw_why_untraceable(path, why, sizeof why);
    if (len < sizeof seen[0].path) {
        memcpy(seen[h].path, path, len + 1);
        seen[h].untraced = why[0] != '\0';
    }
    return why[0] != '\0';
}

/* Whether a trace among procs is the program process pid ran after time t (its exec, or a
 * child's start). */
static bool traced_after(const mw_report_proc *procs, size_t n, uint64_t pid, uint64_t t, const mw_proc *not)
{
    for (size_t j = 0; j < n; j++) {
        const mw_proc *q = procs[j].p;
        if (q != not && q->pid == pid && q->start_realtime_ns >= t) return true;
    }
    return false;
}

static void add(mw_report_proc *rp, uint64_t pid, const char *path)
{
    char why[sizeof rp->untraced[0].why];
    mw_why_untraceable(path, why, sizeof why);
    if (!why[0]) return;
    if (rp->n_untraced == MW_UNTRACED_MAX) {
        rp->more_untraced++;
        return;
    }
    struct mw_untraced *u = &rp->untraced[rp->n_untraced++];
    u->pid = pid;
    u->path = path;
    memcpy(u->why, why, sizeof why);
}

void mw_find_untraced(mw_report_proc *procs, size_t n, size_t i)
{
    mw_report_proc *rp = &procs[i];
    const mw_proc *p = rp->p;
    rp->n_untraced = rp->more_untraced = 0;
    if (!(p->flags & MW_HF_FOLLOW)) return; /* MEMWATCH_FOLLOW=0: nothing it started is traced */
    const char *target = mw_proc_exec_target(p);
    if (target && p->execs.n && !traced_after(procs, n, p->pid, p->start_realtime_ns, p)) add(rp, p->pid, target);
    for (size_t k = 0; k < p->spawns.n; k++)
        if (!traced_after(procs, n, p->spawns.v[k].pid, p->start_realtime_ns, p))
            add(rp, p->spawns.v[k].pid, p->spawns.v[k].path);
    rp->more_untraced += p->spawns_unkept; /* such programs past the ones kept: counted */
}
