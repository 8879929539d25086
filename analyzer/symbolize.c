/*
 * symbolize.c — offline symbolization with elfutils' libdw (libdwfl).
 *
 * Each distinct object (path + build id) of the traces gets one Dwfl session holding just
 * that object at bias 0, shared by every process that loaded it (a test suite's hundred
 * processes decompress libc's debug info once); a process's address is looked up at
 * ip - (its recorded load bias). Debug info is found the standard way (the object itself,
 * its .gnu_debuglink, /usr/lib/debug/.build-id/..). An object whose file on disk has a
 * different build id than the one recorded (rebuilt since the run) is not trusted: its
 * addresses get module+0xoffset names. Lookups: dwfl_module_addrinfo (function symbol), dwfl_module_getsrc
 * (file:line) and dwarf_getscopes (inlined frames, with DW_AT_call_file/line of each inlined
 * scope giving the caller's position). C++ names are demangled with libstdc++'s
 * __cxa_demangle, loaded with dlopen so the analyzer needs no C++ runtime when it is absent.
 */
#include "symbolize.h"
#include "perfmap.h"

#include <dlfcn.h>
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* One object opened with libdw, shared by all symbolizers (the analyzer is single-threaded). */
typedef struct shared_obj {
    char *path;
    uint8_t build_id[64];
    size_t build_id_len;
    Dwfl *dwfl;             /* NULL: not loadable, not a regular file, or stale */
    Dwfl_Module *dm;
    const char *why;        /* dm NULL: why, for the report ("no such file", ...) */
    uint64_t lo, hi;        /* link-time address span */
} shared_obj;

static struct {
    shared_obj *v;
    size_t n, cap;
    int refs;               /* live symbolizers */
} g_objs;

typedef struct sym_mod {
    uint64_t start, end, bias;
    const char *path;       /* owned by the symbolizer (strings list) */
    Dwfl_Module *dm;        /* NULL: not loadable or stale; addresses are ip - bias */
    const char *why;        /* dm NULL: why (shared_obj.why) */
    bool hit;               /* an address was looked up in it */
} sym_mod;

typedef struct sym_entry {
    size_t first, count;    /* range in frames */
} sym_entry;

struct mw_symbolizer {
    const mw_proc *p;
    sym_mod *mods;
    size_t nmods;
    mw_hmap cache;          /* (ip, is_return) -> entry index */
    MW_VEC(sym_entry) entries;
    MW_VEC(mw_frame) frames;
    MW_VEC(char *) strings;
    mw_perfmap *perfmap;    /* the process's JIT code names (perfmap.h), loaded on first miss */
    bool perfmap_tried;
    size_t unnamed_jit;     /* addresses outside every object the perf map did not name */
};

/* ---- demangling ------------------------------------------------------------------------ */
typedef char *(*demangle_fn)(const char *, char *, size_t *, int *);
static demangle_fn demangler(void)
{
    static int tried;
    static demangle_fn fn;
    if (!tried) {
        tried = 1;
        void *h = dlopen("libstdc++.so.6", RTLD_LAZY | RTLD_LOCAL);
        if (h) fn = (demangle_fn)dlsym(h, "__cxa_demangle");
    }
    return fn;
}

static const char *keep(mw_symbolizer *s, char *str)
{
    if (!str) return NULL;
    if (!MW_VEC_PUSH(s->strings, str)) {
        free(str);
        return NULL;
    }
    return str;
}

static const char *keep_dup(mw_symbolizer *s, const char *str)
{
    return str ? keep(s, strdup(str)) : NULL;
}

static const char *demangled(mw_symbolizer *s, const char *name)
{
    if (!name) return NULL;
    if (name[0] == '_' && name[1] == 'Z') {
        demangle_fn fn = demangler();
        int status = -1;
        char *d = fn ? fn(name, NULL, NULL, &status) : NULL;
        if (d && status == 0) return keep(s, d);
        free(d);
    }
    return keep_dup(s, name);
}

/* ---- set-up ---------------------------------------------------------------------------- */
static char *debuginfo_path;
static const Dwfl_Callbacks callbacks = {
    .find_elf = dwfl_build_id_find_elf,
    .find_debuginfo = dwfl_standard_find_debuginfo,
    .section_address = dwfl_offline_section_address,
    .debuginfo_path = &debuginfo_path,
};

/* The shared session of (path, build id), opened on first use. NULL when unusable, and why
 * in *why. */
