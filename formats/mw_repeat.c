/*
 * mw_repeat.c — the writer's repeat finder: records that repeat a recent stretch go out as one
 * REPEAT record (trace format version 6). See mw_repeat.h for why and how it is used.
 *
 * Every record fed is looked up by its bytes in a hash table of the latest occurrence of each;
 * a record seen again at most MW_REP_PATTERN bytes back starts a candidate: the stretch from
 * that occurrence up to here is the pattern, and each record that follows is compared with the
 * bytes one stretch back in the history, while they agree. They are held back meanwhile (only
 * counted: they are the stretch over and over; a copy of it is made only when the repeat
 * ends, which the history still holds then). When a record disagrees (or the caller flushes), a repeat long enough is written
 * as the bytes before it, one REPEAT of whole stretches and the part of a stretch left over; a
 * shorter one is let go as the plain bytes it stands for.
 */
#include "mw_format.h"

#include <string.h>

_Static_assert(MW_REP_PATTERN == MW_REPEAT_MAX_PATTERN, "the finder's patterns fit a REPEAT");
_Static_assert(MW_REP_HIST >= 2u * MW_REP_PATTERN, "the history holds a pattern and a record");
_Static_assert(MW_REP_MIN_BYTES + MW_REP_PATTERN <= MW_REPEAT_MAX_BYTES, "a worthwhile repeat fits a REPEAT");

void mw_repeat_init(mw_repeat *r)
{
    r->pos = 0;
    memset(r->tab, 0, sizeof r->tab);
    r->per = 0;
    r->held = r->held_before = 0;
    r->owner = NULL;
    r->saved = r->written = 0;
}

/* The bytes of a record: its first 16 (or fewer) and its length. */
static inline unsigned rec_hash(const uint8_t *q, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ull ^ len;
    size_t k = len < 16 ? len : 16;
    for (size_t i = 0; i < k; i++) h = (h ^ q[i]) * 0x100000001b3ull;
    return (unsigned)(h >> 40) & (MW_REP_TAB - 1u);
}

static inline void hist_put(mw_repeat *r, const uint8_t *q, size_t len)
{
    if (len > MW_REP_HIST) { /* only the last MW_REP_HIST bytes can ever be looked at */
        r->pos += len - MW_REP_HIST;
        q += len - MW_REP_HIST;
        len = MW_REP_HIST;
    }
    size_t at = (size_t)(r->pos % MW_REP_HIST), first = MW_REP_HIST - at < len ? MW_REP_HIST - at : len;
    memcpy(r->hist + at, q, first);
    memcpy(r->hist, q + first, len - first);
    r->pos += len;
}

/* Copies len bytes of history from stream offset `from` (still in the history). */
static inline void hist_get(const mw_repeat *r, uint64_t from, uint8_t *dst, size_t len)
{
    size_t at = (size_t)(from % MW_REP_HIST), first = MW_REP_HIST - at < len ? MW_REP_HIST - at : len;
    memcpy(dst, r->hist + at, first);
    memcpy(dst + first, r->hist, len - first);
}

static inline int hist_equal(const mw_repeat *r, uint64_t from, const uint8_t *q, size_t len)
{
    size_t at = (size_t)(from % MW_REP_HIST), first = MW_REP_HIST - at < len ? MW_REP_HIST - at : len;
    return memcmp(r->hist + at, q, first) == 0 && memcmp(r->hist, q + first, len - first) == 0;
}

static inline int worth(const mw_repeat *r)
{
    return r->held >= 2u * r->per && r->held - r->held % r->per >= MW_REP_MIN_BYTES;
}

/* The stretch into pat: the last whole one of the held bytes, or the one before them (the
 * history holds both: they end at most 2 MW_REP_PATTERN bytes back). */
static void take_pattern(mw_repeat *r)
{
    uint64_t end = r->start + r->held / r->per * r->per;
    hist_get(r, end - r->per, r->pat, r->per);
}

/* Emits the held bytes from the pattern (before any held in the caller's buffer). */
static void emit_expanded(mw_repeat *r, uint64_t n, mw_emit_fn emit, void *ctx)
{
    while (n) {
        size_t k = 0;
        while (k < sizeof r->out && n) { /* whole stretches, then the start of one */
            size_t off = (size_t)((r->held - n) % r->per), take = r->per - off;
            if (take > n) take = (size_t)n;
            if (take > sizeof r->out - k) take = sizeof r->out - k;
            memcpy(r->out + k, r->pat + off, take);
            k += take;
            n -= take;
        }
        emit(ctx, r->out, k, 0);
    }
}

