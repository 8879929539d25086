/*
 * deepbind.c — the allocation calls of objects that bind past the shim, sent through it.
 *
 * An object loaded with dlopen(..., RTLD_DEEPBIND) looks its symbols up in itself and its own
 * dependencies before the global scope, so its malloc, free and mmap calls go straight to
 * libc: its blocks would be missing from the trace, and blocks it frees would stay "live" in
 * the shim's tables. So for every object the module scan (modules.c) sees for the first time,
 * the GOT slots of the allocation functions (JUMP_SLOT and GLOB_DAT relocations) are looked
 * at: a slot holding libc's function is pointed at the shim's, and so is a slot not bound yet
 * (lazy binding: it still points into the object's own PLT), when the shim's function is the
 * global definition (what a plain object would get). Slots holding anything else (another
 * allocator) are left alone, and so are objects of other link-map namespaces (dlmopen: a libc
 * of their own), libc itself and the main program. A slot in the object's RELRO pages
 * (read-only after relocation) is written between two mprotect calls.
 *
 * Runs inside dl_iterate_phdr's callback (the loader's list lock held: the object cannot be
 * unloaded meanwhile), so nothing here takes a loader lock: dlsym results are looked up once
 * at start (mw_deepbind_init). The window between a dlopen and the next module scan (the
 * writer checks every 20 ms) is not covered: what the object allocates in it, including in
 * its constructors, is not traced.
 */
#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mw_core.h"
#include "object_span.h"

typedef struct redirect {
    const char *name;
    uintptr_t ours;     /* the global definition, when it is the shim's; 0: leave the name alone */
    uintptr_t libc;     /* the next definition (libc's) */
} redirect;

static redirect fns[] = {
    { "malloc", 0, 0 },        { "free", 0, 0 },          { "calloc", 0, 0 },
    { "realloc", 0, 0 },       { "reallocarray", 0, 0 },  { "posix_memalign", 0, 0 },
    { "aligned_alloc", 0, 0 }, { "memalign", 0, 0 },      { "valloc", 0, 0 },
    { "pvalloc", 0, 0 },       { "malloc_usable_size", 0, 0 },
    { "mmap", 0, 0 },          { "mmap64", 0, 0 },        { "munmap", 0, 0 },
    { "mremap", 0, 0 },
};
#define NFNS (sizeof fns / sizeof fns[0])

static uintptr_t self_lo, self_hi;     /* the shim's own PT_LOAD span */
static uintptr_t libc_malloc;          /* an address inside libc */

static int find_self(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    uintptr_t lo, hi, me = (uintptr_t)data;
    if (mw_object_span(info, &lo, &hi) && me >= lo && me < hi) {
        self_lo = lo;
        self_hi = hi;
        return 1;
    }
    return 0;
}

/* At start, before the first module scan, under the guard (dlsym may allocate). */
void mw_deepbind_init(void)
{
    dl_iterate_phdr(find_self, (void *)(uintptr_t)mw_deepbind_init);
    libc_malloc = (uintptr_t)mw_real.malloc;
    for (size_t i = 0; i < NFNS; i++) {
        uintptr_t g = (uintptr_t)dlsym(RTLD_DEFAULT, fns[i].name);
        fns[i].ours = g >= self_lo && g < self_hi ? g : 0; /* another interposer first: not ours to redirect */
        fns[i].libc = (uintptr_t)mw_next_symbol(fns[i].name);
    }
}

/* Is the object at bias with this dynamic section in the main namespace's list? The loader's
 * list lock is held (dl_iterate_phdr), so the list holds still. */
static bool in_main_namespace(uintptr_t bias, const ElfW(Dyn) *dyn)
{
    for (const struct link_map *l = _r_debug.r_map; l; l = l->l_next)
        if (l->l_addr == bias && l->l_ld == dyn) return true;
    return false;
}

typedef struct dyninfo {
    const ElfW(Sym) *symtab;
    const char *strtab;
    size_t strsz;
    const ElfW(Rela) *rel[2];
    size_t relsz[2];
    uintptr_t relro_lo, relro_hi;  /* the pages made read-only after relocation */
    uintptr_t lo, hi;              /* the object's span */
} dyninfo;

/* A d_ptr: the loader relocates most of them in place on x86-64; take both forms. */
static uintptr_t dptr(uintptr_t bias, uintptr_t v, uintptr_t lo) { return v < lo ? v + bias : v; }

