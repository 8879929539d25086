/*
 * test_sql_fingerprint.c — unit tests of the SQL normalizer and fingerprint
 * (preload/sql_fingerprint.c, included directly: it depends on nothing else of the shim).
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../preload/sql_fingerprint.c"

static char buf[MW_SQL_NORM_CAP];

static const char *norm(const char *sql)
{
    mw_sql_normalize(sql, SIZE_MAX, 0, buf, sizeof buf, NULL, NULL);
    return buf;
}

static uint64_t fp_of(const char *sql)
{
    char b[MW_SQL_NORM_CAP];
    size_t n = mw_sql_normalize(sql, SIZE_MAX, 0, b, sizeof b, NULL, NULL);
    return mw_sql_fingerprint(b, n);
}

Test(sql_fingerprint, numbers_and_strings_become_placeholders)
{
    cr_assert_str_eq(norm("SELECT * FROM t WHERE id = 42"), "SELECT * FROM t WHERE id = ?");
    cr_assert_str_eq(norm("SELECT 1.5, .5, 1e-3, 2E+10, 0x1F"), "SELECT ?, ?, ?, ?, ?");
    cr_assert_str_eq(norm("INSERT INTO t VALUES ('it''s', 'x')"), "INSERT INTO t VALUES (?, ?)");
    cr_assert_str_eq(norm("SELECT x'00ff', X'AB', E'a\\'b', B'101', N'n', U&'d\\0061t'"),
                     "SELECT ?, ?, ?, ?, ?, ?");
}

Test(sql_fingerprint, dollar_quotes_and_parameters)
{
    cr_assert_str_eq(norm("SELECT $$a 'b' $1$$, $fn$ body; $$ $fn$"), "SELECT ?, ?");
    cr_assert_str_eq(norm("SELECT * FROM t WHERE a = $1 AND b = $12"),
                     "SELECT * FROM t WHERE a = $1 AND b = $12");
    cr_assert_str_eq(norm("SELECT ?, ?3, :name, @v, $var FROM t"),
                     "SELECT ?, ?3, :name, @v, $var FROM t");
}

Test(sql_fingerprint, identifiers_keep_spelling)
{
    cr_assert_str_eq(norm("select \"Col 1\", `x2`, t1.c2 from T3"),
                     "select \"Col 1\", `x2`, t1.c2 from T3");
    /* digits glued to letters are a word, not a number */
    cr_assert_str_eq(norm("SELECT 2nd FROM t"), "SELECT 2nd FROM t");
    cr_assert_str_eq(norm("SELECT 1.5L, -.5x, .5y"), "SELECT 1.5L, -.5x, .5y"); /* (used to loop) */
    /* a literal prefix needs a word boundary: ax'..' is not a blob */
    cr_assert_str_eq(norm("SELECT e'x', ex FROM t"), "SELECT ?, ex FROM t");
}

Test(sql_fingerprint, whitespace_and_comments)
{
    cr_assert_str_eq(norm("  SELECT\n\t a ,b   FROM  t ;  "), "SELECT a ,b FROM t");
    cr_assert_str_eq(norm("SELECT a -- trailing 'comment' 1\nFROM t /* c /* nested */ x */ WHERE b=1"),
                     "SELECT a FROM t WHERE b=?");
    cr_assert_str_eq(norm("/*traceparent='00-ab'*/ SELECT 1"), "SELECT ?");
}

Test(sql_fingerprint, negative_numbers)
{
    cr_assert_str_eq(norm("SELECT * FROM t WHERE a = -1 AND b IN (-2, 3)"),
                     "SELECT * FROM t WHERE a = ? AND b IN (?...)");
    cr_assert_str_eq(norm("SELECT a - 1, a-1 FROM t"), "SELECT a - ?, a-? FROM t");
}

Test(sql_fingerprint, in_lists_collapse)
{
    cr_assert_str_eq(norm("SELECT * FROM t WHERE id IN (1, 2, 3)"),
                     "SELECT * FROM t WHERE id IN (?...)");
    cr_assert_str_eq(norm("SELECT * FROM t WHERE id in(1,2)"), "SELECT * FROM t WHERE id in(?...)");
    cr_assert_eq(fp_of("SELECT * FROM t WHERE id IN (1)"), fp_of("SELECT * FROM t WHERE id IN (4,5,6,7)"));
    /* parameters numbered $n are not collapsed, nor lists with other expressions */
    cr_assert_str_eq(norm("SELECT * FROM t WHERE id IN ($1, $2)"), "SELECT * FROM t WHERE id IN ($1, $2)");
    cr_assert_str_eq(norm("SELECT * FROM t WHERE id IN (1, a)"), "SELECT * FROM t WHERE id IN (?, a)");
    cr_assert_str_eq(norm("SELECT min (1, 2)"), "SELECT min (?, ?)");
}

Test(sql_fingerprint, values_rows_collapse)
{
    cr_assert_str_eq(norm("INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'c')"),
                     "INSERT INTO t VALUES (?, ?)...");
    cr_assert_str_eq(norm("insert into t values(1,2),(3,4);"), "insert into t values(?,?)...");
    cr_assert_eq(fp_of("INSERT INTO t(a) VALUES (1), (2)"), fp_of("INSERT INTO t(a) VALUES (7), (8), (9)"));
    /* one row, or rows that differ, stay as written */
    cr_assert_str_eq(norm("INSERT INTO t VALUES (1, 2)"), "INSERT INTO t VALUES (?, ?)");
    cr_assert_str_eq(norm("INSERT INTO t VALUES ($1, $2), ($3, $4)"),
                     "INSERT INTO t VALUES ($1, $2), ($3, $4)");
    cr_assert_str_eq(norm("INSERT INTO t VALUES (1, now()), (2, now())"),
                     "INSERT INTO t VALUES (?, now()), (?, now())");
    cr_assert_str_eq(norm("SELECT * FROM (VALUES (1), (2)) AS v(x)"), "SELECT * FROM (VALUES (?)...) AS v(x)");
    cr_assert_str_eq(norm("SELECT values_x FROM t"), "SELECT values_x FROM t");
}

