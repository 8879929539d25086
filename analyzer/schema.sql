-- schema.sql — the memwatch-analyze store (SQLite). Embedded into the analyzer at build time
-- (schema_embed.c) and applied to every store it opens; `sqlite3 TRACE.db .schema` shows it.
--
-- One row in `runs` per ingested trace (one traced process). Every other table hangs off a
-- run through `run_id`. Re-ingesting the same trace (same pid, start time and trace file)
-- replaces that run's rows. Conventions: times are nanoseconds since the traced process
-- started (its monotonic clock) unless named *_realtime_ns; sizes are bytes; addresses and
-- other unsigned 64-bit values are stored as signed 64-bit integers (two's complement, so
-- printf('%x', addr) shows them); SQL fingerprints are 16-digit lower-case hex text; a
-- "stack id" names a node of the trace's stack tree (stack_nodes), 0 = no stack.
PRAGMA user_version = 1;

CREATE TABLE IF NOT EXISTS runs (
    -- One traced process (one trace file) per row; every other table hangs off run_id.
    -- Conventions of all tables: times are ns since the process started (*_realtime_ns: since
    -- the epoch), sizes are bytes, addresses are signed 64-bit (two's complement), SQL
    -- fingerprints are 16-digit hex text, a stack id names a stack_nodes row (0 = none).
    run_id            INTEGER PRIMARY KEY, -- key used by every other table
    trace_path        TEXT NOT NULL,       -- absolute path of the trace file ingested
    pid               INTEGER NOT NULL,    -- traced process id
    ppid              INTEGER,             -- its parent's pid
    exe               TEXT,                -- executable path (from /proc/self/exe)
    argv              TEXT,                -- command line, arguments joined by single spaces (see run_args)
    start_realtime_ns INTEGER NOT NULL,    -- wall-clock start, ns since the Unix epoch
    format_version    INTEGER,             -- trace format version
    header_flags      INTEGER,             -- HEADER.flags (1 alloc tracing, 2 follow, 4 sql, 8 stacks)
    ingested_at       TEXT,                -- UTC time of ingestion (ISO 8601)
    duration_ns       INTEGER,             -- last timestamp seen in the trace
    ended             INTEGER,             -- 1 when the trace has its END record
    truncated         INTEGER,             -- 1 when the trace ended without its END record
    exit_status       INTEGER,             -- exit status from END (-1 unknown)
    end_reason        INTEGER,             -- 0 exit, 1 exec, 2 shim shutdown
    lost_events       INTEGER,             -- events the shim could not record
    lost_bytes        INTEGER,             -- bytes of those events
    allocations       INTEGER,             -- malloc-family calls (realloc counts as one)
    frees             INTEGER,             -- frees (realloc of a block counts as one)
    reallocs          INTEGER,             -- realloc calls that moved/resized a block
    bytes_allocated   INTEGER,             -- total bytes requested
    temporary         INTEGER,             -- allocations freed with no other allocation of the thread in between
    peak_heap_bytes   INTEGER,             -- maximum tracked live heap bytes
    peak_heap_t_ns    INTEGER,             -- when that maximum was reached
    peak_rss_bytes    INTEGER,             -- maximum sampled RSS
    peak_mmap_bytes   INTEGER,             -- maximum tracked live mmap bytes
    unmatched_frees   INTEGER,             -- frees naming a block never allocated in the trace
    limit_bytes       INTEGER,             -- memory limit in force (cgroup, else RLIMIT_AS, else RAM; 0 none)
    UNIQUE (pid, start_realtime_ns, trace_path)
);

CREATE TABLE IF NOT EXISTS run_args (
    -- The command line, one argument per row.
    run_id INTEGER NOT NULL REFERENCES runs(run_id), -- the run (trace) this row belongs to
    idx    INTEGER NOT NULL,   -- 0 = argv[0]
    arg    TEXT NOT NULL,      -- the argument as recorded
    PRIMARY KEY (run_id, idx)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS facts (
    -- Facts about the trace that are not totals: forks, execs, lost records, truncation.
    run_id INTEGER NOT NULL REFERENCES runs(run_id), -- the run (trace) this row belongs to
    idx    INTEGER NOT NULL,   -- order of appearance
    key    TEXT NOT NULL,      -- 'fork' (value: child pid), 'exec' (path), 'lost_events', 'lost_bytes', 'truncated', 'watch_events_total'
    value  TEXT,               -- the fact's value
    PRIMARY KEY (run_id, idx)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS threads (
    -- Threads of the process by trace thread index.
    run_id      INTEGER NOT NULL REFERENCES runs(run_id), -- the run (trace) this row belongs to
    tidx        INTEGER NOT NULL, -- dense thread index used inside the trace
    tid         INTEGER,          -- kernel thread id (0 unknown)
    parent_tidx INTEGER,          -- thread index of the creating thread
    name        TEXT,             -- last thread name recorded
    PRIMARY KEY (run_id, tidx)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS modules (
    -- Loaded objects (executable, shared libraries), used to symbolize offline.
    run_id    INTEGER NOT NULL REFERENCES runs(run_id), -- the run (trace) this row belongs to
    module_id INTEGER NOT NULL, -- module id in the trace
    path      TEXT,             -- path of the object as loaded
    bias      INTEGER,          -- load bias (runtime address - link-time address)
    start     INTEGER,          -- first address of its mapped span
    size      INTEGER,          -- span length
    build_id  TEXT,             -- GNU build id, hex ('' if none)
    unloaded  INTEGER,          -- 1 when dlclose'd during the run
    PRIMARY KEY (run_id, module_id)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS stack_nodes (
    -- The stack tree: each node is one frame (return address) plus its caller's node.
    run_id    INTEGER NOT NULL REFERENCES runs(run_id), -- the run (trace) this row belongs to
    node_id   INTEGER NOT NULL, -- stack id (what sites, blocks and events reference)
    parent_id INTEGER,          -- caller's node (0 = outermost)
    ip        INTEGER,          -- return address (or faulting pc) of this frame
    PRIMARY KEY (run_id, node_id)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS frames (
    -- Symbolized frames of the addresses the reports use. One address may expand to several
    -- rows when functions were inlined (inline_depth 0 = innermost).
    run_id       INTEGER NOT NULL REFERENCES runs(run_id), -- the run (trace) this row belongs to
    ip           INTEGER NOT NULL, -- address as recorded (looked up at ip-1 for return addresses)
    inline_depth INTEGER NOT NULL, -- 0 innermost, growing towards the real (non-inlined) function
    function     TEXT,             -- demangled function name, or module+0xoffset when unknown
    file         TEXT,             -- source file (NULL when no debug info)
    line         INTEGER,          -- source line (0 when unknown)
    module       TEXT,             -- path of the object containing ip
    PRIMARY KEY (run_id, ip, inline_depth)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS sites (
    -- Allocation sites: every allocation made with the same stack.
    run_id          INTEGER NOT NULL REFERENCES runs(run_id), -- the run (trace) this row belongs to
    stack_id        INTEGER NOT NULL, -- stack of the allocation (stack_nodes.node_id)
    calls           INTEGER,          -- allocations made here
    bytes           INTEGER,          -- bytes requested here
    frees           INTEGER,          -- of those, freed
    temporary       INTEGER,          -- freed right after allocation (heaptrack's "temporary")
    peak_live_bytes INTEGER,          -- maximum live bytes of this site
    end_live_bytes  INTEGER,          -- live bytes when the trace ended
    leaked_bytes    INTEGER,          -- unfreed bytes at exit (all kinds)
    leaked_blocks   INTEGER,          -- unfreed blocks at exit (all kinds)
    PRIMARY KEY (run_id, stack_id)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS site_series (
    -- Live bytes of a site over time (only sites whose live bytes changed; decimated).
    run_id     INTEGER NOT NULL REFERENCES runs(run_id), -- the run (trace) this row belongs to
    stack_id   INTEGER NOT NULL, -- the site
    t_ns       INTEGER NOT NULL, -- sample time
    live_bytes INTEGER,          -- the site's live bytes then
    PRIMARY KEY (run_id, stack_id, t_ns)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS unfreed_blocks (
    -- Heap blocks never freed, with their reachability at exit.
    run_id     INTEGER NOT NULL REFERENCES runs(run_id), -- the run (trace) this row belongs to
    tidx       INTEGER NOT NULL, -- allocating thread index
    seq        INTEGER NOT NULL, -- its allocation number on that thread (1-based)
    addr       INTEGER,          -- block address
    size       INTEGER,          -- bytes requested
    stack_id   INTEGER,          -- allocation stack
    kind       TEXT,             -- definite | indirect | reachable | unknown (no reachability scan)
    sql_fp     TEXT,             -- SQL fingerprint in force when allocated, NULL if none
    suppressed INTEGER,          -- 1 when matched by --suppressions
    PRIMARY KEY (run_id, tidx, seq)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS leaks (
    -- Unfreed blocks grouped by (stack, kind): the leak table of the reports.
    run_id     INTEGER NOT NULL REFERENCES runs(run_id), -- the run (trace) this row belongs to
    stack_id   INTEGER NOT NULL, -- allocation stack
    kind       TEXT NOT NULL,    -- definite | indirect | reachable | unknown
    bytes      INTEGER,          -- unfreed bytes
    blocks     INTEGER,          -- unfreed blocks
    suppressed INTEGER,          -- 1 when matched by --suppressions
    PRIMARY KEY (run_id, stack_id, kind)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS series (
    -- The process time series: at every RSS sample and at regular intervals (decimated).
    run_id     INTEGER NOT NULL REFERENCES runs(run_id), -- the run (trace) this row belongs to
    t_ns       INTEGER NOT NULL, -- sample time
    heap_bytes INTEGER,          -- tracked live heap bytes
    mmap_bytes INTEGER,          -- tracked live mmap bytes
    rss_bytes  INTEGER,          -- resident set size (last sample; 0 before the first)
    anon_bytes INTEGER,          -- anonymous resident bytes
    file_bytes INTEGER,          -- file-backed resident bytes
    PRIMARY KEY (run_id, t_ns)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS mappings (
    -- Mappings (mmap/mremap) still mapped when the trace ended.
    run_id   INTEGER NOT NULL REFERENCES runs(run_id), -- the run (trace) this row belongs to
    addr     INTEGER NOT NULL, -- start address
    len      INTEGER,          -- length in bytes
    prot     INTEGER,          -- PROT_* bits
    flags    INTEGER,          -- MAP_* bits
    fd       INTEGER,          -- file descriptor (-1 anonymous)
    offset   INTEGER,          -- file offset
    path     TEXT,             -- file path for file-backed mappings
    stack_id INTEGER,          -- stack of the mmap call
    t_ns     INTEGER,          -- when it was mapped
    PRIMARY KEY (run_id, addr)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS marks (
    -- memwatch_mark() labels (phase / test boundaries).
    run_id     INTEGER NOT NULL REFERENCES runs(run_id), -- the run (trace) this row belongs to
    idx        INTEGER NOT NULL, -- order in the trace
    t_ns       INTEGER,          -- when
    tidx       INTEGER,          -- marking thread
    label      TEXT,             -- the label
    heap_bytes INTEGER,          -- tracked live heap then
    rss_bytes  INTEGER,          -- last RSS sample then
    PRIMARY KEY (run_id, idx)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS sql_queries (
    -- SQL queries by fingerprint (literals normalized).
    run_id          INTEGER NOT NULL REFERENCES runs(run_id), -- the run (trace) this row belongs to
    fingerprint     TEXT NOT NULL, -- XXH3 of the normalized text, hex
    db              TEXT,          -- sqlite | postgres | other | unknown
    text            TEXT,          -- normalized query text
    calls           INTEGER,       -- executions (SQL contexts begun)
    allocations     INTEGER,       -- allocations made while it ran
    bytes_allocated INTEGER,       -- their bytes
    bytes_leaked    INTEGER,       -- of those, unfreed at exit
    blocks_leaked   INTEGER,       -- unfreed blocks
    PRIMARY KEY (run_id, fingerprint)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS sql_leaked_resources (
    -- SQL statements / results / connections never finalized / cleared / closed.
    run_id      INTEGER NOT NULL REFERENCES runs(run_id), -- the run (trace) this row belongs to
    type        TEXT NOT NULL,    -- statement | result | connection
    stack_id    INTEGER NOT NULL, -- stack that created them
    db          TEXT,             -- sqlite | postgres | other | unknown
    fingerprint TEXT,             -- query fingerprint (of one of them), NULL if none
    count       INTEGER,          -- how many were leaked
    PRIMARY KEY (run_id, type, stack_id)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS watch_vars (
    -- Watched variables (memwatch_watch, MEMWATCH_WATCH, adapters).
    run_id       INTEGER NOT NULL REFERENCES runs(run_id), -- the run (trace) this row belongs to
    var_id       INTEGER NOT NULL, -- watch id
    name         TEXT,             -- variable name
    addr         INTEGER,          -- watched address
    len          INTEGER,          -- watched length
    flags        INTEGER,          -- MEMWATCH_TRACK_* / MUTATION_FULL flags
    writes       INTEGER,          -- write events recorded
    unregistered INTEGER,          -- 1 when unwatched before the end
    PRIMARY KEY (run_id, var_id)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS watch_meta (
    -- Metadata set with memwatch_update_metadata().
    run_id INTEGER NOT NULL REFERENCES runs(run_id), -- the run (trace) this row belongs to
    var_id INTEGER NOT NULL, -- watch id
    idx    INTEGER NOT NULL, -- order of the update
    key    TEXT,             -- metadata key
    value  TEXT,             -- metadata value
    PRIMARY KEY (run_id, var_id, idx)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS watch_events (
    -- Writes to watched memory (the first MW_WATCH_EVENTS_KEEP = 10000 of a run; the facts
    -- table's watch_events_total has the full count).
    run_id   INTEGER NOT NULL REFERENCES runs(run_id), -- the run (trace) this row belongs to
    idx      INTEGER NOT NULL, -- order in the trace
    var_id   INTEGER,          -- watch id (watch_vars)
    t_ns     INTEGER,          -- when
    offset   INTEGER,          -- offset of the write inside the watched range
    len      INTEGER,          -- bytes written
    tid      INTEGER,          -- writer's kernel thread id
    pc       INTEGER,          -- faulting instruction (user-mode writes)
    stack_id INTEGER,          -- writer's stack (0 none)
    sql_fp   TEXT,             -- SQL context in force, NULL if none
    syscall  INTEGER,          -- system call number for kernel writes, NULL for user writes
    old_hex  TEXT,             -- old bytes, hex (NULL without MUTATION_FULL)
    new_hex  TEXT,             -- new bytes, hex
    loc_file TEXT,             -- adapter source location: file
    loc_line INTEGER,          --   line
    loc_func TEXT,             --   function
    PRIMARY KEY (run_id, idx)
) WITHOUT ROWID;
