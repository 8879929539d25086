/*
 * writer_level.c — the writer's compression settings, chosen again at every zstd frame.
 *
 * Allocation traces come in two kinds. Random churn is nearly incompressible beyond entropy
 * coding: zstd level 1 is what keeps up with it, a stronger setting costs 20x the CPU for ~10%.
 * Real programs repeat long runs of records (the same calls per row, query or request):
 * there zstd's optimal parser with long-distance matching writes a third of what level 1
 * writes, and runs fast because the matches are long (measured on the sqlite3 CLI bench:
 * 11.4 MB of records, level 1 130 KB in 0.03 s, the strong setting below 45 KB in 0.2 s).
 *
 * So with MEMWATCH_ZSTD_LEVEL unset ("auto") the writer starts with a short first frame
 * (FIRST_FRAME bytes of input, level 9 with small tables), then goes fast (level 1, with
 * long-distance matching over 2 MiB when the last frame compressed LDM_RATIO to 1: on random
 * churn it only costs time, on repetitive records it writes a tenth), and at each frame end
 * looks at that frame: if it compressed at least PROMOTE_RATIO to 1 while the writer was busy
 * under half of the time, the next frame is strong (and long: long frames keep the match
 * window); a strong frame that compressed less than that goes back to fast. A strong frame is
 * ended early, and the writer goes back to fast for a while (doubling each time), as soon as
 * it falls behind or the records stop repeating: a thread's ring found BEHIND_FILL_PCT full
 * (its thread is about to wait for room), or, in writer.c, a piece of input compressed slower
 * than a few MB/s, or a megabyte of input compressed less than 2:1. The strong setting
 * uses about 10 MB of compressor memory, only in processes that write enough records to reach
 * it. Between the two, a frame after one that compressed MEDIUM_RATIO to 1 (but not strong's
 * PROMOTE_RATIO) with the writer busy under half of the time is compressed with the middle
 * setting, level 6 with small tables: Python's start-up and object building are like that
 * (they compress 4:1 to 14:1 at level 1, and level 6 writes a fifth less for three times
 * level 1's time, which an idle writer has; churn compresses 2:1 and never gets it). A middle
 * frame that falls behind (a ring BEHIND_FILL_PCT full) ends and backs off as a strong one. An
 * explicit MEMWATCH_ZSTD_LEVEL is used for every frame, with long-distance matching, in frames
 * of FAST_FRAME after the first.
 */
#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>

#include "mw_core.h"
#include "writer_level.h"

#define FIRST_FRAME (128u << 10)
#define FAST_FRAME (4u << 20)
#define STRONG_FRAME (16u << 20)
#define PROMOTE_RATIO 8u
#define LDM_RATIO 4u
#define MEDIUM_RATIO 3u
#define BEHIND_FILL_PCT 75u
#define BACKOFF_MAX 64u
#define SLOW_LEVEL 4 /* explicit levels from here on compress under ~150 MB/s */

static bool strong;          /* the current frame's setting */
static bool first = true;    /* still in the first frame */
static bool ldm;             /* fast frames: long-distance matching (the data repeats) */
static bool medium;          /* fast frames: the middle setting (repeats, an idle writer) */
static bool repetitive;      /* the last frame compressed LDM_RATIO to 1 (any setting); at first: yes */
static unsigned backoff;     /* fast frames to go before trying strong again */
static unsigned backoff_next = 1;
static uint64_t f_in, f_out, f_busy_ns, f_start_ns;

static void set(ZSTD_CCtx *c, ZSTD_cParameter p, int v) { ZSTD_CCtx_setParameter(c, p, v); }

static void apply(ZSTD_CCtx *c)
{
    ZSTD_CCtx_reset(c, ZSTD_reset_parameters);
    if (mw_cfg.zstd_level > 0) {
        set(c, ZSTD_c_compressionLevel, mw_cfg.zstd_level);
        set(c, ZSTD_c_enableLongDistanceMatching, 1);
        set(c, ZSTD_c_windowLog, 21);
        return;
    }
    if (first) {
        /* the first frame (header, modules, the first stack nodes: little repetition) is
         * small: level 9 with a window of its size and small tables (1.1 MB of compressor;
         * level 9's default tables would take 13 MB, and zstd keeps its workspace), -10%
         * against level 1 for a few ms (level 19: -19%, but 50 ms). Tables of 2^15 instead
         * of 2^17 entries: a process that ends at once (/bin/true) takes 140 page faults and
         * 0.4 ms less for zeroing them, and the traces come out the same within their
         * run-to-run spread (01:1x UTC on 2026-11-23: sqlite 23.7-24.9 KB both ways, python
         * 364 against 366 KB, bigheap 5.7 against 5.6 KB) */
        set(c, ZSTD_c_compressionLevel, 9);
        set(c, ZSTD_c_windowLog, 17);
        set(c, ZSTD_c_hashLog, 15);
        set(c, ZSTD_c_chainLog, 15);
        return;
    }
    if (!strong && medium) {
        /* repetitive records and a writer with time to spare, not yet (or no longer) strong:
         * level 6 with 256 KiB tables over a 2 MiB window, about 3x level 1's time for a fifth
         * less (measured on the python bench's first 4.4 MB: 352 -> 276 KB, 10 -> 30 ms) */
        set(c, ZSTD_c_compressionLevel, 6);
        set(c, ZSTD_c_windowLog, 21);
        set(c, ZSTD_c_hashLog, 18);
        set(c, ZSTD_c_chainLog, 18);
        return;
    }
    if (!strong) {
        set(c, ZSTD_c_compressionLevel, 1);
        if (ldm) { /* repetitive records coming too fast for the strong setting */
            set(c, ZSTD_c_enableLongDistanceMatching, 1);
            set(c, ZSTD_c_windowLog, 21);
        }
        return;
    }
    /* btultra with tables sized for a 2 MiB window: within 5% of level 19 on the sqlite bench
     * at about a ninth of its memory (level 19's default tables take 88 MB). Tables of 2^19 and
     * 2^20 entries wrote the same as 2^20 and 2^21 on the sqlite, python and compress_mix
     * runs (25.1-26.8 KB, 364-367 KB, 11-14 KB at 19:55 UTC) for 6 MB less peak RSS; 2^18
     * and 2^19 wrote sqlite's 10-15% bigger. */
    set(c, ZSTD_c_compressionLevel, 18);
    set(c, ZSTD_c_strategy, ZSTD_btultra);
    set(c, ZSTD_c_windowLog, 21);
    set(c, ZSTD_c_hashLog, 19);
    set(c, ZSTD_c_chainLog, 20);
    set(c, ZSTD_c_searchLog, 7);
    set(c, ZSTD_c_enableLongDistanceMatching, 1);
}