/* Ends the repeat under way. `here` is the input position it ended at and `hold` where its
 * bytes in the input begin (both NULL when called from mw_repeat_flush: none in an input).
 * Emits what is held and not left in the caller's plain span; returns the new span start
 * (here, or the leftover part of a stretch just before it). */
static const uint8_t *end_repeat(mw_repeat *r, const uint8_t *span, const uint8_t *hold, const uint8_t *here,
                                 mw_emit_fn emit, void *ctx)
{
    if (worth(r) || r->held_before) take_pattern(r);
    if (worth(r)) {
        if (hold > span) emit(ctx, span, (size_t)(hold - span), 0);
        uint64_t count = r->held / r->per, rem = r->held % r->per;
        size_t n = mw_enc_repeat(r->out, sizeof r->out, count, r->pat, r->per);
        emit(ctx, r->out, n, 0); /* n > 0: per <= MW_REP_PATTERN, count * per <= held <= max */
        r->saved += (count - 1) * r->per;
        r->written++;
        /* the leftover is the pattern's first rem bytes: still in the input, or from pat */
        if (here && (uint64_t)(here - hold) >= rem) {
            span = here - rem;
        } else {
            if (rem) emit(ctx, r->pat, (size_t)rem, 0);
            span = here;
        }
    } else if (r->held_before) {
        /* let go: the bytes from earlier calls first, then the input's stay in the span
         * (which starts where they do: a repeat carried over holds the input from its start) */
        uint64_t before = r->held_before;
        r->held = before; /* emit_expanded counts offsets from the repeat's start */
        emit_expanded(r, before, emit, ctx);
        span = hold ? hold : here;
    }
    r->per = 0;
    r->held = r->held_before = 0;
    return span;
}

void mw_repeat_feed(mw_repeat *r, const void *owner, const uint8_t *p, size_t n, mw_emit_fn emit, void *ctx)
{
    if (owner != r->owner) {
        mw_repeat_flush(r, emit, ctx);
        r->owner = owner;
        r->pos += 2u * MW_REP_HIST; /* another stream: nothing before is a candidate */
    }
    const uint8_t *end = p + n, *span = p, *q = p;
    const uint8_t *hold = r->per ? p : NULL; /* a repeat carried over holds from the start */
    while (q < end) {
        size_t len;
        if (mw_record_size(q, (size_t)(end - q), &len)) {
            /* not whole records (the caller's promise broken): no more finding in these */
            if (r->per) span = end_repeat(r, span, hold, q, emit, ctx);
            break;
        }
        if (r->per) {
            size_t off = (size_t)(r->held % r->per);
            if (off + len <= r->per && r->held + len <= MW_REPEAT_MAX_BYTES &&
                hist_equal(r, r->pos - r->per, q, len)) {
                r->held += len;
                hist_put(r, q, len);
                q += len;
                continue;
            }
            span = end_repeat(r, span, hold, q, emit, ctx);
            hold = NULL;
        }
        if (len <= MW_REP_PATTERN) {
            unsigned h = rec_hash(q, len);
            uint64_t x = r->tab[h];
            r->tab[h] = r->pos + 1;
            if (x && r->pos - (x - 1) <= MW_REP_PATTERN && r->pos - (x - 1) >= len && hist_equal(r, x - 1, q, len)) {
                r->per = (size_t)(r->pos - (x - 1));
                r->start = r->pos;
                r->held = len;
                r->held_before = 0;
                hold = q;
            }
        }
        hist_put(r, q, len);
        q += len;
    }
    if (r->per && hold) {
        /* the repeat goes on into the next call: its bytes here are held (they are the
         * pattern's), the span before them goes out */
        if (hold > span) emit(ctx, span, (size_t)(hold - span), 0);
        r->held_before = r->held;
        return;
    }
    if (end > span) emit(ctx, span, (size_t)(end - span), 0);
}

void mw_repeat_flush(mw_repeat *r, mw_emit_fn emit, void *ctx)
{
    if (r->per) end_repeat(r, NULL, NULL, NULL, emit, ctx);
}
