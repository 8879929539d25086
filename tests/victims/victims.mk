# tests/victims/victims.mk — per-victim link flags: VICTIM_LIBS_<name> := ...
VICTIM_LIBS_runner_crit_suite := -lcriterion
VICTIM_LIBS_sql_sqlite := -lsqlite3
VICTIM_LIBS_sql_pq := $(shell pkg-config --cflags libpq 2>/dev/null) -lpq
VICTIM_LIBS_shape_exp := -lm
VICTIM_LIBS_nopie_malloc_addr := -fno-pie -no-pie
