/*
 * test_analyzer_jsonw.c — the JSON writer: nesting and commas, escaping of quotes,
 * backslashes, control characters and HTML specials, invalid UTF-8 replaced by U+FFFD,
 * non-finite numbers as null. The output is parsed back by python3's json module.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jsonw.h"

static char *render(void (*fn)(mw_json *))
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    mw_json j;
    mw_json_init(&j, f);
    fn(&j);
    fclose(f);
    return buf;
}

static void doc(mw_json *j)
{
    mw_json_obj(j);
    mw_json_key(j, "s");
    mw_json_str(j, "q\"b\\s/\n\t\x01<a>&\xc3\xa9\xff");
    mw_json_key(j, "n");
    mw_json_null(j);
    mw_json_key(j, "arr");
    mw_json_arr(j);
    mw_json_u64(j, UINT64_MAX);
    mw_json_i64(j, -5);
    mw_json_f64(j, 0.5);
    mw_json_f64(j, NAN);
    mw_json_bool(j, true);
    mw_json_str(j, NULL);
    mw_json_obj(j);
    mw_json_obj_end(j);
    mw_json_arr(j);
    mw_json_arr_end(j);
    mw_json_arr_end(j);
    mw_json_obj_end(j);
}

Test(jsonw, escaping_and_structure)
{
    char *out = render(doc);
    cr_assert(strstr(out, "\\\"b\\\\s/\\n\\t\\u0001\\u003ca\\u003e\\u0026\xc3\xa9\\ufffd"), "%s", out);
    cr_assert_null(strchr(out, '<'), "no raw '<' (safe inside HTML): %s", out);
    char path[] = "/tmp/mw-jsonw-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    FILE *f = fdopen(fd, "w");
    fputs(out, f);
    fclose(f);
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "python3 -c 'import json,sys; d=json.load(open(sys.argv[1]));"
             "assert d[\"s\"]==\"q\\\"b\\\\s/\\n\\t\\x01<a>&\\u00e9\\ufffd\", repr(d[\"s\"]);"
             "assert d[\"n\"] is None;"
             "assert d[\"arr\"]==[18446744073709551615,-5,0.5,None,True,None,{},[]], d[\"arr\"]' %s",
             path);
    cr_assert_eq(system(cmd), 0, "%s", out);
    unlink(path);
    free(out);
}
