/*
 * sysv_hash.c — a library with only the SysV symbol hash table (DT_HASH, linked with
 * --hash-style=sysv: no DT_GNU_HASH), for the shim's loader-free symbol lookup
 * (preload/dynsym.c, tests/unit/test_dynsym.c). Older toolchains and some vendors' libraries
 * still ship like this. It holds what that lookup must tell apart: a plain function, a name
 * with two versions (the old one hidden, sysv_hash.map), a name left only in a hidden old
 * version (what dlsym does not return), an IFUNC and a data symbol.
 */
int sysv_plain(void) { return 1; }

int sysv_data = 5;

/* sysv_versioned@SYSV_1 (hidden, for old binaries) and sysv_versioned@@SYSV_2 (the default). */
int sysv_versioned_old(void) { return 10; }
int sysv_versioned_new(void) { return 20; }
__asm__(".symver sysv_versioned_old, sysv_versioned@SYSV_1");
__asm__(".symver sysv_versioned_new, sysv_versioned@@SYSV_2");

/* A function removed from the API and kept for old binaries only: sysv_gone@SYSV_1. */
int sysv_gone_old(void) { return 30; }
__asm__(".symver sysv_gone_old, sysv_gone@SYSV_1");

static int sysv_ifunc_impl(void) { return 3; }
static int (*sysv_ifunc_resolve(void))(void) { return sysv_ifunc_impl; }
int sysv_ifunc(void) __attribute__((ifunc("sysv_ifunc_resolve")));
