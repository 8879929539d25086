/*
 * test_format_execfile.c — the machine an exec's program is built for (formats/mw_execfile.c),
 * which keeps the shim's LD_PRELOAD entry from programs it cannot be loaded into: ELF headers
 * of this machine and of others (32-bit x86, x32, ARM, big-endian, an unknown machine), "#!"
 * lines as the kernel parses them, scripts through interpreters down to the kernel's depth,
 * files that must not be opened or followed (a FIFO, a symlink with AT_SYMLINK_NOFOLLOW), a
 * file given by descriptor (fexecve), errno kept.
 */
#include <criterion/criterion.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mw_execfile.h"

/* An ELF header's first 20 bytes: class, byte order, machine (in that byte order). */
static size_t elf_head(unsigned char *h, unsigned cls, unsigned data, unsigned machine)
{
    memset(h, 0, 64);
    memcpy(h, ELFMAG, SELFMAG);
    h[EI_CLASS] = (unsigned char)cls;
    h[EI_DATA] = (unsigned char)data;
    h[EI_VERSION] = EV_CURRENT;
    h[16] = ET_EXEC;
    if (data == ELFDATA2LSB) {
        h[18] = (unsigned char)(machine & 0xff);
        h[19] = (unsigned char)(machine >> 8);
    } else {
        h[19] = (unsigned char)(machine & 0xff);
        h[18] = (unsigned char)(machine >> 8);
    }
    return 64;
}

static int kind_of(const unsigned char *h, size_t n, char *desc)
{
    char interp[64];
    return mw_exec_head_kind(h, n, interp, sizeof interp, desc, 128);
}

Test(execfile, elf_headers_of_this_machine_and_of_others)
{
    unsigned char h[64];
    char desc[128];
    cr_expect_eq(kind_of(h, elf_head(h, ELFCLASS64, ELFDATA2LSB, EM_X86_64), desc), MW_EXEC_NATIVE);
    cr_expect_eq(kind_of(h, elf_head(h, ELFCLASS32, ELFDATA2LSB, EM_386), desc), MW_EXEC_FOREIGN);
    cr_expect_str_eq(desc, "a 32-bit x86 program");
    cr_expect_eq(kind_of(h, elf_head(h, ELFCLASS32, ELFDATA2LSB, EM_X86_64), desc), MW_EXEC_FOREIGN);
    cr_expect_str_eq(desc, "an x32 program");
    cr_expect_eq(kind_of(h, elf_head(h, ELFCLASS64, ELFDATA2LSB, EM_AARCH64), desc), MW_EXEC_FOREIGN);
    cr_expect_str_eq(desc, "a 64-bit ARM program");
    cr_expect_eq(kind_of(h, elf_head(h, ELFCLASS64, ELFDATA2MSB, EM_X86_64), desc), MW_EXEC_FOREIGN,
                 "big-endian: not this machine's");
    cr_expect_eq(kind_of(h, elf_head(h, ELFCLASS64, ELFDATA2MSB, EM_S390), desc), MW_EXEC_FOREIGN);
    cr_expect_str_eq(desc, "a 64-bit s390 program");
    cr_expect_eq(kind_of(h, elf_head(h, ELFCLASS64, ELFDATA2LSB, 0x1234), desc), MW_EXEC_FOREIGN);
    cr_expect_str_eq(desc, "a 64-bit program for ELF machine 4660");
    /* what is not a whole ELF header of a known class and byte order says nothing */
    elf_head(h, ELFCLASS32, ELFDATA2LSB, EM_386);
    cr_expect_eq(kind_of(h, 19, desc), MW_EXEC_UNKNOWN, "truncated");
    cr_expect_eq(kind_of(h, elf_head(h, 7, ELFDATA2LSB, EM_386), desc), MW_EXEC_UNKNOWN, "bad class");
    cr_expect_eq(kind_of(h, elf_head(h, ELFCLASS32, 9, EM_386), desc), MW_EXEC_UNKNOWN, "bad byte order");
    memcpy(h, "\x7f" "ELG", 4);
    cr_expect_eq(kind_of(h, 64, desc), MW_EXEC_UNKNOWN, "bad magic");
    cr_expect_eq(kind_of((const unsigned char *)"", 0, desc), MW_EXEC_UNKNOWN, "empty");
}

