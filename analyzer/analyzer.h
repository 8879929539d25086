/*
 * analyzer.h — memwatch-analyze as a library (libmwanalyze.a): the entry point the thin
 * main.c, the runner and tests call, and a map of the files behind it.
 *
 *   cli.c          flags, usage, exit codes; drives the steps below      (mw_analyze_cli)
 *   ingest.c       trace records -> in-memory model (model.h, model.c, hmap.c)
 *   symbolize.c    offline symbolization with libdw
 *   suppress.c     LeakSanitizer-style suppressions; failon.c  --fail-on grammar
 *   store.c        SQLite store (schema.sql embedded by schema_embed.c)
 *   report*.c      text, json (jsonw.c), md, html (htmlesc.c, svg chart) reports
 */
#ifndef MW_ANALYZER_H
#define MW_ANALYZER_H

/* Exit statuses of mw_analyze_cli (and of memwatch-analyze). */
enum {
    MW_EXIT_OK = 0,        /* report written, no --fail-on condition holds */
    MW_EXIT_FAIL_ON = 1,   /* report written, some --fail-on condition holds */
    MW_EXIT_USAGE = 2,     /* bad flag, value, --fail-on expression or suppressions file */
    MW_EXIT_ERROR = 3,     /* unreadable / corrupt / newer-version trace, output or store error */
};

/* Runs memwatch-analyze with argv (argv[0] is the program name). Returns an exit status. */
int mw_analyze_cli(int argc, char **argv);

#endif /* MW_ANALYZER_H */
