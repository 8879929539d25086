/*
 * own_zstd_app.c — a program linked against its own libzstd.so.1 (tests/victims/lib/own_zstd.c,
 * in ownzstd/ beside it, found through its RPATH): it must start and run under the shim as
 * without it. Until the shim linked zstd in (2026-11-24), the program's library took the
 * name libzstd.so.1 for the shim too, and the shim's compressor functions were not in it:
 * "symbol lookup error", exit 127. Leaks 4343 bytes, so that its trace can be found.
 */
#include <stdio.h>
#include <stdlib.h>

int ZSTD_bundled_only(void);

int main(void)
{
    void *p = malloc(4343);
    printf("bundled zstd says %d\n", ZSTD_bundled_only());
    return p ? 0 : 1;
}
