/*
 * jsonw.h — a small streaming JSON writer (jsonw.c) used by the JSON report: handles commas,
 * indentation and string escaping (control characters, quotes, invalid UTF-8 -> U+FFFD).
 */
#ifndef MW_JSONW_H
#define MW_JSONW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define MW_JSON_MAX_DEPTH 64

typedef struct mw_json {
    FILE *f;
    int depth;
    bool first[MW_JSON_MAX_DEPTH];
    bool after_key;
} mw_json;

void mw_json_init(mw_json *j, FILE *f);
void mw_json_obj(mw_json *j);      /* { */
void mw_json_obj_end(mw_json *j);  /* } */
void mw_json_arr(mw_json *j);      /* [ */
void mw_json_arr_end(mw_json *j);  /* ] */
void mw_json_key(mw_json *j, const char *key);
void mw_json_str(mw_json *j, const char *s);           /* NULL -> null */
void mw_json_strn(mw_json *j, const char *s, size_t n);
void mw_json_u64(mw_json *j, uint64_t v);
void mw_json_i64(mw_json *j, int64_t v);
void mw_json_f64(mw_json *j, double v);                /* non-finite -> null */
void mw_json_bool(mw_json *j, bool v);
void mw_json_null(mw_json *j);
/* Writes s as the body of a JSON string (no quotes): also used by other writers. */
void mw_json_escape(FILE *f, const char *s, size_t n);

#endif /* MW_JSONW_H */