void mw_zlevel_init(ZSTD_CCtx *c)
{
    strong = false;
    first = true;
    ldm = false;
    medium = false;
    /* until a frame says otherwise, records are taken to repeat: the first frame's records
     * stay plain (runs only of teardown frees, mw_runs_code). A program that repeats gets
     * longer matches from the start (bigheap's trace 2.75 -> 2.65 KB, compress_mix repeat at
     * level 1 14 -> 5.3 KB); random churn loses its coded runs for the first 128 KiB of
     * records only (+0.1% on churn's 41 MB, 09:05 UTC on 2026-11-23). */
    repetitive = true;
    backoff = 0;
    backoff_next = 1;
    f_in = f_out = f_busy_ns = 0;
    f_start_ns = mw_mono_raw_ns();
    apply(c);
}

void mw_zlevel_account(uint64_t in, uint64_t out, uint64_t busy_ns)
{
    f_in += in;
    f_out += out;
    f_busy_ns += busy_ns;
}

uint64_t mw_zlevel_frame_bytes(void)
{
    if (first) return FIRST_FRAME;
    return strong ? STRONG_FRAME : FAST_FRAME;
}

bool mw_zlevel_behind(unsigned ring_fill_pct)
{
    return (strong || medium) && mw_cfg.zstd_level == 0 && ring_fill_pct >= BEHIND_FILL_PCT;
}

void mw_zlevel_frame_end(ZSTD_CCtx *c, bool behind)
{
    uint64_t now = mw_mono_raw_ns();
    uint64_t wall = now - f_start_ns;
    bool was = strong, was_first = first, was_ldm = ldm, was_medium = medium;
    /* the writer spent less than half of the frame's time compressing */
    bool idle = wall && f_busy_ns * 2 < wall;
    if (mw_cfg.zstd_level == 0 && (was || was_medium) && behind) { /* even if the frame was empty */
        strong = medium = false;
        backoff = backoff_next;
        if (backoff_next < BACKOFF_MAX) backoff_next *= 2;
    } else if (mw_cfg.zstd_level == 0 && f_in > 0) {
        if (!was && backoff) {
            backoff--;
        } else {
            /* a fast frame is promoted, a strong one kept, when it compressed 8:1 (a fast
             * frame also needs an idle writer: strong is busy by nature) */
            bool compressible = f_in >= (uint64_t)PROMOTE_RATIO * (f_out ? f_out : 1);
            strong = compressible && (was || was_first || idle); /* first: not level 1 */
        }
    }
    if (f_in > 0) first = false; /* an explicit level too: its frames are not all 128 KiB */
    /* long-distance matching costs a quarter of level 1's speed and gains nothing on data that
     * does not compress 4:1 (random churn); on repetitive records it writes a tenth */
    if (f_in > 0) repetitive = f_in >= (uint64_t)LDM_RATIO * (f_out ? f_out : 1);
    if (mw_cfg.zstd_level == 0 && f_in > 0) {
        ldm = repetitive;
        /* the middle setting needs both records that repeat (3:1: Python's first frame
         * compresses 3.6-4.2:1 at level 9) and time: never on churn (it compresses 2:1 and
         * level 6 would take three times level 1's time for nothing) nor when the writer is
         * busy (after a strong or middle frame that fell behind, backoff keeps it at level 1) */
        medium = f_in >= (uint64_t)MEDIUM_RATIO * (f_out ? f_out : 1) && idle && !behind && !backoff;
    }
    f_in = f_out = f_busy_ns = 0;
    f_start_ns = now;
    if (strong != was || was_first != first || (!strong && (ldm != was_ldm || medium != was_medium)))
        apply(c); /* the first frame's setting is its own */
}

bool mw_zlevel_strong(void) { return strong; }

bool mw_zlevel_slow(void)
{
    if (mw_cfg.zstd_level > 0) return mw_cfg.zstd_level >= SLOW_LEVEL;
    return first || strong || medium;
}

bool mw_zlevel_repetitive(void) { return repetitive; }