static int script(const char *line, char *interp, size_t cap)
{
    return mw_exec_head_kind((const unsigned char *)line, strlen(line), interp, cap, NULL, 0);
}

Test(execfile, hashbang_lines_as_the_kernel_parses_them)
{
    char in[64];
    cr_expect_eq(script("#!/bin/sh\necho\n", in, sizeof in), MW_EXEC_SCRIPT);
    cr_expect_str_eq(in, "/bin/sh");
    cr_expect_eq(script("#! \t/usr/bin/env python3 -u\n", in, sizeof in), MW_EXEC_SCRIPT);
    cr_expect_str_eq(in, "/usr/bin/env", "blanks skipped, the name ends at the next");
    cr_expect_eq(script("#!relative/interp", in, sizeof in), MW_EXEC_SCRIPT);
    cr_expect_str_eq(in, "relative/interp", "no newline: up to the end of the bytes read");
    cr_expect_eq(script("#!\n/bin/sh\n", in, sizeof in), MW_EXEC_UNKNOWN, "no interpreter");
    cr_expect_eq(script("#!   ", in, sizeof in), MW_EXEC_UNKNOWN, "blanks only");
    cr_expect_eq(script("#!/a/name/longer/than/the/buffer/given\n", in, 8), MW_EXEC_UNKNOWN);
    cr_expect_eq(script("#/bin/sh\n", in, sizeof in), MW_EXEC_UNKNOWN);
}

static char dir[256];

