/*
 * writer_level.h — the writer's per-frame choice of compression settings (writer_level.c).
 */
#ifndef MW_WRITER_LEVEL_H
#define MW_WRITER_LEVEL_H

#include <stdbool.h>
#include <stdint.h>
#include <zstd.h>

/* Sets the first frame's parameters on c. */
void mw_zlevel_init(ZSTD_CCtx *c);
/* Input bytes, compressed bytes and time spent compressing, for the current frame. */
void mw_zlevel_account(uint64_t in, uint64_t out, uint64_t busy_ns);
/* Input after which the writer ends the current frame. */
uint64_t mw_zlevel_frame_bytes(void);
/* True when the writer, compressing strong or middle, is falling behind the program (the
 * fullest ring it just drained, in percent): the caller ends the frame (frame_end with behind). */
bool mw_zlevel_behind(unsigned ring_fill_pct);
/* A frame just ended (ZSTD_e_end done): picks and applies the next frame's settings. */
void mw_zlevel_frame_end(ZSTD_CCtx *c, bool behind);
bool mw_zlevel_strong(void);
/* The current frame compresses at a setting much slower than level 1 (the first frame's
 * level 9, the middle or strong setting, an explicit level of 4 or more): the writer copies
 * a ring's bytes out before compressing them (writer.c, drain_one). */
bool mw_zlevel_slow(void);
/* The last frame compressed 4:1 or better: the records repeat, and the writer leaves them
 * as they are (no coded runs) for zstd's match finder. */
bool mw_zlevel_repetitive(void);

#endif
