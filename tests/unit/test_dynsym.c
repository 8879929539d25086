/*
 * test_dynsym.c — the shim's loader-free symbol lookup (preload/dynsym.c, included directly):
 * for functions of the loaded libraries it must give what dlsym gives on the same object,
 * with the default version of a symbol that has several (the hidden old one skipped), an
 * IFUNC reported as such (not its resolver's address), NULL for a name the object lacks, and
 * it must read the vDSO, whose dynamic section the loader leaves unrelocated. The same for an
 * object with only the SysV hash table (the victims' libsysv_hash.so, --hash-style=sysv).
 */
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>

#include "../../preload/dynsym.c"

typedef struct probe {
    const char *object; /* part of the object's path */
    const char *name;
    void *found;
    bool ifunc, seen;
    uintptr_t lo, hi;   /* the object's span (the vDSO's) */
} probe;

static int visit(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    probe *p = data;
    if (!info->dlpi_name || !strstr(info->dlpi_name, p->object)) return 0;
    p->seen = true;
    p->found = mw_dynsym_find(info, p->name, &p->ifunc);
    for (int i = 0; i < info->dlpi_phnum; i++)
        if (info->dlpi_phdr[i].p_type == PT_LOAD) {
            uintptr_t a = info->dlpi_addr + info->dlpi_phdr[i].p_vaddr;
            if (!p->lo || a < p->lo) p->lo = a;
            if (a + info->dlpi_phdr[i].p_memsz > p->hi) p->hi = a + info->dlpi_phdr[i].p_memsz;
        }
    return 1;
}

static probe find(const char *object, const char *name)
{
    probe p = { object, name, NULL, false, false, 0, 0 };
    dl_iterate_phdr(visit, &p);
    cr_assert(p.seen, "%s is not loaded", object);
    return p;
}

static void *via_dlsym(const char *soname, const char *name)
{
    void *h = dlopen(soname, RTLD_LAZY | RTLD_NOLOAD);
    cr_assert_not_null(h, "%s", soname);
    void *s = dlsym(h, name);
    dlclose(h);
    return s;
}

Test(dynsym, functions_as_dlsym_finds_them)
{
    void *z = dlopen("libz.so.1", RTLD_NOW);
    cr_assert_not_null(z, "%s", dlerror());
    const char *libc_names[] = { "close", "exit", "system", "posix_spawn", "pthread_create",
                                 /* several versions: the default one */
                                 "pthread_cond_wait", "realpath", "sched_setaffinity" };
    for (size_t i = 0; i < sizeof libc_names / sizeof *libc_names; i++) {
        probe p = find("libc.so.6", libc_names[i]);
        cr_expect_not_null(p.found, "%s", libc_names[i]);
        cr_expect_eq(p.found, via_dlsym("libc.so.6", libc_names[i]), "%s", libc_names[i]);
    }
    probe p = find("libz.so.1", "zlibVersion");
    cr_expect_eq(p.found, via_dlsym("libz.so.1", "zlibVersion"));
    cr_expect_eq(((const char *(*)(void))p.found)()[0], '1');
    dlclose(z);
}

Test(dynsym, an_ifunc_is_said_and_a_missing_name_is_null)
{
    probe p = find("libc.so.6", "memcpy"); /* x86-64 glibc picks memcpy by CPU: an IFUNC */
    cr_expect_null(p.found);
    cr_expect(p.ifunc, "memcpy not reported as an IFUNC");
    p = find("libc.so.6", "no_such_function_in_libc");
    cr_expect_null(p.found);
    cr_expect_not(p.ifunc);
    p = find("libc.so.6", "environ"); /* an object, not a function */
    cr_expect_null(p.found);
}

Test(dynsym, the_vdso_is_read_with_its_relative_pointers)
{
    cr_assert_neq(getauxval(AT_SYSINFO_EHDR), 0, "no vDSO");
    probe p = find("linux-vdso", "__vdso_clock_gettime");
    cr_assert_not_null(p.found);
    cr_expect((uintptr_t)p.found >= p.lo && (uintptr_t)p.found < p.hi, "outside the vDSO");
}

/* The dynamic section of the loaded object whose path contains `object` has a tag. */
typedef struct tag_probe { const char *object; ElfW(Sxword) tag; bool seen, has; } tag_probe;
static int visit_tags(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    tag_probe *t = data;
    if (!info->dlpi_name || !strstr(info->dlpi_name, t->object)) return 0;
    t->seen = true;
    for (int i = 0; i < info->dlpi_phnum; i++)
        if (info->dlpi_phdr[i].p_type == PT_DYNAMIC)
            for (const ElfW(Dyn) *d = (const ElfW(Dyn) *)(info->dlpi_addr + info->dlpi_phdr[i].p_vaddr);
                 d->d_tag != DT_NULL; d++)
                if (d->d_tag == t->tag) t->has = true;
    return 1;
}
static bool has_tag(const char *object, ElfW(Sxword) tag)
{
    tag_probe t = { object, tag, false, false };
    dl_iterate_phdr(visit_tags, &t);
    cr_assert(t.seen, "%s is not loaded", object);
    return t.has;
}

Test(dynsym, an_object_with_only_the_sysv_hash_table)
{
    const char *b = getenv("MEMWATCH_BUILD");
    cr_assert_not_null(b, "MEMWATCH_BUILD is not set (scripts/run-tests sets it)");
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/victims/libsysv_hash.so", b);
    void *h = dlopen(path, RTLD_NOW);
    cr_assert_not_null(h, "%s", dlerror());
    cr_assert(has_tag("libsysv_hash.so", DT_HASH), "no DT_HASH");
    cr_assert_not(has_tag("libsysv_hash.so", DT_GNU_HASH), "built with a GNU hash table too");

    probe p = find("libsysv_hash.so", "sysv_plain");
    cr_assert_not_null(p.found);
    cr_expect_eq(p.found, dlsym(h, "sysv_plain"));
    cr_expect_eq(((int (*)(void))p.found)(), 1);

    p = find("libsysv_hash.so", "sysv_versioned"); /* the default version, @@SYSV_2 */
    cr_expect_eq(p.found, dlsym(h, "sysv_versioned"));
    cr_assert_eq(p.found, dlvsym(h, "sysv_versioned", "SYSV_2"));
    cr_expect_eq(((int (*)(void))p.found)(), 20);

    p = find("libsysv_hash.so", "sysv_gone"); /* only a hidden version: dlsym does not give it */
    cr_expect_null(dlsym(h, "sysv_gone"));
    cr_expect_not_null(dlvsym(h, "sysv_gone", "SYSV_1"));
    cr_expect_null(p.found, "the hidden sysv_gone@SYSV_1 was returned");

    p = find("libsysv_hash.so", "sysv_ifunc");
    cr_expect_null(p.found);
    cr_expect(p.ifunc, "sysv_ifunc not reported as an IFUNC");

    p = find("libsysv_hash.so", "sysv_data"); /* an object, not a function */
    cr_expect_null(p.found);
    cr_expect_not(p.ifunc);
    p = find("libsysv_hash.so", "no_such_function");
    cr_expect_null(p.found);
    dlclose(h);
}