static Dwfl_Module *shared_module(const mw_module *m, uint64_t *lo, uint64_t *hi, const char **why)
{
    for (size_t i = 0; i < g_objs.n; i++) {
        shared_obj *o = &g_objs.v[i];
        if (o->build_id_len == m->build_id_len && strcmp(o->path, m->path) == 0 &&
            memcmp(o->build_id, m->build_id, m->build_id_len) == 0) {
            *lo = o->lo;
            *hi = o->hi;
            *why = o->why;
            return o->dm;
        }
    }
    *why = "out of memory";
    if (g_objs.n == g_objs.cap) {
        size_t nc = g_objs.cap ? g_objs.cap * 2 : 16;
        shared_obj *nv = realloc(g_objs.v, nc * sizeof *nv);
        if (!nv) return NULL;
        g_objs.v = nv;
        g_objs.cap = nc;
    }
    shared_obj *o = &g_objs.v[g_objs.n];
    memset(o, 0, sizeof *o);
    if (!(o->path = strdup(m->path))) return NULL;
    memcpy(o->build_id, m->build_id, m->build_id_len);
    o->build_id_len = m->build_id_len;
    g_objs.n++;
    /* Only regular files: a path from a hostile trace naming a FIFO or device must not block
     * or feed libdw endless data. */
    struct stat st;
    *why = o->why = m->path[0] != '/'            ? "not a path"
                    : stat(m->path, &st) != 0    ? "no such file here"
                    : !S_ISREG(st.st_mode)       ? "not a regular file"
                                                 : NULL;
    if (o->why) return NULL;
    *why = o->why = "not an ELF object libdw can read";
    if (!(o->dwfl = dwfl_begin(&callbacks))) return NULL;
    dwfl_report_begin(o->dwfl);
    Dwfl_Module *dm = dwfl_report_elf(o->dwfl, m->path, m->path, -1, 0, false);
    dwfl_report_end(o->dwfl, NULL, NULL);
    if (!dm) return NULL;
    if (m->build_id_len) {
        const unsigned char *bits;
        GElf_Addr vaddr;
        int n = dwfl_module_build_id(dm, &bits, &vaddr);
        if (n > 0 && ((size_t)n != m->build_id_len || memcmp(bits, m->build_id, (size_t)n))) {
            *why = o->why = "changed since the run (another build id)"; /* do not trust it */
            return NULL;
        }
    }
    *why = o->why = NULL;
    Dwarf_Addr l = 0, h = 0;
    dwfl_module_info(dm, NULL, &l, &h, NULL, NULL, NULL, NULL);
    o->dm = dm;
    *lo = o->lo = l;
    *hi = o->hi = h;
    return dm;
}

mw_symbolizer *mw_sym_new(const mw_proc *p)
{
    mw_symbolizer *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->p = p;
    s->mods = calloc(p->modules.n ? p->modules.n : 1, sizeof *s->mods);
    if (!s->mods) {
        free(s);
        return NULL;
    }
    g_objs.refs++;
    for (size_t i = 0; i < p->modules.n; i++) {
        const mw_module *m = &p->modules.v[i];
        sym_mod *sm = &s->mods[s->nmods++];
        sm->start = m->start;
        sm->end = m->start + m->size;
        sm->bias = m->bias;
        sm->path = keep_dup(s, m->path);
        if (!m->path || !m->path[0]) continue;
        uint64_t lo = 0, hi = 0;
        sm->dm = shared_module(m, &lo, &hi, &sm->why);
        /* The recorded span wins; fill it from libdw when the trace had none. */
        if (sm->dm && sm->end <= sm->start) {
            sm->start = lo + m->bias;
            sm->end = hi + m->bias;
        }
    }
    return s;
}

void mw_sym_free(mw_symbolizer *s)
{
    if (!s) return;
    for (size_t i = 0; i < s->strings.n; i++) free(s->strings.v[i]);
    free(s->strings.v);
    free(s->frames.v);
    free(s->entries.v);
    mw_hmap_free(&s->cache);
    mw_perfmap_free(s->perfmap);
    free(s->mods);
    free(s);
    if (--g_objs.refs == 0) {
        for (size_t i = 0; i < g_objs.n; i++) {
            if (g_objs.v[i].dwfl) dwfl_end(g_objs.v[i].dwfl);
            free(g_objs.v[i].path);
        }
        free(g_objs.v);
        memset(&g_objs, 0, sizeof g_objs);
    }
}

/* ---- lookups --------------------------------------------------------------------------- */
static sym_mod *find_mod(mw_symbolizer *s, uint64_t a)
{
    sym_mod *best = NULL;
    for (size_t i = 0; i < s->nmods; i++) {
        sym_mod *m = &s->mods[i];
        if (a >= m->start && a < m->end) {
            /* Prefer a module libdw can read when spans overlap. */
            if (!best || (!best->dm && m->dm)) best = m;
        }
    }
    return best;
}

static const char *basename_of(const char *path)
{
    const char *b = strrchr(path, '/');
    return b ? b + 1 : path;
}

