/*
 * textfile.h — reading a small user-supplied file (suppressions, alert rules, a list of
 * traces) whole, with a size bound: the path may name anything (/dev/zero, a FIFO, a binary),
 * and the loaders must end with one error line, never read forever or parse NUL-truncated
 * lines.
 */
#ifndef MW_TEXTFILE_H
#define MW_TEXTFILE_H

#include <stddef.h>

/* Reads path into a heap buffer (*len bytes, NUL bytes allowed, a NUL after them). NULL with
 * a message in err ("PATH: ...") when it cannot be opened or read or holds more than max
 * bytes. The caller frees. */
char *mw_file_read(const char *path, size_t max, size_t *len, char *err, size_t errlen);

/* Reads path into a NUL-terminated heap buffer (*len bytes before the NUL). NULL with a
 * message in err ("PATH: ...") when it cannot be opened or read, holds more than max bytes
 * ("larger than N bytes"), or contains a NUL byte (not a text file). The caller frees. */
char *mw_text_file_read(const char *path, size_t max, size_t *len, char *err, size_t errlen);

#endif /* MW_TEXTFILE_H */
