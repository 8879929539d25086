/*
 * test_writer_level.c — unit tests of the writer's per-frame choice of compression settings
 * (preload/writer_level.c, included directly: besides zstd it needs only the shim's
 * configuration and raw clock, which this file provides, the clock under the test's control).
 *
 * The integration tests (test_shim_compress.c) show each setting on real programs; what they
 * cannot force on a loaded host is the writer falling behind at the right moment, so the
 * back-off rules are tested here: a strong or middle frame that finds a ring 75% full goes
 * back to level 1 for 1, 2, 4, ... 64 frames, and level 1 itself never counts as behind.
 */
#include <criterion/criterion.h>

#include "../../preload/writer_level.c"

mw_config mw_cfg;
static uint64_t fake_now;
uint64_t mw_mono_raw_ns(void) { return fake_now; }

static ZSTD_CCtx *cctx;

static void setup(void)
{
    memset(&mw_cfg, 0, sizeof mw_cfg); /* zstd_level 0: auto */
    fake_now = 1000000000ull;
    cctx = ZSTD_createCCtx();
    cr_assert(cctx);
    mw_zlevel_init(cctx);
}

static void teardown(void) { ZSTD_freeCCtx(cctx); }

static int level(void)
{
    int v = 0;
    cr_assert_eq(ZSTD_CCtx_getParameter(cctx, ZSTD_c_compressionLevel, &v), 0);
    return v;
}

/* One frame of `in` bytes compressing to `out`, the writer busy `busy_pct` of its 100 ms. */
static void frame(uint64_t in, uint64_t out, unsigned busy_pct, bool behind)
{
    fake_now += 100000000ull;
    mw_zlevel_account(in, out, 1000000ull * busy_pct);
    mw_zlevel_frame_end(cctx, behind);
}

/* Python-like records: 4:1 at level 1, an idle writer. */
#define MID_IN (4u << 20)
#define MID_OUT (1u << 20)

TestSuite(writer_level, .init = setup, .fini = teardown);

Test(writer_level, repeating_records_and_an_idle_writer_get_the_middle_setting)
{
    cr_expect_eq(level(), 9, "first frame: level %d", level());
    cr_expect_eq(mw_zlevel_frame_bytes(), 128u << 10);
    frame(128u << 10, 32u << 10, 10, false);
    cr_expect_eq(level(), 6, "after a 4:1 frame with an idle writer: level %d", level());
    cr_expect_eq(mw_zlevel_frame_bytes(), 4u << 20);
    frame(MID_IN, MID_OUT, 60, false); /* the writer busy most of the frame: level 1 */
    cr_expect_eq(level(), 1, "a busy writer: level %d", level());
    frame(MID_IN, MID_OUT, 10, false);
    cr_expect_eq(level(), 6, "idle again: level %d", level());
    frame(MID_IN, 2u << 20, 10, false); /* 2:1, churn-like: never the middle setting */
    cr_expect_eq(level(), 1, "2:1: level %d", level());
}

Test(writer_level, level_1_is_never_behind)
{
    frame(128u << 10, 64u << 10, 10, false); /* 2:1: level 1 */
    cr_assert_eq(level(), 1);
    cr_expect_not(mw_zlevel_behind(100), "level 1 counted a full ring as behind");
    frame(MID_IN, MID_OUT, 10, false);
    cr_assert_eq(level(), 6);
    cr_expect_not(mw_zlevel_behind(74), "74%% full counted as behind");
    cr_expect(mw_zlevel_behind(75), "75%% full not counted as behind");
}

/* Counts the level-1 frames after each fall from the middle setting: the back-off doubles
 * from 1 to 64 frames and stays there. */
Test(writer_level, a_middle_frame_that_falls_behind_backs_off_doubling)
{
    frame(128u << 10, 32u << 10, 10, false);
    cr_assert_eq(level(), 6);
    unsigned expect = 1;
    for (int fall = 0; fall < 9; fall++) {
        cr_assert(mw_zlevel_behind(80));
        frame(MID_IN / 8, MID_OUT / 8, 10, true); /* ended early: behind */
        unsigned fast = 0;
        while (level() == 1 && fast < 1000) {
            frame(MID_IN, MID_OUT, 10, false);
            fast++;
        }
        cr_expect_eq(level(), 6, "fall %d: level %d after %u frames", fall, level(), fast);
        cr_expect_eq(fast, expect, "fall %d: %u level-1 frames, expected %u", fall, fast, expect);
        if (expect < 64) expect *= 2;
    }
}

Test(writer_level, a_strong_frame_that_falls_behind_backs_off_the_same_way)
{
    frame(128u << 10, 8u << 10, 10, false); /* 16:1 from the first frame: strong */
    cr_assert(mw_zlevel_strong());
    cr_expect_eq(mw_zlevel_frame_bytes(), 16u << 20);
    cr_assert(mw_zlevel_behind(90));
    frame(1u << 20, 64u << 10, 90, true);
    cr_expect_not(mw_zlevel_strong());
    cr_expect_eq(level(), 1, "after falling behind: level %d", level());
    frame(MID_IN, MID_IN / 16, 10, false); /* the one back-off frame: stays at level 1 */
    cr_expect_not(mw_zlevel_strong(), "strong again before its back-off ended");
    frame(MID_IN, MID_IN / 16, 10, false);
    cr_expect(mw_zlevel_strong(), "not strong again after the back-off");
    cr_expect_eq(level(), 18);
}

Test(writer_level, an_explicit_level_is_kept_whatever_happens)
{
    teardown();
    memset(&mw_cfg, 0, sizeof mw_cfg);
    mw_cfg.zstd_level = 3;
    cctx = ZSTD_createCCtx();
    mw_zlevel_init(cctx);
    for (int i = 0; i < 5; i++) {
        cr_expect_eq(level(), 3);
        cr_expect_not(mw_zlevel_behind(100));
        frame(MID_IN, i % 2 ? MID_IN / 20 : MID_IN / 2, 10 + 20 * i, i == 3);
    }
    cr_expect_eq(level(), 3);
    cr_expect_eq(mw_zlevel_frame_bytes(), 4u << 20);
}
