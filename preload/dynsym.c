/*
 * dynsym.c — a function's address in one loaded object, read from the object's own dynamic
 * symbol table in memory (PT_DYNAMIC: DT_GNU_HASH or DT_HASH, DT_SYMTAB, DT_STRTAB,
 * DT_VERSYM), with no call into the dynamic loader.
 *
 * mw_next_symbol (real.c) finds the definition after the shim's own (what dlsym(RTLD_NEXT)
 * returns) this way, and mw_resolve_symbol looks a name up in every loaded object when no
 * later one defines it: the SQL client and C++ runtime libraries of Python's extension modules are
 * loaded RTLD_LOCAL. It did so with dlopen(RTLD_NOLOAD) + dlsym + dlclose on each object,
 * which changes the loader's state: an object loaded as a dependency and now opened directly
 * gets a search list of its own, and the one it had is freed later, through a list the loader
 * allocates then. Inside the shim that list was not traced, so the arrays waiting in it were
 * reported definitely lost (80 bytes in every Python program that used sqlite3, until
 * 03:38 UTC on 2026-11-24), and a dlsym that failed left its error pending for the program's
 * dlerror(). Reading the tables changes nothing and allocates nothing.
 */
#include <elf.h>
#include <link.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "mw_core.h"

/* A DT_* pointer: glibc relocates most of them in place to addresses; the vDSO's and some
 * others stay relative to the load address. */
static uintptr_t dyn_ptr(uintptr_t base, ElfW(Addr) p) { return p < base ? base + p : p; }

static uint32_t gnu_hash(const char *s)
{
    uint32_t h = 5381;
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) h = h * 33 + *c;
    return h;
}

/* Symbol i names `name`, is defined, a function (or untyped), global or weak, and its version
 * (if any) is the default one. Its address, or 0. */
static uintptr_t match(uintptr_t base, const ElfW(Sym) *sym, const char *str, const uint16_t *versym, uint32_t i,
                       const char *name, bool *ifunc)
{
    const ElfW(Sym) *s = &sym[i];
    if (s->st_shndx == SHN_UNDEF || s->st_value == 0) return 0;
    int type = ELF64_ST_TYPE(s->st_info), bind = ELF64_ST_BIND(s->st_info);
    if (type != STT_FUNC && type != STT_NOTYPE && type != STT_GNU_IFUNC) return 0;
    if (bind != STB_GLOBAL && bind != STB_WEAK) return 0;
    if (versym && (versym[i] & 0x8000)) return 0; /* a hidden, older version */
    if (strcmp(str + s->st_name, name) != 0) return 0;
    if (type == STT_GNU_IFUNC) { /* its resolver would have to run: the caller asks dlsym */
        if (ifunc) *ifunc = true;
        return 0;
    }
    return base + s->st_value;
}

void *mw_dynsym_find(const struct dl_phdr_info *info, const char *name, bool *ifunc)
{
    const ElfW(Phdr) *dynph = NULL;
    for (int i = 0; i < info->dlpi_phnum; i++)
        if (info->dlpi_phdr[i].p_type == PT_DYNAMIC) dynph = &info->dlpi_phdr[i];
    if (!dynph) return NULL;
    uintptr_t base = info->dlpi_addr;
    const ElfW(Dyn) *dyn = (const ElfW(Dyn) *)(base + dynph->p_vaddr);
    const ElfW(Sym) *sym = NULL;
    const char *str = NULL;
    const uint32_t *gh = NULL, *h = NULL;
    const uint16_t *versym = NULL;
    for (; dyn->d_tag != DT_NULL; dyn++) {
        switch (dyn->d_tag) {
        case DT_SYMTAB: sym = (const ElfW(Sym) *)dyn_ptr(base, dyn->d_un.d_ptr); break;
        case DT_STRTAB: str = (const char *)dyn_ptr(base, dyn->d_un.d_ptr); break;
        case DT_GNU_HASH: gh = (const uint32_t *)dyn_ptr(base, dyn->d_un.d_ptr); break;
        case DT_HASH: h = (const uint32_t *)dyn_ptr(base, dyn->d_un.d_ptr); break;
        case DT_VERSYM: versym = (const uint16_t *)dyn_ptr(base, dyn->d_un.d_ptr); break;
        default: break;
        }
    }
    if (!sym || !str) return NULL;
    if (gh) {
        uint32_t nbuckets = gh[0], symoffset = gh[1], bloom_size = gh[2];
        if (!nbuckets) return NULL;
        const ElfW(Addr) *bloom = (const ElfW(Addr) *)(gh + 4);
        const uint32_t *buckets = (const uint32_t *)(bloom + bloom_size);
        const uint32_t *chain = buckets + nbuckets;
        uint32_t hv = gnu_hash(name);
        uint32_t i = buckets[hv % nbuckets];
        if (i < symoffset) return NULL;
        for (;; i++) {
            uint32_t ch = chain[i - symoffset];
            if ((ch | 1) == (hv | 1)) {
                uintptr_t a = match(base, sym, str, versym, i, name, ifunc);
                if (a) return (void *)a;
            }
            if (ch & 1) return NULL;
        }
    }
    if (h) { /* the SysV table: every symbol, in order */
        uint32_t nchain = h[1];
        for (uint32_t i = 1; i < nchain; i++) {
            uintptr_t a = match(base, sym, str, versym, i, name, ifunc);
            if (a) return (void *)a;
        }
    }
    return NULL;
}
