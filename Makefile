# memwatch — the one entry point: build, test, demo, bench, fuzz, install.
#
# Everything is built out of tree into build/. Source sets are found by directory, so adding
# a file to preload/, analyzer/, formats/ or tests/ needs no edit here:
#   preload/*.c               -> build/libmemwatch_preload.so   (the shim, LD_PRELOAD target)
#   formats/mw_encode.c, mw_runs.c, mw_repeat.c -> linked into the shim (allocation-free writing)
#   formats/*.c               -> linked into the analyzer, runner and tests (decoder, reader)
#   analyzer/*.c (not main.c) -> build/libmwanalyze.a; analyzer/main.c -> build/memwatch-analyze
#   scripts/runner/*.c        -> build/memwatch (the test-suite runner; links libmwanalyze.a)
#   tests/unit/test_*.c       -> build/tests/unit/*         (Criterion, ASan+UBSan)
#   tests/integration/test_*.c-> build/tests/integration/*  (Criterion; spawn victims under the shim)
#   tests/victims/*.c|*.cc    -> build/tests/victims/*      (programs traced by the tests)
# User CFLAGS/LDFLAGS are appended to ours, never replace them.

MEMWATCH_VERSION := 0.1.0
PREFIX  ?= /usr/local
DESTDIR ?=
BINDIR  ?= $(PREFIX)/bin
LIBDIR  ?= $(PREFIX)/lib
INCDIR  ?= $(PREFIX)/include
PKGDIR  ?= $(LIBDIR)/pkgconfig
B       := build

CC  ?= cc
CXX ?= c++
ifeq ($(origin CC),default)
CC := gcc
endif
ifeq ($(origin CXX),default)
CXX := g++
endif
PKG_CONFIG ?= pkg-config
WERROR ?= -Werror

# pkg-config for every dependency that ships a .pc file (libdw's pulls in libelf).
DEP_PKGS := libzstd libxxhash libunwind libdw sqlite3 libpq criterion
pc_cflags = $(shell $(PKG_CONFIG) --cflags $(1) 2>/dev/null)
pc_libs   = $(shell $(PKG_CONFIG) --libs $(1) 2>/dev/null)
# pkg-config's answers are taken when a recipe first needs them, then kept: not when make reads
# this file, because on a fresh machine $(DEPS_OK) installs pkg-config and the -dev packages
# during this very run (read at parse time they were empty, and the first link of a fresh
# machine's `make test` failed: 2026-11-23). $(call pc_once,VAR,pc_libs,PKGS) sets VAR once.
pc_once = $(eval $(1) := $(call $(2),$(3)))$($(1))
PC_SHIM_CFLAGS = $(call pc_once,PC_SHIM_CFLAGS,pc_cflags,libzstd libxxhash libunwind)
PC_SHIM_LIBS   = $(call pc_once,PC_SHIM_LIBS,pc_libs,libunwind libxxhash)
PC_ANA_CFLAGS  = $(call pc_once,PC_ANA_CFLAGS,pc_cflags,libzstd libdw sqlite3)
PC_ANA_LIBS    = $(call pc_once,PC_ANA_LIBS,pc_libs,sqlite3 libdw libzstd libxxhash)
PC_CRIT_CFLAGS = $(call pc_once,PC_CRIT_CFLAGS,pc_cflags,criterion)
PC_CRIT_LIBS   = $(call pc_once,PC_CRIT_LIBS,pc_libs,criterion)
PC_PQ_CFLAGS   = $(call pc_once,PC_PQ_CFLAGS,pc_cflags,libpq)

BASE_CFLAGS := -std=gnu11 -O2 -g -Wall -Wextra $(WERROR) -MMD -MP -Iformats -Ipreload \
               -D_GNU_SOURCE -DMEMWATCH_VERSION=\"$(MEMWATCH_VERSION)\"
SAN_FLAGS   := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