static const char *die_name(mw_symbolizer *s, Dwarf_Die *die)
{
    Dwarf_Attribute at;
    const char *n = NULL;
    if (dwarf_attr_integrate(die, DW_AT_linkage_name, &at) ||
        dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &at))
        n = dwarf_formstring(&at);
    if (!n && dwarf_attr_integrate(die, DW_AT_name, &at)) n = dwarf_formstring(&at);
    return n ? demangled(s, n) : NULL;
}

static bool push_frame(mw_symbolizer *s, uint64_t ip, unsigned depth, const char *fn,
                       const char *file, uint64_t line, const char *module)
{
    mw_frame f = {ip, depth, fn, file, line, module, 0};
    return MW_VEC_PUSH(s->frames, f);
}

/* The name the process's perf map gives address a (perfmap.h): /tmp/perf-<pid>.map, read on
 * the first address outside every object, if it was written by the trace file's owner while
 * the process ran. */
static bool jit_name(mw_symbolizer *s, uint64_t a, mw_perfmap_sym *out)
{
    if (!s->perfmap_tried) {
        s->perfmap_tried = true;
        const mw_proc *p = s->p;
        char path[64];
        snprintf(path, sizeof path, "/tmp/perf-%llu.map", (unsigned long long)p->pid);
        struct stat st;
        uid_t owner = p->trace_path && stat(p->trace_path, &st) == 0 ? st.st_uid : getuid();
        int64_t start = (int64_t)(p->start_realtime_ns / 1000000000u);
        int64_t end = (int64_t)((p->start_realtime_ns + p->t_ns) / 1000000000u);
        if (p->pid && p->start_realtime_ns) s->perfmap = mw_perfmap_load(path, owner, start - 2, end + 5, NULL, 0);
    }
    return mw_perfmap_lookup(s->perfmap, a, out);
}

/* Symbolizes a (the adjusted address) into frames; returns how many were pushed. */
static size_t resolve(mw_symbolizer *s, uint64_t ip, uint64_t a)
{
    char buf[64];
    sym_mod *m = find_mod(s, a);
    Dwfl_Module *dm = m ? m->dm : NULL;
    const char *modpath = m ? m->path : NULL;
    mw_perfmap_sym js;
    if (!m && jit_name(s, a, &js)) {
        /* generated code the runtime named in its perf map: a JavaScript function and its
         * script line under node --perf-basic-prof */
        if (!push_frame(s, ip, 0, js.function, js.file, js.line, NULL)) return 0;
        s->frames.v[s->frames.n - 1].fn_offset = js.offset + (ip - a);
        return 1;
    }
    if (!dm) {
        /* No usable object: module+0xoffset (offset from the load bias, i.e. the link-time
         * address, which addr2line -e MODULE accepts), or the bare address. */
        if (m && m->path) {
            m->hit = true;
            char *n = NULL;
            if (asprintf(&n, "%s+0x%" PRIx64, basename_of(m->path), ip - m->bias) < 0) n = NULL;
            return push_frame(s, ip, 0, keep(s, n), NULL, 0, modpath);
        }
        if (!m) s->unnamed_jit++;
        snprintf(buf, sizeof buf, "0x%" PRIx64, ip);
        return push_frame(s, ip, 0, keep_dup(s, buf), NULL, 0, modpath);
    }
    a -= m->bias; /* the shared session holds the object at bias 0 */
    GElf_Off off = 0;
    GElf_Sym esym;
    const char *symname = dwfl_module_addrinfo(dm, a, &off, &esym, NULL, NULL, NULL);
    char plain[512];
    if (symname && strchr(symname, '@')) {
        /* "__libc_start_main@@GLIBC_2.34": drop the symbol version */
        snprintf(plain, sizeof plain, "%.*s", (int)strcspn(symname, "@"), symname);
        symname = plain;
    }
    const char *fn = symname ? demangled(s, symname) : NULL;
    if (!fn) {
        char *n = NULL;
        const char *base = modpath ? basename_of(modpath) : "?";
        if (asprintf(&n, "%s+0x%" PRIx64, base, ip - m->bias) < 0) n = NULL;
        fn = keep(s, n);
    }
    const char *file = NULL;
    int line = 0;
    Dwfl_Line *dl = dwfl_module_getsrc(dm, a);
    if (dl) {
        const char *f = dwfl_lineinfo(dl, NULL, &line, NULL, NULL, NULL);
        file = keep_dup(s, f);
        if (line < 0) line = 0;
    }
    /* Inlined frames. */
    size_t pushed = 0;
    Dwarf_Addr bias = 0;
    Dwarf_Die *cudie = dwfl_module_addrdie(dm, a, &bias);
    Dwarf_Die *scopes = NULL;
    int nscopes = cudie ? dwarf_getscopes(cudie, a - bias, &scopes) : 0;
    /* dwarf_getscopes goes on from an inlined instance into the scopes of its abstract
     * definition, not into the function it was inlined in: from the innermost inlined
     * instance, dwarf_getscopes_die gives the physical nesting (inlined in inlined ... in the
     * subprogram), which is the call chain. */
    for (int i = 0; i < nscopes; i++) {
        int tag = dwarf_tag(&scopes[i]);
        if (tag == DW_TAG_subprogram) break;
        if (tag != DW_TAG_inlined_subroutine) continue;
        Dwarf_Die inner = scopes[i], *chain = NULL;
        int nchain = dwarf_getscopes_die(&inner, &chain);
        free(scopes);
        scopes = nchain > 0 ? chain : NULL;
        nscopes = nchain > 0 ? nchain : 0;
        if (nchain <= 0) free(chain);
        break;
    }
    Dwarf_Files *files = NULL;
    size_t nfiles = 0;
    if (cudie && dwarf_getsrcfiles(cudie, &files, &nfiles) != 0) files = NULL;
    for (int i = 0; i < nscopes; i++) {
        Dwarf_Die *sc = &scopes[i];
        int tag = dwarf_tag(sc);
        if (tag == DW_TAG_inlined_subroutine) {
            const char *iname = die_name(s, sc);
            if (!push_frame(s, ip, (unsigned)pushed, iname ? iname : fn, file, (uint64_t)line,
                            modpath))
                break;
            pushed++;
            /* The caller's position is this scope's call site. */
            Dwarf_Attribute at;
            Dwarf_Word v;
            const char *cf = NULL;
            if (files && dwarf_attr(sc, DW_AT_call_file, &at) && dwarf_formudata(&at, &v) == 0)
                cf = dwarf_filesrc(files, v, NULL, NULL);
            file = cf ? keep_dup(s, cf) : file;
            line = 0;
            if (dwarf_attr(sc, DW_AT_call_line, &at) && dwarf_formudata(&at, &v) == 0)
                line = (int)v;
        } else if (tag == DW_TAG_subprogram) {
            break;
        }
    }
    free(scopes);
    if (push_frame(s, ip, (unsigned)pushed, fn, file, (uint64_t)line, modpath)) {
        if (symname) s->frames.v[s->frames.n - 1].fn_offset = off + (ip - m->bias - a);
        pushed++;
    }
    return pushed;
}

