/*
 * modules.c — loaded objects (MODULE_LOAD / MODULE_UNLOAD records) for offline symbolization.
 *
 * The set of loaded objects is read with dl_iterate_phdr: path, load bias, address span of the
 * PT_LOAD segments and the GNU build id from PT_NOTE. It is recorded at start, then diffed
 * against what was recorded: by the writer thread whenever glibc's load/unload counters
 * (dlpi_adds/dlpi_subs) moved, and around every dlclose (hooked, so an object is always
 * recorded before it goes away and its unload is recorded right after). dlopen is not hooked:
 * calling the real dlopen from the shim would make glibc search the SHIM's RPATH/RUNPATH
 * instead of the caller's; the counter check (every 20 ms, and before every dlclose) sees it.
 */
#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <string.h>
#include <unistd.h>

#include "mw_core.h"
#include "object_span.h"

#define MAX_MODS 4096u

typedef struct mod {
    uintptr_t bias, start, size;
    uint64_t id;
    bool seen;
} mod;

static mod mods[MAX_MODS];
static unsigned nmods;
static uint64_t next_id = 1;
static unsigned long long last_adds = (unsigned long long)-1, last_subs;
static atomic_flag mlock = ATOMIC_FLAG_INIT;
static int (*real_dlclose)(void *);

typedef struct cur {
    mw_thread *t;
} cur;

static void emit(mw_thread *t, const uint8_t *buf, size_t n)
{
    (void)t;
    mw_writer_direct(buf, n);
}

static size_t build_id(struct dl_phdr_info *info, const uint8_t **out)
{
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_NOTE) continue;
        const uint8_t *p = (const uint8_t *)(info->dlpi_addr + ph->p_vaddr), *end = p + ph->p_memsz;
        while (p + sizeof(ElfW(Nhdr)) <= end) {
            const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)p;
            size_t nsz = (nh->n_namesz + 3u) & ~3u, dsz = (nh->n_descsz + 3u) & ~3u;
            const uint8_t *name = p + sizeof *nh, *desc = name + nsz;
            if (desc + nh->n_descsz > end) break;
            if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 && memcmp(name, "GNU", 4) == 0) {
                *out = desc;
                return nh->n_descsz;
            }
            p = desc + dsz;
        }
    }
    return 0;
}

static int visit(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    cur *c = data;
    uintptr_t lo, hi;
    mw_object_span(info, &lo, &hi);
    if (hi <= lo) return 0;
    for (unsigned i = 0; i < nmods; i++) {
        if (mods[i].bias == info->dlpi_addr && mods[i].start == lo) {
            mods[i].seen = true;
            return 0;
        }
    }
    if (nmods >= MAX_MODS) { /* its frames stay unsymbolized: say so, once */
        static _Atomic int said;
        if (!atomic_exchange(&said, 1))
            mw_diag("more than %u objects loaded at once: the ones past that are not recorded "
                    "(frames in them stay unnamed)", MAX_MODS);
        return 0;
    }
    mod *m = &mods[nmods++];
    *m = (mod){ info->dlpi_addr, lo, hi - lo, next_id++, true };
    mw_deepbind_redirect(info); /* an object that binds past the shim (RTLD_DEEPBIND) */
    const char *path = info->dlpi_name;
    char exe[1024];
    if (!path || !*path) {
        /* the main program (and the vdso, which has a name on modern glibc) */
        ssize_t n = mw_proc_readlink("/proc/thread-self/exe", exe, sizeof exe - 1); /* see reach_roots.c */
        if (n <= 0) n = mw_proc_readlink("/proc/self/exe", exe, sizeof exe - 1);
        exe[n > 0 ? n : 0] = 0;
        path = exe;
    }
    const uint8_t *bid = NULL;
    size_t bl = build_id(info, &bid);
    size_t pl = strnlen(path, MW_MAX_STR);
    uint8_t buf[MW_MAX_STR + 128];
    if (c->t) {
        MW_EMIT(c->t, 80 + bl + pl, mw_enc_module_load, m->id, info->dlpi_addr, lo, hi - lo, bid, bl, path, pl);
    } else {
        size_t n = mw_enc_module_load(buf, sizeof buf, m->id, info->dlpi_addr, lo, hi - lo, bid, bl, path, pl);
        emit(NULL, buf, n);
    }
    return 0;
}

static int counters(struct dl_phdr_info *info, size_t size, void *data)
{
    unsigned long long *v = data;
    if (size >= offsetof(struct dl_phdr_info, dlpi_subs) + sizeof info->dlpi_subs) {
        v[0] = info->dlpi_adds;
        v[1] = info->dlpi_subs;
    }
    return 1;
}

bool mw_modules_changed(void)
{
    unsigned long long v[2] = { 0, 0 };
    dl_iterate_phdr(counters, v);
    return v[0] != last_adds || v[1] != last_subs;
}

/* t: emit through t's ring; NULL: the writer thread (or the constructor before it runs). */
void mw_modules_refresh(mw_thread *t)
{
    if (t) {
        while (atomic_flag_test_and_set_explicit(&mlock, memory_order_acquire)) __builtin_ia32_pause();
    } else if (atomic_flag_test_and_set_explicit(&mlock, memory_order_acquire)) {
        return; /* a thread is doing it (and may be waiting for the writer: never block it) */
    }
    unsigned long long v[2] = { 0, 0 };
    dl_iterate_phdr(counters, v);
    last_adds = v[0];
    last_subs = v[1];
    for (unsigned i = 0; i < nmods; i++) mods[i].seen = false;
    cur c = { t };
    dl_iterate_phdr(visit, &c);
    for (unsigned i = 0; i < nmods;) {
        if (mods[i].seen) {
            i++;
            continue;
        }
        if (t) {
            MW_EMIT(t, 24, mw_enc_module_unload, mods[i].id);
        } else {
            uint8_t b[24];
            emit(NULL, b, mw_enc_module_unload(b, sizeof b, mods[i].id));
        }
        mods[i] = mods[--nmods];
    }
    atomic_flag_clear_explicit(&mlock, memory_order_release);
}

void mw_modules_reset_after_fork(void)
{
    nmods = 0;
    next_id = 1;
    last_adds = (unsigned long long)-1;
    atomic_flag_clear(&mlock);
}

MW_EXPORT int dlclose(void *handle)
{
    if (!real_dlclose) real_dlclose = (int (*)(void *))dlsym(RTLD_NEXT, "dlclose");
    mw_thread *t = mw_tls_self;
    bool on = t && !mw_tls_guard && atomic_load(&mw_state) == MW_ST_ON;
    if (on && mw_modules_changed()) mw_modules_refresh(t);
    int rc = real_dlclose(handle);
    if (on && mw_modules_changed()) mw_modules_refresh(t);
    return rc;
}
