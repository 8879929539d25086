/*
 * watch_symbols.c — MEMWATCH_WATCH=symbol[:len][,...]: watch global variables by name, with
 * no change to the program.
 *
 * At start (a constructor that runs after the shim's own), each symbol is looked up in the
 * symbol tables of the main program first, then of every loaded object (dl_iterate_phdr):
 * .symtab when the file has one (static globals too), else .dynsym, read from the ELF file on
 * disk through a read-only private mapping (raw system calls: nothing traced). The default
 * length is the symbol's size. Unknown symbols and bad lengths get one line on stderr each.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "memwatch.h"
#include "mw_shim.h"
#include "watch_core.h"

typedef struct sym_query {
    const char *name;
    uintptr_t addr;
    size_t size;
    bool found;
    int index;      /* object index while iterating */
    bool main_only; /* first pass: the main program only */
} sym_query;

/* Looks name up in the ELF file at path (load bias `bias`). */
static bool lookup_in_file(const char *path, uintptr_t bias, const char *name, uintptr_t *addr,
                           size_t *size)
{
    int fd = (int)syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    struct stat st;
    bool ok = false;
    if (fstat(fd, &st) == 0 && st.st_size >= (off_t)sizeof(Elf64_Ehdr)) {
        void *map = (void *)syscall(SYS_mmap, NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE,
                                    fd, 0);
        if (map != MAP_FAILED) {
            const uint8_t *base = map;
            size_t fsz = (size_t)st.st_size;
            const Elf64_Ehdr *eh = map;
            if (memcmp(eh->e_ident, ELFMAG, SELFMAG) == 0 && eh->e_ident[EI_CLASS] == ELFCLASS64 &&
                eh->e_shoff && eh->e_shoff + (size_t)eh->e_shnum * sizeof(Elf64_Shdr) <= fsz) {
                const Elf64_Shdr *sh = (const Elf64_Shdr *)(base + eh->e_shoff);
                for (int pass = 0; pass < 2 && !ok; pass++) {
                    uint32_t want = pass == 0 ? SHT_SYMTAB : SHT_DYNSYM;
                    for (unsigned i = 0; i < eh->e_shnum && !ok; i++) {
                        if (sh[i].sh_type != want || sh[i].sh_link >= eh->e_shnum) continue;
                        const Elf64_Shdr *strs = &sh[sh[i].sh_link];
                        if (sh[i].sh_offset + sh[i].sh_size > fsz ||
                            strs->sh_offset + strs->sh_size > fsz)
                            continue;
                        const Elf64_Sym *sy = (const Elf64_Sym *)(base + sh[i].sh_offset);
                        size_t n = sh[i].sh_size / sizeof(Elf64_Sym);
                        const char *str = (const char *)(base + strs->sh_offset);
                        for (size_t k = 0; k < n; k++) {
                            if (sy[k].st_name >= strs->sh_size || sy[k].st_shndx == SHN_UNDEF)
                                continue;
                            int type = ELF64_ST_TYPE(sy[k].st_info);
                            if (type != STT_OBJECT && type != STT_TLS && type != STT_NOTYPE)
                                continue;
                            if (type == STT_TLS) continue; /* per-thread: no single address */
                            const char *nm = str + sy[k].st_name;
                            size_t left = strs->sh_size - sy[k].st_name;
                            if (strnlen(nm, left) == left || strcmp(nm, name) != 0) continue;
                            *addr = bias + sy[k].st_value;
                            *size = sy[k].st_size;
                            ok = true;
                            break;
                        }
                    }
                }
            }
            syscall(SYS_munmap, map, fsz);
        }
    }
    syscall(SYS_close, fd);
    return ok;
}

static int each_object(struct dl_phdr_info *info, size_t sz, void *arg)
{
    (void)sz;
    sym_query *q = arg;
    int idx = q->index++;
    if (q->main_only && idx != 0) return 1;
    if (!q->main_only && idx == 0) return 0;
    char exe[4096];
    const char *path = info->dlpi_name;
    if (idx == 0 || !path || !*path) {
        ssize_t n = mw_proc_readlink("/proc/thread-self/exe", exe, sizeof exe - 1); /* see reach_roots.c */
        if (n <= 0) n = mw_proc_readlink("/proc/self/exe", exe, sizeof exe - 1);
        if (n <= 0) return 0;
        exe[n] = 0;
        path = exe;
        if (idx != 0) return 0; /* the vDSO and other nameless objects */
    }
    if (lookup_in_file(path, info->dlpi_addr, q->name, &q->addr, &q->size)) {
        q->found = true;
        return 1;
    }
    return 0;
}

