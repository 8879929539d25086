/*
 * schema_embed.c — embeds analyzer/schema.sql into the binary as the NUL-terminated string
 * mw_schema_sql, so the store's schema exists once (the .sql file) and never as a hand copy.
 * The assembler's .incbin reads the file at build time (paths are relative to the repository
 * root, where make runs; the Makefile names schema.sql as a prerequisite of this object).
 */
#include "store.h"

__asm__(".section .rodata\n"
        ".global mw_schema_sql\n"
        ".type mw_schema_sql, @object\n"
        "mw_schema_sql:\n"
        ".incbin \"analyzer/schema.sql\"\n"
        ".byte 0\n"
        ".size mw_schema_sql, . - mw_schema_sql\n"
        ".previous\n");