size_t mw_sym_addr(mw_symbolizer *s, uint64_t ip, bool is_return, const mw_frame **out)
{
    static const mw_frame oom = {0, 0, "?", NULL, 0, NULL, 0};
    uint64_t key = ip ^ (is_return ? 0 : (1ull << 63));
    uint64_t *v = mw_hmap_get(&s->cache, key);
    if (!v) {
        size_t first = s->frames.n;
        uint64_t a = is_return && ip > 0 ? ip - 1 : ip;
        size_t n = resolve(s, ip, a);
        sym_entry e = {first, n};
        if (n == 0 || !MW_VEC_PUSH(s->entries, e) || !(v = mw_hmap_put(&s->cache, key, NULL))) {
            *out = &oom;
            return 1;
        }
        *v = s->entries.n - 1;
    }
    sym_entry *e = &s->entries.v[*v];
    *out = &s->frames.v[e->first];
    return e->count;
}

/* Frames inside the shim itself (e.g. its main() wrapper) are not the program's. */
static bool is_shim_frame(const mw_frame *f)
{
    if (!f->module) return false;
    const char *b = basename_of(f->module);
    return strncmp(b, "libmemwatch_preload", 19) == 0;
}

size_t mw_sym_stack(mw_symbolizer *s, uint64_t stack, mw_frame *out, size_t max)
{
    uint64_t ips[256];
    size_t n = mw_proc_stack_ips(s->p, stack, ips, sizeof ips / sizeof ips[0]);
    size_t k = 0;
    for (size_t i = 0; i < n && k < max; i++) {
        const mw_frame *f;
        size_t c = mw_sym_addr(s, ips[i], true, &f);
        for (size_t j = 0; j < c && k < max; j++)
            if (!is_shim_frame(&f[j])) out[k++] = f[j];
    }
    return k;
}

size_t mw_sym_unnamed_jit(const mw_symbolizer *s) { return s && !s->perfmap ? s->unnamed_jit : 0; }

bool mw_sym_unreadable(const mw_symbolizer *s, size_t *it, const char **path, const char **why)
{
    for (; s && *it < s->nmods; (*it)++) {
        const sym_mod *m = &s->mods[*it];
        if (m->hit && !m->dm && m->path && m->why) {
            *path = m->path;
            *why = m->why;
            (*it)++;
            return true;
        }
    }
    return false;
}

void mw_sym_foreach(const mw_symbolizer *s, void (*fn)(const mw_frame *f, void *arg), void *arg)
{
    for (size_t i = 0; i < s->frames.n; i++) fn(&s->frames.v[i], arg);
}
