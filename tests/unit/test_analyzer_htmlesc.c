/*
 * test_analyzer_htmlesc.c — HTML and Markdown escaping of trace-controlled strings.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "htmlesc.h"

static char *md(const char *s)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    mw_md_escape(f, s);
    fclose(f);
    return buf;
}

Test(htmlesc, specials_become_entities)
{
    char *e = mw_html_escape_str("<script>alert(1)</script> \"&'");
    cr_assert_str_eq(e, "&lt;script&gt;alert(1)&lt;/script&gt; &quot;&amp;&#39;");
    free(e);
}

Test(htmlesc, utf8_kept_invalid_and_controls_replaced)
{
    char *e = mw_html_escape_str("caf\xc3\xa9 \xe2\x82\xac bad\xff\xfe ctl\x01\x1b[31m x\ty\n");
    cr_assert_str_eq(e, "caf\xc3\xa9 \xe2\x82\xac bad&#xFFFD;&#xFFFD; ctl&#xFFFD;&#xFFFD;[31m x\ty\n");
    free(e);
    e = mw_html_escape_str("\xc0\xaf overlong \xed\xa0\x80 surrogate \xf0\x9f\x98\x80");
    cr_assert_str_eq(e, "&#xFFFD;&#xFFFD; overlong &#xFFFD;&#xFFFD;&#xFFFD; surrogate \xf0\x9f\x98\x80");
    free(e);
    e = mw_html_escape_str("cut \xe2\x82");
    cr_assert_str_eq(e, "cut &#xFFFD;&#xFFFD;", "a sequence cut by the end of the string");
    free(e);
}

Test(htmlesc, null_and_empty)
{
    char *e = mw_html_escape_str(NULL);
    cr_assert_str_eq(e, "");
    free(e);
    e = mw_html_escape_str("");
    cr_assert_str_eq(e, "");
    free(e);
}

Test(htmlesc, markdown_cells)
{
    char *e = md("a|b `c` *d* _e_ [f](g) #h\\ <i>\nnext");
    cr_assert_str_eq(e, "a\\|b \\`c\\` \\*d\\* \\_e\\_ \\[f\\](g) \\#h\\\\ &lt;i&gt; next");
    free(e);
}
