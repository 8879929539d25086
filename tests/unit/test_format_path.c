/*
 * test_format_path.c — execvp's PATH search (formats/mw_path.c), shared by the shim's EXEC and
 * SPAWN records and the runner's "no traces" line: names with a slash, the default PATH, an
 * empty entry (the working directory), entries that are directories or not executable, a name
 * nowhere, a buffer too small, errno kept.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mw_path.h"

static char dir[256];
static char *saved_path;

static void mkfile(const char *sub, const char *name, mode_t mode)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/%s", dir, sub);
    mkdir(p, 0700);
    snprintf(p, sizeof p, "%s/%s/%s", dir, sub, name);
    FILE *f = fopen(p, "w");
    cr_assert_not_null(f, "%s", p);
    fclose(f);
    cr_assert_eq(chmod(p, mode), 0);
}

static void setup(void)
{
    saved_path = getenv("PATH") ? strdup(getenv("PATH")) : NULL;
    snprintf(dir, sizeof dir, "%s/mwpathXXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    cr_assert_not_null(mkdtemp(dir));
    mkfile("a", "prog", 0600);          /* not executable */
    mkfile("b", "other", 0700);
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/c", dir);
    mkdir(p, 0700);
    snprintf(p, sizeof p, "%s/c/prog", dir);  /* a directory of that name */
    mkdir(p, 0700);
    mkfile("d", "prog", 0700);
    mkfile("cwd", "here", 0700);
}

static void teardown(void)
{
    char cmd[PATH_MAX + 16];
    if (saved_path) setenv("PATH", saved_path, 1);
    free(saved_path);
    snprintf(cmd, sizeof cmd, "/bin/rm -rf '%s'", dir);
    cr_expect_eq(system(cmd), 0);
}

TestSuite(format_path, .init = setup, .fini = teardown);

Test(format_path, a_name_with_a_slash_or_empty_is_itself)
{
    char buf[PATH_MAX];
    const char *f = "./x/prog";
    cr_assert_eq(mw_path_search(f, buf, sizeof buf), f);
    cr_assert_eq(mw_path_search("", buf, sizeof buf)[0], '\0');
}

Test(format_path, the_first_executable_regular_file_in_path)
{
    char path[4 * PATH_MAX], buf[PATH_MAX], want[PATH_MAX];
    snprintf(path, sizeof path, "%s/a:%s/b:%s/c:%s/d:%s/b", dir, dir, dir, dir, dir);
    setenv("PATH", path, 1);
    errno = 1234;
    const char *r = mw_path_search("prog", buf, sizeof buf);
    cr_assert_eq(errno, 1234, "errno kept");
    snprintf(want, sizeof want, "%s/d/prog", dir);
    cr_assert_not_null(r);
    cr_assert_str_eq(r, want, "not the unexecutable one, not the directory");
    cr_assert_null(mw_path_search("nowhere", buf, sizeof buf));
    cr_assert_eq(errno, 1234);
}

Test(format_path, an_empty_entry_is_the_working_directory)
{
    char path[2 * PATH_MAX], buf[PATH_MAX], cwd[PATH_MAX], want[PATH_MAX + 8];
    cr_assert_not_null(getcwd(cwd, sizeof cwd));
    snprintf(path, sizeof path, "%s/b::/nonexistent", dir);
    setenv("PATH", path, 1);
    snprintf(want, sizeof want, "%s/cwd", dir);
    cr_assert_eq(chdir(want), 0);
    const char *r = mw_path_search("here", buf, sizeof buf);
    cr_assert_eq(chdir(cwd), 0);
    snprintf(want, sizeof want, "%s/cwd/here", dir);
    cr_assert_not_null(r);
    cr_assert_str_eq(r, want);
}

Test(format_path, unset_path_is_glibcs_default)
{
    char buf[PATH_MAX];
    unsetenv("PATH");
    const char *r = mw_path_search("sh", buf, sizeof buf);
    cr_assert_not_null(r);
    cr_assert_str_eq(r, "/bin/sh");
}

Test(format_path, an_entry_longer_than_the_buffer_is_passed_over)
{
    char path[2 * PATH_MAX], buf[24];
    snprintf(path, sizeof path, "%s/d:/bin", dir);
    setenv("PATH", path, 1);
    const char *r = mw_path_search("sh", buf, sizeof buf);
    cr_assert_not_null(r);
    cr_assert_str_eq(r, "/bin/sh");
}
