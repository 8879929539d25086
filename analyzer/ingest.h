/*
 * ingest.h — streaming a trace into the in-memory process model (ingest.c).
 */
#ifndef MW_INGEST_H
#define MW_INGEST_H

#include <stddef.h>

#include "model.h"
#include "mw_format.h"

/* Reads every record of r into p, then finishes the model (unfreed blocks, leak groups,
 * leaked SQL resources). A trace that ends early (no END record, or inside a record or zstd
 * frame) is not an error: p->truncated is set. Returns 0, or -1 with one line in err
 * (corrupt data with its byte offset, an unreadable file, a newer format version, memory). */
int mw_ingest_reader(mw_proc *p, mw_reader *r, char *err, size_t errlen);
/* Opens path with mw_reader_open and ingests it. */
int mw_ingest_file(mw_proc *p, const char *path, char *err, size_t errlen);
/* (Re)builds p->leaks and the leaked totals from p->unfreed (ingestion does it once; call it
 * again after changing unfreed blocks' sites). 0, or nonzero out of memory. */
int mw_proc_group_leaks(mw_proc *p);
/* The site of a stack (made when new; UINT32_MAX out of memory), and a stack node added
 * after ingestion (0, or -1 out of memory): for analyzer/inherit.c. */
uint32_t mw_proc_site_for(mw_proc *p, uint64_t stack);
int mw_proc_add_node(mw_proc *p, uint64_t id, uint64_t parent, uint64_t ip);


#endif /* MW_INGEST_H */
