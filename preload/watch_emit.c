/*
 * watch_emit.c — watch records into the trace: WATCH_REG / UNREG / META, and WATCH_WRITE
 * (one write event). Records go to the calling thread's ring (the fault thread for
 * userfaultfd events, the writer itself in the mprotect fallback); every event names its
 * writer by tid, so the analyzer attributes it to that thread whatever ring carried it.
 */
#include <string.h>

#include "mw_shim.h"
#include "watch_core.h"

static size_t slen(const char *s, size_t max)
{
    size_t n = 0;
    if (s)
        while (n < max && s[n]) n++;
    return n;
}

void mw_watch_count_lost(void) { mw_count_lost(1, 0); }

void mw_watch_emit_reg(const mw_watch *w)
{
    mw_thread *t = mw_self();
    if (!t) { mw_watch_count_lost(); return; }
    size_t n = slen(w->name, MW_WATCH_NAME_MAX);
    MW_EMIT(t, 64 + n, mw_enc_watch_reg, (uint64_t)w->id, (uint64_t)w->addr, (uint64_t)w->len,
            (uint64_t)w->flags, w->name, n);
}

void mw_watch_emit_unreg(int64_t id, unsigned reason)
{
    mw_thread *t = mw_self();
    if (!t) { mw_watch_count_lost(); return; }
    MW_EMIT(t, 32, mw_enc_watch_unreg, (uint64_t)id, (uint64_t)reason);
}

void mw_watch_emit_meta(int64_t id, const char *key, const char *value)
{
    mw_thread *t = mw_self();
    if (!t) { mw_watch_count_lost(); return; }
    size_t kn = slen(key, MW_MAX_STR), vn = slen(value, MW_MAX_STR);
    MW_EMIT(t, 48 + kn + vn, mw_enc_watch_meta, (uint64_t)id, key, kn, value, vn);
}

void mw_watch_emit_write(const mw_watch_event *e)
{
    mw_thread *t = mw_self();
    if (!t) { mw_watch_count_lost(); return; }
    mw_watch_write_args a;
    memset(&a, 0, sizeof a);
    a.id = (uint64_t)e->w->id;
    a.offset = e->offset;
    a.len = e->len;
    a.tid = (uint64_t)e->tid;
    a.pc = e->pc;
    a.stack = e->stack;
    a.sql_fp = e->sql_fp;
    a.flags = e->flags;
    a.t_ns = e->t_ns;
    a.syscall = e->syscall;
    if (e->flags & MW_WF_HAS_BYTES) {
        a.old_bytes = e->old_bytes;
        a.new_bytes = e->new_bytes;
        a.bytes_len = e->len < MW_MAX_WATCH_BYTES ? e->len : MW_MAX_WATCH_BYTES;
    }
    a.loc_file = e->loc_file;
    a.loc_file_len = slen(e->loc_file, 255);
    a.loc_func = e->loc_func;
    a.loc_func_len = slen(e->loc_func, 127);
    a.loc_line = e->loc_line > 0 ? (uint64_t)e->loc_line : 0;
    size_t need = 160 + 2 * a.bytes_len + a.loc_file_len + a.loc_func_len;
    MW_EMIT(t, need, mw_enc_watch_write, &a);
}
