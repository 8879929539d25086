/*
 * tracestat.c — bench helper: counts the records of a memwatch trace, by class.
 *
 *     tracestat TRACE     prints: records=N alloc_events=N mmap_events=N
 *                         stack_nodes=N stream_bytes=N
 *
 * alloc_events counts what heaptrack also records (ALLOC, FREE, REALLOC), so bytes per event
 * compare like with like; mmap_events the mapping records heaptrack does not have.
 */
#include <stdio.h>

#include "mw_format.h"

int main(int argc, char **argv)
{
    if (argc != 2) { fprintf(stderr, "usage: tracestat TRACE\n"); return 2; }
    char err[256];
    mw_reader *r = mw_reader_open(argv[1], err, sizeof err);
    if (!r) { fprintf(stderr, "tracestat: %s\n", err); return 1; }
    mw_record rec;
    unsigned long long records = 0, heap = 0, maps = 0, nodes = 0;
    int st;
    while ((st = mw_reader_next(r, &rec, NULL)) == MW_OK) {
        records++;
        switch (rec.type) {
        case MW_REC_ALLOC: case MW_REC_FREE: case MW_REC_REALLOC: heap++; break;
        case MW_REC_MMAP: case MW_REC_MUNMAP: case MW_REC_MREMAP: maps++; break;
        case MW_REC_STACK_NODE: nodes++; break;
        default: break;
        }
    }
    if (st != MW_EOF) fprintf(stderr, "tracestat: %s\n", mw_reader_error(r));
    printf("records=%llu alloc_events=%llu mmap_events=%llu stack_nodes=%llu stream_bytes=%llu\n",
           records, heap, maps, nodes, (unsigned long long)mw_reader_stream_offset(r));
    mw_reader_close(r);
    return st == MW_EOF ? 0 : 1;
}
