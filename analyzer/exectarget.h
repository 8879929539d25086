/*
 * exectarget.h — programs LD_PRELOAD cannot reach (exectarget.c), for the ingest, which keeps
 * only those of the SPAWN records, and for the reports (report.h: mw_find_untraced).
 */
#ifndef MW_EXECTARGET_H
#define MW_EXECTARGET_H

#include <stdbool.h>
#include <stddef.h>

/* Why LD_PRELOAD cannot reach the program at path (an absolute path to a regular file:
 * statically linked, setuid), into why[len]; "" when nothing on disk says so. */
void mw_why_untraceable(const char *path, char *why, size_t len);
/* Whether the program at path is one mw_why_untraceable has a reason for (remembered). */
bool mw_spawn_may_be_untraced(const char *path);

#endif