# The shim: PIC, hidden by default (only memwatch_* and the hooked libc names are exported),
# initial-exec TLS (no allocation on first TLS access), frame pointers in our own frames.
# (= not :=: they hold the pkg-config answers above, taken at first use)
SHIM_CFLAGS = $(BASE_CFLAGS) -DMEMWATCH_NO_WEAK -fPIC -fvisibility=hidden -ftls-model=initial-exec \
              -fno-omit-frame-pointer -fno-strict-aliasing -pthread $(PC_SHIM_CFLAGS) $(CFLAGS)
# libgcc_s first: the shim's libraries join the program's global scope, and libunwind.so.8
# exports the _Unwind_* functions of the C++ exception ABI too, unversioned; loaded before
# libgcc_s (a program that does not link libgcc_s itself: python, a C host that dlopens C++)
# it took over the program's exception handling. Needed ahead of it, libgcc_s keeps it.
# zstd linked in, its names hidden (libzstd.a is PIC; libunwind.a is not, so it stays shared):
# a program that brings its own libzstd.so.1 (RPATH, LD_LIBRARY_PATH) gets it, and the shim
# never binds to it (an older or other one left the shim's ZSTD_createCCtx_advanced
# unresolved, and the program did not start).
SHIM_LIBS   = -Wl,--no-as-needed -lgcc_s -Wl,--as-needed $(PC_SHIM_LIBS) -Wl,--exclude-libs,libzstd.a -l:libzstd.a \
              -ldl -pthread
ANA_CFLAGS  = $(BASE_CFLAGS) -Ianalyzer -pthread $(PC_ANA_CFLAGS) $(CFLAGS)
ANA_LIBS    = $(PC_ANA_LIBS) -lelf -lm -pthread
TEST_CFLAGS = $(ANA_CFLAGS) -Itests/integration/support $(PC_CRIT_CFLAGS)
TEST_LIBS   = $(PC_CRIT_LIBS) $(ANA_LIBS)

