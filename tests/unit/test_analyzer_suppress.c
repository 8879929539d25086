/*
 * test_analyzer_suppress.c — LeakSanitizer-style suppressions: the file format (comments,
 * blank lines, bad lines named by number) and LSan's template matching (substring, '*',
 * '^', '$') against function, file and module names.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "suppress.h"

Test(suppress, template_matching_like_lsan)
{
    cr_assert(mw_supp_match("leak_here", "leak_here"));
    cr_assert(mw_supp_match("leak", "my_leak_here"), "substring");
    cr_assert(mw_supp_match("^leak", "leak_here"));
    cr_assert_not(mw_supp_match("^leak", "my_leak"));
    cr_assert(mw_supp_match("here$", "leak_here"));
    cr_assert_not(mw_supp_match("here$", "here_not"));
    cr_assert(mw_supp_match("^leak_here$", "leak_here"));
    cr_assert_not(mw_supp_match("^leak_here$", "leak_here2"));
    cr_assert(mw_supp_match("a*c", "xxabbbcxx"));
    cr_assert(mw_supp_match("^a*c$", "abbbc"));
    cr_assert_not(mw_supp_match("^a*c$", "abbbcd"));
    cr_assert(mw_supp_match("lib*.so", "/usr/lib/libfoo.so.1"));
    cr_assert(mw_supp_match("*$", "x"), "'$' after '*' matches anything");
    cr_assert_not(mw_supp_match("abc", ""), "empty strings never match");
    cr_assert_not(mw_supp_match("abc", NULL));
    cr_assert(mw_supp_match("std::vector<int>::push", "std::vector<int>::push_back(int const&)"));
}

Test(suppress, file_format)
{
    mw_supp s;
    char err[256];
    mw_supp_init(&s);
    const char *text = "# known leaks\n\nleak:leak_here\n  leak: libfoo.so  \nleak:^main$\n";
    cr_assert_eq(mw_supp_parse(&s, text, "supp.txt", err, sizeof err), 0, "%s", err);
    cr_assert_eq(s.n, 3);
    cr_assert_str_eq(s.patterns[0], "leak_here");
    cr_assert_str_eq(s.patterns[1], "libfoo.so");
    cr_assert_str_eq(s.patterns[2], "^main$");
    mw_supp_free(&s);
}

Test(suppress, bad_lines_are_named)
{
    const char *bad[] = {"leak:ok\nrace:foo\n", "leak:ok\n\njust text\n", "leak:\n"};
    const char *want[] = {"suppressions supp.txt:2:", "suppressions supp.txt:3:", "suppressions supp.txt:1:"};
    for (size_t i = 0; i < 3; i++) {
        mw_supp s;
        char err[256] = "";
        mw_supp_init(&s);
        cr_expect_eq(mw_supp_parse(&s, bad[i], "supp.txt", err, sizeof err), -1);
        cr_expect(strstr(err, want[i]), "case %zu: %s", i, err);
        mw_supp_free(&s);
    }
}

Test(suppress, frames_match_function_file_or_module)
{
    mw_supp s;
    char err[256];
    mw_supp_init(&s);
    cr_assert_eq(mw_supp_parse(&s, "leak:nomatch\nleak:victim.c\nleak:^libz", "x", err, sizeof err), 0);
    mw_frame f[2] = {{0x10, 0, "alloc_thing", "/src/victim.c", 12, "/bin/victim", 0},
                     {0x20, 0, "main", NULL, 0, "/bin/victim", 0}};
    cr_assert_eq(mw_supp_match_frames(&s, f, 2), 1, "file name match");
    mw_frame g[1] = {{0x30, 0, "inflate", NULL, 0, "libz.so.1", 0}};
    cr_assert_eq(mw_supp_match_frames(&s, g, 1), 2, "module name match");
    mw_frame h[1] = {{0x40, 0, "other", "/src/a.c", 1, "/lib/libzz.so", 0}};
    cr_assert_eq(mw_supp_match_frames(&s, h, 1), -1);
    mw_supp_free(&s);
}

Test(suppress, missing_file)
{
    mw_supp s;
    char err[256];
    mw_supp_init(&s);
    cr_assert_eq(mw_supp_load(&s, "/nonexistent/supp.txt", err, sizeof err), -1);
    cr_assert(strstr(err, "/nonexistent/supp.txt"), "%s", err);
    cr_assert_eq(mw_supp_load(&s, "/tmp", err, sizeof err), -1);
    cr_assert(strstr(err, "cannot read suppressions /tmp: Is a directory"), "%s", err);
    cr_assert_eq(mw_supp_load(&s, "/dev/zero", err, sizeof err), -1);
    cr_assert(strstr(err, "cannot read suppressions /dev/zero: larger than"), "%s", err);
    mw_supp_free(&s);
}
