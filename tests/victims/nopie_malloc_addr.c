/*
 * nopie_malloc_addr.c — victim: a program linked without PIE that takes malloc's address
 * (tests/integration/test_shim_own_malloc.c). Its dynamic symbol table then gives the
 * undefined malloc the address of its PLT entry (a "canonical PLT" entry, so that the
 * address is the same everywhere), which is what dlsym(RTLD_DEFAULT, "malloc") returns:
 * no definition of its own (node is built so). Allocates through the pointer, leaks 4321
 * bytes, prints "ok".
 *
 *     nopie_malloc_addr
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void *(*volatile alloc_fn)(size_t);
void (*volatile free_fn)(void *);

int main(void)
{
    alloc_fn = malloc; /* in code: an absolute address, which the PLT entry must then be */
    free_fn = free;
    char *p = alloc_fn(4321), *q = alloc_fn(100);
    if (!p || !q) return 1;
    memset(p, 1, 4321);
    free_fn(q);
    p = NULL;
    printf("ok\n");
    return 0;
}