static void patch(const dyninfo *d, uintptr_t *slot, uintptr_t value)
{
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE), at = (uintptr_t)slot;
    bool ro = at >= d->relro_lo && at < d->relro_hi;
    uintptr_t pg = at & ~(page - 1);
    if (ro && mprotect((void *)pg, page, PROT_READ | PROT_WRITE) != 0) return;
    __atomic_store_n(slot, value, __ATOMIC_RELEASE); /* a thread calling through it sees one or the other */
    if (ro) mprotect((void *)pg, page, PROT_READ);
}

static void scan_relocs(const dyninfo *d, uintptr_t bias, const ElfW(Rela) *r, size_t bytes)
{
    for (size_t k = 0; k < bytes / sizeof *r; k++) {
        unsigned type = (unsigned)ELF64_R_TYPE(r[k].r_info);
        if (type != R_X86_64_JUMP_SLOT && type != R_X86_64_GLOB_DAT) continue;
        size_t si = ELF64_R_SYM(r[k].r_info);
        if (!si) continue;
        const ElfW(Sym) *sym = &d->symtab[si];
        if (sym->st_name >= d->strsz || sym->st_shndx != SHN_UNDEF) continue; /* its own definition */
        const char *name = d->strtab + sym->st_name;
        size_t rest = d->strsz - sym->st_name;
        if (strnlen(name, rest) == rest) continue; /* not terminated inside the table */
        uintptr_t *slot = (uintptr_t *)(bias + r[k].r_offset);
        if ((uintptr_t)slot < d->lo || (uintptr_t)slot + sizeof *slot > d->hi) continue;
        for (size_t i = 0; i < NFNS; i++) {
            if (!fns[i].ours || strcmp(name, fns[i].name) != 0) continue;
            uintptr_t v = __atomic_load_n(slot, __ATOMIC_RELAXED);
            bool unbound = type == R_X86_64_JUMP_SLOT && v >= d->lo && v < d->hi;
            if (v != fns[i].ours && ((fns[i].libc && v == fns[i].libc) || unbound)) patch(d, slot, fns[i].ours);
            break;
        }
    }
}

/* A newly seen object (modules.c, inside dl_iterate_phdr). */
void mw_deepbind_redirect(struct dl_phdr_info *info)
{
    if (!info->dlpi_name || !*info->dlpi_name || !self_hi) return; /* the main program (or no init) */
    dyninfo d;
    memset(&d, 0, sizeof d);
    if (!mw_object_span(info, &d.lo, &d.hi)) return;
    if (d.lo < self_hi && d.hi > self_lo) return;                   /* the shim */
    if (libc_malloc >= d.lo && libc_malloc < d.hi) return;          /* libc */
    const ElfW(Dyn) *dyn = NULL;
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_DYNAMIC) dyn = (const ElfW(Dyn) *)(info->dlpi_addr + ph->p_vaddr);
        if (ph->p_type == PT_GNU_RELRO) {
            /* the loader protects the whole pages of the segment (_dl_protect_relro) */
            d.relro_lo = (info->dlpi_addr + ph->p_vaddr) & ~(page - 1);
            d.relro_hi = (info->dlpi_addr + ph->p_vaddr + ph->p_memsz) & ~(page - 1);
        }
    }
    if (!dyn || !in_main_namespace(info->dlpi_addr, dyn)) return;
    uintptr_t b = info->dlpi_addr;
    bool rela_plt = true;
    for (const ElfW(Dyn) *e = dyn; e->d_tag != DT_NULL; e++) {
        switch (e->d_tag) {
        case DT_SYMTAB: d.symtab = (const ElfW(Sym) *)dptr(b, e->d_un.d_ptr, d.lo); break;
        case DT_STRTAB: d.strtab = (const char *)dptr(b, e->d_un.d_ptr, d.lo); break;
        case DT_STRSZ: d.strsz = e->d_un.d_val; break;
        case DT_JMPREL: d.rel[0] = (const ElfW(Rela) *)dptr(b, e->d_un.d_ptr, d.lo); break;
        case DT_PLTRELSZ: d.relsz[0] = e->d_un.d_val; break;
        case DT_PLTREL: rela_plt = e->d_un.d_val == DT_RELA; break;
        case DT_RELA: d.rel[1] = (const ElfW(Rela) *)dptr(b, e->d_un.d_ptr, d.lo); break;
        case DT_RELASZ: d.relsz[1] = e->d_un.d_val; break;
        default: break;
        }
    }
    if (!d.symtab || !d.strtab || !d.strsz) return;
    if (d.rel[0] && rela_plt) scan_relocs(&d, b, d.rel[0], d.relsz[0]);
    if (d.rel[1]) scan_relocs(&d, b, d.rel[1], d.relsz[1]);
}
