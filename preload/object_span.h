/*
 * object_span.h — the address span of a loaded object's segments, from dl_iterate_phdr's
 * answer: the module list (modules.c), the objects that bind past the shim (deepbind.c) and
 * the foreign malloc's object (alloc_ranges.c).
 */
#ifndef MW_OBJECT_SPAN_H
#define MW_OBJECT_SPAN_H

#include <link.h>
#include <stdbool.h>
#include <stdint.h>

/* [lo, hi) from the object's first PT_LOAD to the end of its last; false when it has none. */
static inline bool mw_object_span(const struct dl_phdr_info *info, uintptr_t *lo, uintptr_t *hi)
{
    *lo = UINTPTR_MAX;
    *hi = 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD) continue;
        uintptr_t s = info->dlpi_addr + ph->p_vaddr;
        if (s < *lo) *lo = s;
        if (s + ph->p_memsz > *hi) *hi = s + ph->p_memsz;
    }
    return *hi > *lo;
}

#endif /* MW_OBJECT_SPAN_H */
