/*
 * test_alloc_ranges.c — the table of a foreign malloc's own mappings (preload/alloc_ranges.c,
 * included directly: it needs only the shim's spin lock, given here). Random mappings and
 * unmappings, theirs and the program's, against a model of one bit per page: the table always
 * holds exactly the pages the allocator mapped and nobody took back, sorted, disjoint and
 * joined. And the mappings made before the allocator was known: the allocator's (made inside
 * the shim, or called from its object) go to the table at start, the program's do not.
 */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "../../preload/alloc_ranges.c"

void mw_spin_lock_slow(atomic_flag *f)
{
    while (atomic_flag_test_and_set_explicit(f, memory_order_acquire)) {
    }
}

#define PAGES 512u
#define BASE ((uintptr_t)1 << 40)
static bool model[PAGES];

static void check_table(void)
{
    static uintptr_t lo[MW_ALLOC_RANGES_MAX], hi[MW_ALLOC_RANGES_MAX];
    unsigned missed = 0;
    size_t n = mw_alloc_ranges(lo, hi, MW_ALLOC_RANGES_MAX, &missed);
    cr_assert_eq(missed, 0);
    bool got[PAGES] = { false };
    for (size_t i = 0; i < n; i++) {
        cr_assert_lt(lo[i], hi[i], "range %zu is empty", i);
        if (i) cr_assert_gt(lo[i], hi[i - 1], "ranges %zu and %zu touch or overlap: not joined", i - 1, i);
        cr_assert_geq(lo[i], BASE);
        cr_assert_leq(hi[i], BASE + PAGES * 4096u);
        for (uintptr_t a = lo[i]; a < hi[i]; a += 4096) got[(a - BASE) / 4096] = true;
    }
    for (unsigned p = 0; p < PAGES; p++) cr_assert_eq(got[p], model[p], "page %u", p);
}

static void model_set(uintptr_t lo, size_t len, bool v)
{
    uintptr_t first = (lo - BASE) / 4096, last = (lo + len - BASE + 4095) / 4096;
    for (uintptr_t p = first; p < last && p < PAGES; p++) model[p] = v;
}

static int program_code(void) { return 1; } /* a return address inside "the allocator's object" */

Test(alloc_ranges, random_mappings_against_a_page_model)
{
    mw_alloc_ranges_init((void *)program_code); /* this test binary plays the allocator */
    cr_assert(mw_alloc_foreign);
    srand(7);
    for (int step = 0; step < 20000; step++) {
        uintptr_t lo = BASE + (uintptr_t)(rand() % PAGES) * 4096u + (uintptr_t)(rand() % 3 == 0 ? rand() % 4096 : 0);
        size_t len = (size_t)(1 + rand() % 24) * 4096u - (size_t)(rand() % 2 ? rand() % 4096 : 0);
        if (lo + len > BASE + PAGES * 4096u) len = BASE + PAGES * 4096u - lo;
        if (rand() % 2) {
            mw_alloc_mapped((void *)lo, len);
            model_set(lo & ~(uintptr_t)4095, len + (lo & 4095), true);
        } else {
            mw_alloc_unmapped((void *)lo, len);
            model_set(lo & ~(uintptr_t)4095, len + (lo & 4095), false);
        }
        if (step % 97 == 0) check_table();
    }
    check_table();
    mw_alloc_unmapped((void *)BASE, PAGES * 4096u);
    model_set(BASE, PAGES * 4096u, false);
    check_table();
}

Test(alloc_ranges, mappings_before_the_start_are_sorted_out_then)
{
    int dummy;
    const void *elsewhere = &dummy; /* a caller outside the allocator's object */
    mw_alloc_early_mapped((void *)(BASE + 0 * 4096), 4 * 4096, (const void *)program_code, false);  /* its code */
    mw_alloc_early_mapped((void *)(BASE + 10 * 4096), 2 * 4096, elsewhere, true);                 /* inside the shim */
    mw_alloc_early_mapped((void *)(BASE + 20 * 4096), 3 * 4096, elsewhere, false);                /* the program's */
    mw_alloc_early_mapped((void *)(BASE + 30 * 4096), 8 * 4096, (const void *)program_code, false);
    mw_alloc_early_unmapped((void *)(BASE + 32 * 4096), 2 * 4096);                                 /* its middle goes */
    mw_alloc_early_unmapped((void *)(BASE + 1 * 4096), 1 * 4096);
    mw_alloc_ranges_init((void *)program_code);
    cr_assert_eq(atomic_load(&mw_alloc_mode), MW_ALLOC_FOREIGN);
    model_set(BASE + 0 * 4096, 4096, true);
    model_set(BASE + 2 * 4096, 2 * 4096, true);
    model_set(BASE + 10 * 4096, 2 * 4096, true);
    model_set(BASE + 30 * 4096, 2 * 4096, true);
    model_set(BASE + 34 * 4096, 4 * 4096, true);
    check_table();
}

Test(alloc_ranges, libc_malloc_keeps_nothing)
{
    mw_alloc_early_mapped((void *)BASE, 4096, (const void *)program_code, true);
    mw_alloc_ranges_init(NULL);
    cr_assert_eq(atomic_load(&mw_alloc_mode), MW_ALLOC_LIBC);
    cr_assert_not(mw_alloc_foreign);
    check_table();
}
