# tests/victims/victims.mk — per-victim link flags: VICTIM_LIBS_<name> := ... (= where they
# hold a pkg-config answer: the Makefile takes those at first use, after the packages are in)
VICTIM_LIBS_runner_crit_suite := -lcriterion
VICTIM_LIBS_sql_sqlite := -lsqlite3
VICTIM_LIBS_sql_pq = $(PC_PQ_CFLAGS) -lpq
VICTIM_LIBS_shape_exp := -lm
VICTIM_LIBS_nopie_malloc_addr := -fno-pie -no-pie
VICTIM_LIBS_static_prog := -static
VICTIM_LIBS_locale_first = -L$(B)/tests/victims -Wl,--no-as-needed -lgettext_ctor -Wl,--as-needed -Wl,-rpath,'$$ORIGIN'
VICTIM_LIBS_setenv_first = -L$(B)/tests/victims -Wl,--no-as-needed -lsetenv_ctor -Wl,--as-needed -Wl,-rpath,'$$ORIGIN'
VICTIM_LIBS_atfork_first = -L$(B)/tests/victims -latfork_ctor -Wl,-rpath,'$$ORIGIN'
VICTIM_LIBS_san_asan := -fsanitize=address
VICTIM_LIBS_san_tsan := -fsanitize=thread
VICTIM_LIBS_san_lsan := -fsanitize=leak
VICTIM_LIBS_shim_backtrace := -rdynamic
VICTIM_LIBS_own_zstd_app = $(B)/tests/victims/ownzstd/libzstd.so.1 -Wl,-rpath,'$$ORIGIN/ownzstd'
