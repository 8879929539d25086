/*
 * mw_execfile.h — which machine the program an exec starts is built for, once for the shim and
 * the runner and analyzer. The shim is a 64-bit x86-64 library: the dynamic loader of a 32-bit
 * x86 program (or an x32 one, or one for another architecture run through binfmt_misc) cannot
 * load it, and says so on the program's stderr ("ERROR: ld.so: object ... cannot be preloaded
 * (wrong ELF class: ELFCLASS64): ignored."). So the shim passes such a program no LD_PRELOAD
 * entry of its own (preload/process_env.c), the runner starts such a command without it, and
 * the reports say why it has no trace (analyzer/exectarget.c).
 */
#ifndef MW_EXECFILE_H
#define MW_EXECFILE_H

#include <stddef.h>

enum mw_exec_kind {
    MW_EXEC_UNKNOWN = 0, /* not readable, not a regular file, not ELF or "#!", too deep */
    MW_EXEC_NATIVE = 1,  /* an ELF file for the machine this code is built for */
    MW_EXEC_FOREIGN = 2, /* an ELF file for another: class, byte order or machine differ */
    MW_EXEC_SCRIPT = 3,  /* mw_exec_head_kind only: "#!", its interpreter's path in interp */
};

/* The kind of an executable file from its first n bytes (at most the kernel's 256 it reads
 * itself). A script's interpreter path goes into interp (cap bytes, NUL-terminated; a name
 * that does not fit makes it MW_EXEC_UNKNOWN), parsed as the kernel's binfmt_script does: after
 * "#!", blanks skipped, up to the next blank, newline or the end of the bytes. For an ELF file
 * the program it is is described in desc (cap bytes; may be NULL), e.g. "a 32-bit x86
 * program". */
int mw_exec_head_kind(const unsigned char *h, size_t n, char *interp, size_t cap, char *desc, size_t dcap);

/* What an exec of path would load: the file as openat(2) finds it from dirfd (flags as
 * execveat's: AT_EMPTY_PATH with "" for dirfd itself, AT_SYMLINK_NOFOLLOW), through up to five
 * "#!" interpreters as the kernel follows them (an interpreter's relative path from the working
 * directory). MW_EXEC_NATIVE, MW_EXEC_FOREIGN (desc says what it is, as mw_exec_head_kind) or
 * MW_EXEC_UNKNOWN. Only a regular file is opened (a device's open can act). System calls only,
 * no allocation, errno kept: usable in a vfork child. */
int mw_exec_kind(int dirfd, const char *path, int flags, char *desc, size_t dcap);

#endif /* MW_EXECFILE_H */