PRELOAD_SRCS := $(sort $(wildcard preload/*.c))
FMT_SHIM_SRCS:= formats/mw_encode.c formats/mw_runs.c formats/mw_repeat.c formats/mw_path.c formats/mw_execfile.c \
                formats/mw_tracelock.c
FMT_SRCS     := $(sort $(wildcard formats/*.c))
ANA_SRCS     := $(sort $(filter-out analyzer/main.c,$(wildcard analyzer/*.c)))
RUNNER_SRCS  := $(sort $(wildcard scripts/runner/*.c))
UNIT_SRCS    := $(sort $(wildcard tests/unit/test_*.c))
INTEG_SRCS   := $(sort $(wildcard tests/integration/test_*.c))
SUPPORT_SRCS := $(sort $(wildcard tests/integration/support/*.c))
VICTIM_C     := $(sort $(wildcard tests/victims/*.c))
VICTIM_CXX   := $(sort $(wildcard tests/victims/*.cc))

SHIM_OBJS   := $(patsubst %.c,$(B)/shim/%.o,$(PRELOAD_SRCS) $(FMT_SHIM_SRCS))
FMT_OBJS    := $(patsubst %.c,$(B)/obj/%.o,$(FMT_SRCS))
ANA_OBJS    := $(patsubst %.c,$(B)/obj/%.o,$(ANA_SRCS))
FMT_ASAN    := $(patsubst %.c,$(B)/asan/%.o,$(FMT_SRCS))
ANA_ASAN    := $(patsubst %.c,$(B)/asan/%.o,$(ANA_SRCS))
RUNNER_OBJS := $(patsubst %.c,$(B)/obj/%.o,$(RUNNER_SRCS))
SUPPORT_OBJS:= $(patsubst %.c,$(B)/obj/%.o,$(SUPPORT_SRCS))
UNIT_BINS   := $(patsubst tests/unit/%.c,$(B)/tests/unit/%,$(UNIT_SRCS))
INTEG_BINS  := $(patsubst tests/integration/%.c,$(B)/tests/integration/%,$(INTEG_SRCS))
VICTIM_BINS := $(patsubst tests/victims/%.c,$(B)/tests/victims/%,$(VICTIM_C)) \
               $(patsubst tests/victims/%.cc,$(B)/tests/victims/%,$(VICTIM_CXX))

SHIM     := $(B)/libmemwatch_preload.so
ANALYZE  := $(B)/memwatch-analyze
ANALYZE_ASAN := $(B)/asan/memwatch-analyze
RUNNER   := $(B)/memwatch
ANA_LIB  := $(B)/libmwanalyze.a
DEPS_OK  := $(B)/.deps-ok

.PHONY: all deps test unit-tests integration-tests demo bench fuzz install uninstall clean tests-build
all: $(SHIM) $(ANALYZE) $(RUNNER) $(B)/memwatch.pc

# Missing Debian packages: installed when root, named in one line otherwise.
$(DEPS_OK): scripts/install-deps
	@scripts/install-deps
	@mkdir -p $(B) && touch $@
deps: ; @scripts/install-deps

# The lists of sources the libraries and programs are made of, kept in a file that is rewritten
# only when they change: a source removed (a prerequisite gone, nothing newer) relinks what it
# was part of instead of leaving its object inside. The file is read and compared on every run.
SRC_LIST  := $(PRELOAD_SRCS) $(FMT_SHIM_SRCS) $(FMT_SRCS) $(ANA_SRCS) $(RUNNER_SRCS)
SRC_STAMP := $(B)/.sources
ifneq ($(wildcard $(SRC_STAMP)),)
ifneq ($(file <$(SRC_STAMP)),$(SRC_LIST))
$(file >$(SRC_STAMP),$(SRC_LIST))
endif
endif
# (printf, not $(file): make expands a recipe's every line before running the first, so
# $(file) would write before the mkdir: `make -j2 all` on a fresh clone stopped there)
$(SRC_STAMP):
	@mkdir -p $(@D)
	@printf '%s\n' '$(SRC_LIST)' > $@
LINKED = $(filter-out $(SRC_STAMP),$^)

# Everything compiled needs the dependencies first (order-only: no rebuild on stamp change).
$(SHIM_OBJS) $(FMT_OBJS) $(ANA_OBJS) $(FMT_ASAN) $(ANA_ASAN) $(RUNNER_OBJS) $(SUPPORT_OBJS): | $(DEPS_OK)

$(B)/shim/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(SHIM_CFLAGS) -c $< -o $@
$(B)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(ANA_CFLAGS) -Itests/integration/support -c $< -o $@
$(B)/asan/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(ANA_CFLAGS) $(SAN_FLAGS) -c $< -o $@

# analyzer/schema_embed.c embeds analyzer/schema.sql with .incbin: rebuild it when the schema changes.
$(B)/obj/analyzer/schema_embed.o $(B)/asan/analyzer/schema_embed.o: analyzer/schema.sql

$(SHIM): $(SHIM_OBJS) $(SRC_STAMP)
	$(CC) -shared -Wl,-z,now -Wl,-z,nodelete -Wl,--no-undefined -Wl,-z,start-stop-visibility=hidden -o $@ $(LINKED) $(SHIM_LIBS) $(LDFLAGS)

$(ANA_LIB): $(ANA_OBJS) $(FMT_OBJS) $(SRC_STAMP)
	@rm -f $@
	$(AR) rcs $@ $(LINKED)
$(B)/asan/libmwanalyze.a: $(ANA_ASAN) $(FMT_ASAN) $(SRC_STAMP)
	@rm -f $@
	$(AR) rcs $@ $(LINKED)

$(ANALYZE): $(B)/obj/analyzer/main.o $(ANA_LIB)
	$(CC) -o $@ $^ $(ANA_LIBS) $(LDFLAGS)
$(ANALYZE_ASAN): $(B)/asan/analyzer/main.o $(B)/asan/libmwanalyze.a
	$(CC) $(SAN_FLAGS) -o $@ $^ $(ANA_LIBS) $(LDFLAGS)
$(RUNNER): $(RUNNER_OBJS) $(ANA_LIB) $(SRC_STAMP)
	$(CC) -o $@ $(LINKED) $(ANA_LIBS) $(LDFLAGS)

$(B)/memwatch.pc: Makefile
	@mkdir -p $(@D)
	@printf 'prefix=%s\nincludedir=$${prefix}/include\nlibdir=%s\n\nName: memwatch\nDescription: memwatch public ABI (watch memory, tag SQL, mark phases)\nVersion: %s\nCflags: -I$${includedir}\nLibs:\n' \
	  '$(PREFIX)' '$(LIBDIR)' '$(MEMWATCH_VERSION)' > $@

# ---- tests ------------------------------------------------------------------------------
$(B)/tests/unit/%: tests/unit/%.c $(B)/asan/libmwanalyze.a | $(DEPS_OK)
	@mkdir -p $(@D)
	$(CC) $(TEST_CFLAGS) $(SAN_FLAGS) -o $@ $< $(B)/asan/libmwanalyze.a $(TEST_LIBS) $(LDFLAGS)
# the analyzer on generated traces: the generator is the fuzzer's (tests/fuzz/trace_gen.c)
$(B)/tests/unit/test_analyzer_generated: tests/unit/test_analyzer_generated.c tests/fuzz/trace_gen.c tests/fuzz/trace_gen.h \
                                         $(B)/asan/libmwanalyze.a | $(DEPS_OK)
	@mkdir -p $(@D)
	$(CC) $(TEST_CFLAGS) $(SAN_FLAGS) -Itests/fuzz -o $@ $< tests/fuzz/trace_gen.c $(B)/asan/libmwanalyze.a $(TEST_LIBS) $(LDFLAGS)
# the analyzer with its allocations failed one at a time: its own calls of the allocators are
# wrapped (--wrap reaches the references in the analyzer library, not those inside libc)
OOM_WRAP := -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=strdup,--wrap=strndup
$(B)/tests/unit/test_analyzer_oom: tests/unit/test_analyzer_oom.c tests/fuzz/trace_gen.c tests/fuzz/trace_gen.h \
                                   $(B)/asan/libmwanalyze.a | $(DEPS_OK)
	@mkdir -p $(@D)
	$(CC) $(TEST_CFLAGS) $(SAN_FLAGS) -Itests/fuzz -o $@ $< tests/fuzz/trace_gen.c $(B)/asan/libmwanalyze.a $(TEST_LIBS) \
	  $(OOM_WRAP) $(LDFLAGS)
$(B)/tests/integration/%: tests/integration/%.c $(SUPPORT_OBJS) $(ANA_LIB) | $(DEPS_OK)
	@mkdir -p $(@D)
	$(CC) $(TEST_CFLAGS) -o $@ $< $(SUPPORT_OBJS) $(ANA_LIB) $(TEST_LIBS) $(LDFLAGS)

# Victims: plain programs, built the way users build theirs (no frame pointers forced).
# Per-victim link flags: VICTIM_LIBS_<name> in tests/victims/victims.mk.
-include tests/victims/victims.mk
VICTIM_CFLAGS := -std=gnu11 -O1 -g -Wall -Wextra $(WERROR) -D_GNU_SOURCE -Ipreload -pthread $(CFLAGS)
$(B)/tests/victims/%: tests/victims/%.c | $(DEPS_OK)
	@mkdir -p $(@D)
	$(CC) $(VICTIM_CFLAGS) -MMD -MP -MF $@.d -o $@ $< $(VICTIM_LIBS_$*) -pthread -ldl $(LDFLAGS)
# clang links its sanitizer runtimes into the executable (tests/integration/test_shim_sanitizers.c)
CLANG_SAN_tsan := thread
CLANG_SAN_asan := address
$(B)/tests/victims/san_tsan_clang $(B)/tests/victims/san_asan_clang: $(B)/tests/victims/san_%_clang: tests/victims/san_%_clang.c | $(DEPS_OK)
	@mkdir -p $(@D)
	clang -std=gnu11 -O1 -g -Wall -Wextra $(WERROR) -D_GNU_SOURCE -pthread -fsanitize=$(CLANG_SAN_$*) -MMD -MP -MF $@.d -o $@ $<
# a 32-bit x86 program, linked against Debian's libc6-i386 alone (no 32-bit headers or start
# files needed): tests/victims/m32/hello32.c
$(B)/tests/victims/hello32: tests/victims/m32/hello32.c | $(DEPS_OK)
	@mkdir -p $(@D)
	$(CC) -m32 -O1 -g -Wall -Wextra $(WERROR) -ffreestanding -fno-pie -no-pie -nostdlib -nostartfiles -o $@ $< \
	    /lib32/libc.so.6 -Wl,-dynamic-linker,/lib/ld-linux.so.2
$(B)/tests/victims/%: tests/victims/%.cc | $(DEPS_OK)
	@mkdir -p $(@D)
	$(CXX) -O1 -g -Wall -Wextra $(WERROR) -Ipreload -pthread $(CXXFLAGS) -o $@ $< $(VICTIM_LIBS_$*) -ldl $(LDFLAGS)

# Libraries victims load (tests/victims/lib/): the RTLD_DEEPBIND one, bound at load and lazily;
# a malloc of a test's own (bump_alloc.c), preloaded after the shim; one whose constructor
# binds a message catalogue (gettext_ctor.c, linked into locale_first); one whose constructor
# sets a variable (setenv_ctor.c, linked into setenv_first); one whose constructor registers
# many fork handlers (atfork_ctor.c, linked into atfork_first); one with only the SysV symbol
# hash table (sysv_hash.c, for tests/unit/test_dynsym.c).
VICTIM_LIBS := $(B)/tests/victims/libdeep_now.so $(B)/tests/victims/libdeep_lazy.so \
               $(B)/tests/victims/libbump_alloc.so $(B)/tests/victims/libgettext_ctor.so \
               $(B)/tests/victims/libsetenv_ctor.so $(B)/tests/victims/libatfork_ctor.so \
               $(B)/tests/victims/libsysv_hash.so $(B)/tests/victims/ownzstd/libzstd.so.1
# A libzstd.so.1 that is not zstd, in a directory of its own, and the program whose RPATH
# finds it there (own_zstd_app: the shim must not bind to it).
$(B)/tests/victims/ownzstd/libzstd.so.1: tests/victims/lib/own_zstd.c | $(DEPS_OK)
	@mkdir -p $(dir $@)
	$(CC) $(VICTIM_CFLAGS) -fPIC -shared -Wl,-soname,libzstd.so.1 -o $@ $< $(LDFLAGS)
$(B)/tests/victims/own_zstd_app: $(B)/tests/victims/ownzstd/libzstd.so.1
$(B)/tests/victims/libsysv_hash.so: tests/victims/lib/sysv_hash.c tests/victims/lib/sysv_hash.map | $(DEPS_OK)
	@mkdir -p $(dir $@)
	$(CC) $(VICTIM_CFLAGS) -fPIC -shared -Wl,--hash-style=sysv -Wl,--version-script=tests/victims/lib/sysv_hash.map \
	    -o $@ $< $(LDFLAGS)
$(B)/tests/victims/libatfork_ctor.so: tests/victims/lib/atfork_ctor.c | $(DEPS_OK)
	@mkdir -p $(dir $@)
	$(CC) $(VICTIM_CFLAGS) -fPIC -shared -o $@ $< -pthread $(LDFLAGS)
$(B)/tests/victims/atfork_first: $(B)/tests/victims/libatfork_ctor.so
$(B)/tests/victims/libsetenv_ctor.so: tests/victims/lib/setenv_ctor.c | $(DEPS_OK)
	@mkdir -p $(dir $@)
	$(CC) $(VICTIM_CFLAGS) -fPIC -shared -o $@ $< $(LDFLAGS)
$(B)/tests/victims/setenv_first: $(B)/tests/victims/libsetenv_ctor.so
$(B)/tests/victims/libgettext_ctor.so: tests/victims/lib/gettext_ctor.c | $(DEPS_OK)
	@mkdir -p $(dir $@)
	$(CC) $(VICTIM_CFLAGS) -fPIC -shared -o $@ $< $(LDFLAGS)
$(B)/tests/victims/locale_first: $(B)/tests/victims/libgettext_ctor.so
$(B)/tests/victims/libbump_alloc.so: tests/victims/lib/bump_alloc.c | $(DEPS_OK)
	@mkdir -p $(dir $@)
	$(CC) $(VICTIM_CFLAGS) -fPIC -shared -o $@ $< $(LDFLAGS)
$(B)/tests/victims/libdeep_now.so: tests/victims/lib/deep.c | $(DEPS_OK)
	@mkdir -p $(dir $@)
	$(CC) $(VICTIM_CFLAGS) -fPIC -shared -Wl,-z,now -Wl,-z,relro -o $@ $< $(LDFLAGS)
$(B)/tests/victims/libdeep_lazy.so: tests/victims/lib/deep.c | $(DEPS_OK)
	@mkdir -p $(dir $@)
	$(CC) $(VICTIM_CFLAGS) -fPIC -shared -Wl,-z,lazy -o $@ $< $(LDFLAGS)

tests-build: all $(ANALYZE_ASAN) $(UNIT_BINS) $(INTEG_BINS) $(VICTIM_BINS) $(VICTIM_LIBS) $(B)/tests/victims/hello32 \
             $(B)/examples/leaky_server
test: tests-build
	@scripts/run-tests $(B)
unit-tests: tests-build
	@scripts/run-tests $(B) unit
integration-tests: tests-build
	@scripts/run-tests $(B) integration

# ---- demo, bench, fuzz ------------------------------------------------------------------
$(B)/examples/%: examples/%.c | $(DEPS_OK)
	@mkdir -p $(@D)
	$(CC) -std=gnu11 -O1 -g -Wall -Wextra $(WERROR) -Ipreload -pthread $(CFLAGS) -o $@ $< -lsqlite3 $(LDFLAGS)
demo: all $(B)/examples/leaky_server
	@scripts/demo $(B)

# Benchmark workloads: bench/*.c -> $(B)/bench/* (plain -O2 programs; bench/tracestat.c reads
# traces and bench/coder.c runs the writer's run coder, both with the format library). scripts/bench runs them; bench/watch_*.c are extra sections.
BENCH_BINS := $(patsubst bench/%.c,$(B)/bench/%,$(sort $(wildcard bench/*.c)))
$(B)/bench/tracestat: bench/tracestat.c $(ANA_LIB) | $(DEPS_OK)
	@mkdir -p $(@D)
	$(CC) $(ANA_CFLAGS) -o $@ $< $(ANA_LIB) $(ANA_LIBS) $(LDFLAGS)
$(B)/bench/coder: bench/coder.c bench/churn_step.h $(ANA_LIB) | $(DEPS_OK)
	@mkdir -p $(@D)
	$(CC) $(ANA_CFLAGS) -o $@ $< $(ANA_LIB) $(ANA_LIBS) $(LDFLAGS)
$(B)/bench/%: bench/%.c bench/churn_step.h | $(DEPS_OK)
	@mkdir -p $(@D)
	$(CC) -std=gnu11 -O2 -g -Wall -Wextra $(WERROR) -D_GNU_SOURCE -Ipreload -pthread $(CFLAGS) -o $@ $< -pthread -ldl $(LDFLAGS)
bench: all $(BENCH_BINS)
	@scripts/bench $(B)

FUZZ_SECONDS ?= 60
$(B)/fuzz/fuzz_decode: tests/fuzz/fuzz_decode.c $(FMT_SRCS) formats/mw_format.h | $(DEPS_OK)
	@mkdir -p $(@D)
	clang -std=gnu11 -O1 -g -D_GNU_SOURCE -Iformats -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	  -o $@ tests/fuzz/fuzz_decode.c $(FMT_SRCS) $(call pc_libs,libzstd)
# names from the traced program's objects, cut down for labels (analyzer/shortname.c)
$(B)/fuzz/fuzz_shortname: tests/fuzz/fuzz_shortname.c analyzer/shortname.c analyzer/report.h | $(DEPS_OK)
	@mkdir -p $(@D)
	clang -std=gnu11 -O1 -g -D_GNU_SOURCE -Iformats -Ianalyzer -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	  -o $@ tests/fuzz/fuzz_shortname.c analyzer/shortname.c
FUZZ_NAME_SECONDS ?= 20
# the whole analyzer on generated traces (tests/fuzz/trace_gen.c), built with clang and linked
# against the analyzer's sources compiled for fuzzing (the libFuzzer runtime brings main)
FUZZ_ANA_CFLAGS = -std=gnu11 -O1 -g -D_GNU_SOURCE -DMEMWATCH_VERSION=\"$(MEMWATCH_VERSION)\" -Iformats -Ianalyzer \
                  -Itests/fuzz $(PC_ANA_CFLAGS) -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
$(B)/fuzz/fuzz_analyze: tests/fuzz/fuzz_analyze.c tests/fuzz/trace_gen.c tests/fuzz/trace_gen.h $(ANA_SRCS) $(FMT_SRCS) \
                        analyzer/schema.sql | $(DEPS_OK)
	@mkdir -p $(@D)
	clang $(FUZZ_ANA_CFLAGS) -o $@ tests/fuzz/fuzz_analyze.c tests/fuzz/trace_gen.c $(ANA_SRCS) $(FMT_SRCS) \
	  $(ANA_LIBS) $(LDFLAGS)
# the reader of a JIT's perf map (analyzer/perfmap.c), whose lines the traced program writes
$(B)/fuzz/fuzz_perfmap: tests/fuzz/fuzz_perfmap.c analyzer/perfmap.c analyzer/perfmap.h | $(DEPS_OK)
	@mkdir -p $(@D)
	clang -std=gnu11 -O1 -g -D_GNU_SOURCE -Ianalyzer -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	  -o $@ tests/fuzz/fuzz_perfmap.c analyzer/perfmap.c
FUZZ_ANALYZE_SECONDS ?= 60
FUZZ_PERFMAP_SECONDS ?= 20
fuzz: $(B)/fuzz/fuzz_decode $(B)/fuzz/fuzz_shortname $(B)/fuzz/fuzz_analyze $(B)/fuzz/fuzz_perfmap
	@mkdir -p $(B)/fuzz/corpus $(B)/fuzz/corpus_names $(B)/fuzz/corpus_analyze $(B)/fuzz/corpus_perfmap
	@scripts/fuzz-seed $(B)/fuzz/corpus
	$(B)/fuzz/fuzz_decode -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 $(B)/fuzz/corpus tests/fuzz/seeds
	$(B)/fuzz/fuzz_shortname -max_total_time=$(FUZZ_NAME_SECONDS) -print_final_stats=1 $(B)/fuzz/corpus_names
	$(B)/fuzz/fuzz_analyze -max_total_time=$(FUZZ_ANALYZE_SECONDS) -print_final_stats=1 -close_fd_mask=2 \
	  -max_len=4096 $(B)/fuzz/corpus_analyze
	$(B)/fuzz/fuzz_perfmap -max_total_time=$(FUZZ_PERFMAP_SECONDS) -print_final_stats=1 $(B)/fuzz/corpus_perfmap

# ---- install ----------------------------------------------------------------------------
install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR)/memwatch $(DESTDIR)$(INCDIR) $(DESTDIR)$(PKGDIR)
	install -m 0755 $(ANALYZE) $(RUNNER) $(DESTDIR)$(BINDIR)/
	install -m 0755 $(SHIM) $(DESTDIR)$(LIBDIR)/memwatch/
	install -m 0644 preload/memwatch.h $(DESTDIR)$(INCDIR)/
	install -m 0644 $(B)/memwatch.pc $(DESTDIR)$(PKGDIR)/
uninstall:
	rm -f $(DESTDIR)$(BINDIR)/memwatch-analyze $(DESTDIR)$(BINDIR)/memwatch \
	      $(DESTDIR)$(LIBDIR)/memwatch/libmemwatch_preload.so $(DESTDIR)$(INCDIR)/memwatch.h \
	      $(DESTDIR)$(PKGDIR)/memwatch.pc
	-rmdir $(DESTDIR)$(LIBDIR)/memwatch 2>/dev/null

clean:
	rm -rf $(B)

-include $(shell find $(B) -name '*.d' 2>/dev/null)