Test(sql_fingerprint, same_shape_same_fingerprint)
{
    cr_assert_eq(fp_of("SELECT name FROM users WHERE id = 1"),
                 fp_of("SELECT  name\nFROM users WHERE id = 987654"));
    cr_assert_neq(fp_of("SELECT name FROM users WHERE id = 1"),
                  fp_of("SELECT mail FROM users WHERE id = 1"));
    cr_assert_neq(fp_of("SELECT 1"), 0);
    /* the fingerprint is XXH3_64bits of the normalized text */
    cr_assert_eq(fp_of("SELECT 'a'"), XXH3_64bits("SELECT ?", 8));
}

Test(sql_fingerprint, one_statement_stops_at_semicolon)
{
    const char *sql = "INSERT INTO t VALUES (';'); SELECT 2";
    size_t used = 0;
    size_t n = mw_sql_normalize(sql, SIZE_MAX, MW_SQL_ONE_STATEMENT, buf, sizeof buf, &used, NULL);
    cr_assert_str_eq(buf, "INSERT INTO t VALUES (?)");
    cr_assert_eq(n, strlen("INSERT INTO t VALUES (?)"));
    cr_assert_eq(used, strlen("INSERT INTO t VALUES (';');"));
    /* without the flag, the whole script is one text */
    cr_assert_str_eq(norm(sql), "INSERT INTO t VALUES (?); SELECT ?");
}

Test(sql_fingerprint, explicit_length_and_unterminated_input)
{
    const char *sql = "SELECT 1 FROM t WHERE x = 'abc";
    cr_assert_eq(mw_sql_normalize(sql, 8, 0, buf, sizeof buf, NULL, NULL), 8);
    cr_assert_str_eq(buf, "SELECT ?");
    cr_assert_str_eq(norm(sql), "SELECT ? FROM t WHERE x = ?");
    cr_assert_str_eq(norm("SELECT $tag$ never closed"), "SELECT ?");
    cr_assert_str_eq(norm("SELECT /* never closed"), "SELECT");
    cr_assert_eq(mw_sql_normalize(NULL, SIZE_MAX, 0, buf, sizeof buf, NULL, NULL), 0);
    cr_assert_str_eq(buf, "");
}

Test(sql_fingerprint, long_text_is_truncated_within_cap)
{
    static char big[3 * MW_SQL_NORM_CAP];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    memcpy(big, "SELECT ", 7);
    int trunc = 0;
    size_t n = mw_sql_normalize(big, SIZE_MAX, 0, buf, sizeof buf, NULL, &trunc);
    cr_assert_eq(trunc, 1);
    cr_assert_eq(n, MW_SQL_NORM_CAP - 1);
    cr_assert_eq(strlen(buf), n);
    /* a tiny buffer still terminates */
    char small[4];
    n = mw_sql_normalize("SELECT 1", SIZE_MAX, 0, small, sizeof small, NULL, &trunc);
    cr_assert_eq(n, 3);
    cr_assert_str_eq(small, "SEL");
}

/* Inputs passed with an explicit length live in exact-size heap buffers (no terminator), so
 * ASan catches any read past n. Every prefix of each tricky text is tried. */
Test(sql_fingerprint, never_reads_past_the_given_length, .timeout = 60)
{
    static const char *texts[] = {
        "SELECT 'unterminated", "SELECT E'a\\", "x'", "U&", "U&'", "$", "$$", "$a", "$a$",
        "$a$ body $a", "-", "--", "/*", "/* /* */", "0x", "0x1", "1e", "1e+", ".", "?",
        "?1", "\"quoted", "`b", "in (", "IN (?,", "IN (?, ?", "a = -", "a = -.", ";",
        "SELECT 1;;  ", "\xff\xfe unicode \xc3\xa9 'x'",
    };
    for (size_t t = 0; t < sizeof texts / sizeof texts[0]; t++) {
        size_t len = strlen(texts[t]);
        for (size_t n = 0; n <= len; n++) {
            char *exact = malloc(n ? n : 1);
            memcpy(exact, texts[t], n);
            for (unsigned flags = 0; flags < 2; flags++) {
                size_t used = SIZE_MAX;
                int trunc = -1;
                size_t out = mw_sql_normalize(exact, n, flags, buf, sizeof buf, &used, &trunc);
                cr_assert_leq(used, n);
                cr_assert_eq(trunc, 0);
                cr_assert_eq(strlen(buf), out);
            }
            free(exact);
        }
    }
}

Test(sql_fingerprint, random_bytes, .timeout = 60)
{
    unsigned seed = 12345;
    char in[300];
    for (int round = 0; round < 20000; round++) {
        size_t n = (size_t)(rand_r(&seed) % sizeof in);
        for (size_t i = 0; i < n; i++) {
            static const char alphabet[] = "SELECT in'\"`$?-/*;()., 0123456789xEeU&\n\t\\";
            in[i] = (rand_r(&seed) & 1) ? alphabet[rand_r(&seed) % (sizeof alphabet - 1)]
                                        : (char)(rand_r(&seed) & 0xff);
        }
        char *exact = malloc(n ? n : 1);
        memcpy(exact, in, n);
        size_t used;
        size_t out = mw_sql_normalize(exact, n, (unsigned)round & 1u, buf, sizeof buf, &used, NULL);
        cr_assert_leq(used, n);
        cr_assert_leq(out, sizeof buf - 1);
        free(exact);
    }
}