static void setup(void)
{
    snprintf(dir, sizeof dir, "%s/mwexecXXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_expect_eq(system(cmd), 0);
}

static const char *put(const char *name, const void *bytes, size_t n)
{
    static char p[8][PATH_MAX];
    static int k;
    char *path = p[k++ % 8];
    snprintf(path, PATH_MAX, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s", path);
    cr_assert_eq(fwrite(bytes, 1, n, f), n);
    fclose(f);
    cr_assert_eq(chmod(path, 0755), 0);
    return path;
}

static const char *put_script(const char *name, const char *interp)
{
    char line[PATH_MAX + 8];
    int n = snprintf(line, sizeof line, "#!%s\n", interp);
    return put(name, line, (size_t)n);
}

Test(execfile, scripts_are_followed_to_their_interpreter, .init = setup, .fini = teardown)
{
    unsigned char h[64];
    char desc[256];
    const char *i386 = put("i386", h, elf_head(h, ELFCLASS32, ELFDATA2LSB, EM_386));
    const char *native = put("native", h, elf_head(h, ELFCLASS64, ELFDATA2LSB, EM_X86_64));
    cr_expect_eq(mw_exec_kind(AT_FDCWD, i386, 0, desc, sizeof desc), MW_EXEC_FOREIGN);
    cr_expect_str_eq(desc, "a 32-bit x86 program");
    cr_expect_eq(mw_exec_kind(AT_FDCWD, native, 0, desc, sizeof desc), MW_EXEC_NATIVE);
    cr_expect_eq(mw_exec_kind(AT_FDCWD, "/bin/sh", 0, NULL, 0), MW_EXEC_NATIVE, "this machine's shell");
    /* one script, then a chain of them: five interpreters deep is as far as the kernel goes */
    const char *s1 = put_script("s1", i386);
    cr_expect_eq(mw_exec_kind(AT_FDCWD, s1, 0, desc, sizeof desc), MW_EXEC_FOREIGN);
    char want[PATH_MAX + 64];
    snprintf(want, sizeof want, "a script run by %s, a 32-bit x86 program", i386);
    cr_expect_str_eq(desc, want);
    const char *s2 = put_script("s2", s1), *s3 = put_script("s3", s2), *s4 = put_script("s4", s3);
    const char *s5 = put_script("s5", s4);
    cr_expect_eq(mw_exec_kind(AT_FDCWD, s5, 0, NULL, 0), MW_EXEC_FOREIGN, "five interpreters");
    const char *s6 = put_script("s6", s5);
    cr_expect_eq(mw_exec_kind(AT_FDCWD, s6, 0, NULL, 0), MW_EXEC_UNKNOWN, "six: the kernel refuses it too");
    const char *loop = put_script("loop", "loop");
    cr_assert_eq(chdir(dir), 0);
    cr_expect_eq(mw_exec_kind(AT_FDCWD, loop, 0, NULL, 0), MW_EXEC_UNKNOWN, "a script that runs itself");
    const char *rel = put_script("rel", "i386");
    cr_expect_eq(mw_exec_kind(AT_FDCWD, rel, 0, NULL, 0), MW_EXEC_FOREIGN, "relative: from the working directory");
    cr_assert_eq(chdir("/"), 0);
    cr_expect_eq(mw_exec_kind(AT_FDCWD, rel, 0, NULL, 0), MW_EXEC_UNKNOWN, "not from the script's directory");
    const char *gone = put_script("gone", "/nonexistent/interp");
    cr_expect_eq(mw_exec_kind(AT_FDCWD, gone, 0, NULL, 0), MW_EXEC_UNKNOWN);
    /* relative to a directory descriptor, as execveat's */
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    cr_assert_geq(dfd, 0);
    cr_expect_eq(mw_exec_kind(dfd, "i386", 0, NULL, 0), MW_EXEC_FOREIGN);
    close(dfd);
}

Test(execfile, only_a_regular_file_is_read_and_errno_is_kept, .init = setup, .fini = teardown, .timeout = 10)
{
    unsigned char h[64];
    const char *i386 = put("i386", h, elf_head(h, ELFCLASS32, ELFDATA2LSB, EM_386));
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/fifo", dir);
    cr_assert_eq(mkfifo(p, 0700), 0);
    cr_expect_eq(mw_exec_kind(AT_FDCWD, p, 0, NULL, 0), MW_EXEC_UNKNOWN, "a FIFO (an open would block)");
    cr_expect_eq(mw_exec_kind(AT_FDCWD, dir, 0, NULL, 0), MW_EXEC_UNKNOWN, "a directory");
    cr_expect_eq(mw_exec_kind(AT_FDCWD, "/dev/null", 0, NULL, 0), MW_EXEC_UNKNOWN, "a device");
    snprintf(p, sizeof p, "%s/link", dir);
    cr_assert_eq(symlink(i386, p), 0);
    cr_expect_eq(mw_exec_kind(AT_FDCWD, p, 0, NULL, 0), MW_EXEC_FOREIGN, "a symlink is followed");
    cr_expect_eq(mw_exec_kind(AT_FDCWD, p, AT_SYMLINK_NOFOLLOW, NULL, 0), MW_EXEC_UNKNOWN,
                 "but not with AT_SYMLINK_NOFOLLOW (the exec fails with ELOOP)");
    /* by descriptor (fexecve: AT_EMPTY_PATH), the file's own offset untouched */
    int fd = open(i386, O_RDONLY);
    cr_assert_geq(fd, 0);
    cr_assert_eq(lseek(fd, 7, SEEK_SET), 7);
    cr_expect_eq(mw_exec_kind(fd, "", AT_EMPTY_PATH, NULL, 0), MW_EXEC_FOREIGN);
    cr_expect_eq(lseek(fd, 0, SEEK_CUR), 7);
    close(fd);
    errno = 4242;
    cr_expect_eq(mw_exec_kind(AT_FDCWD, "/nonexistent", 0, NULL, 0), MW_EXEC_UNKNOWN);
    cr_expect_eq(mw_exec_kind(AT_FDCWD, NULL, 0, NULL, 0), MW_EXEC_UNKNOWN);
    cr_expect_eq(errno, 4242);
    /* unreadable to us (mode 0111: executable, not readable) says nothing, as root does not
     * show: root reads it anyway */
    snprintf(p, sizeof p, "%s/noread", dir);
    cr_assert_eq(rename(i386, p), 0);
    cr_assert_eq(chmod(p, 0111), 0);
    int k = mw_exec_kind(AT_FDCWD, p, 0, NULL, 0);
    cr_expect(k == (geteuid() == 0 ? MW_EXEC_FOREIGN : MW_EXEC_UNKNOWN), "%d", k);
}