static bool find_symbol(const char *name, uintptr_t *addr, size_t *size)
{
    sym_query q = { .name = name, .main_only = true };
    dl_iterate_phdr(each_object, &q);
    if (!q.found) {
        q.index = 0;
        q.main_only = false;
        dl_iterate_phdr(each_object, &q);
    }
    if (q.found) { *addr = q.addr; *size = q.size; }
    return q.found;
}

bool mw_watch_spec_len(const char *s, size_t *len)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno || *end || v == 0 || end == s || *s == '-' || *s == '+' || *s == ' ') return false;
    *len = (size_t)v;
    return true;
}

bool mw_watch_spec_next(const char **cur, char name[MW_WATCH_SPEC_MAX], char lentext[MW_WATCH_SPEC_MAX],
                        const char **len_out)
{
    for (const char *s = *cur; *s;) {
        size_t n = strcspn(s, ",");
        const char *item = s, *end = s + n;
        s = *end ? end + 1 : end;
        while (item < end && *item == ' ') item++;
        if (item == end) continue;
        const char *colon = memchr(item, ':', (size_t)(end - item));
        const char *name_end = colon ? colon : end, *len_start = colon ? colon + 1 : end, *len_end = end;
        while (name_end > item && name_end[-1] == ' ') name_end--;
        while (len_start < len_end && *len_start == ' ') len_start++;
        while (len_end > len_start && len_end[-1] == ' ') len_end--;
        size_t nl = (size_t)(name_end - item), ll = (size_t)(len_end - len_start);
        if (nl >= MW_WATCH_SPEC_MAX) nl = MW_WATCH_SPEC_MAX - 1;
        if (ll >= MW_WATCH_SPEC_MAX) ll = MW_WATCH_SPEC_MAX - 1;
        memcpy(name, item, nl);
        name[nl] = 0;
        if (colon) {
            memcpy(lentext, len_start, ll);
            lentext[ll] = 0;
        }
        *len_out = colon ? lentext : NULL;
        *cur = s;
        return true;
    }
    return false;
}

void mw_watch_from_env(const char *spec)
{
    char item[MW_WATCH_SPEC_MAX], lentext[MW_WATCH_SPEC_MAX];
    const char *lens;
    for (const char *cur = spec; mw_watch_spec_next(&cur, item, lentext, &lens);) {
        size_t len = 0;
        if (lens && !mw_watch_spec_len(lens, &len)) continue; /* said with the settings (config.c) */
        uintptr_t addr;
        size_t size;
        if (!find_symbol(item, &addr, &size)) {
            /* said by the first program only: the others of its tree inherit the setting and
             * most of them lack the symbol (the shell, make, grep around the program that has
             * it), which filled stderr with a line each */
            if (mw_config_started_by_traced()) continue;
            char b[MW_DIAG_VAL], p[MW_DIAG_VAL];
            const char *prog = program_invocation_short_name ? program_invocation_short_name : "the program";
            mw_diag("MEMWATCH_WATCH: symbol '%s' not found in %s or its libraries; skipped (the programs "
                    "it starts look for it too, and say nothing)",
                    mw_diag_val(item, b, sizeof b), mw_diag_val(prog, p, sizeof p));
            continue;
        }
        if (!len) len = size ? size : 1;
        int64_t id = mw_watch_add((void *)addr, len, item,
                                  MEMWATCH_TRACK_THREADS | MEMWATCH_TRACK_SQL |
                                      MEMWATCH_MUTATION_FULL, false);
        if (id < 0)
            mw_diag("MEMWATCH_WATCH: cannot watch '%s' (%zu bytes at %p): %s", item, len,
                    (void *)addr, mw_errstr((int)-id));
        else
            mw_watch_emit_meta(id, "source", "MEMWATCH_WATCH");
    }
}

/* Runs after the shim's constructor (priority 65535 sorts after the shim's). */
__attribute__((constructor(65535))) static void watch_env_start(void)
{
    const char *spec = mw_cfg.watch_spec[0] ? mw_cfg.watch_spec : NULL;
    if (!spec) return;
    if (atomic_load(&mw_state) != MW_ST_ON && atomic_load(&mw_state) != MW_ST_OFF) return;
    mw_watch_from_env(spec);
}
