/*
 * locale_first.c — a program whose first allocation is glibc's, inside bindtextdomain with
 * the catalogue lock held for writing: its library's constructor (lib/gettext_ctor.c, as
 * libgpg-error's in postgres) runs before the shim's. Where the shim cannot trace (an
 * unwritable MEMWATCH_OUT) it says why in one line: that line must not look the error's text
 * up in the catalogue (strerror) under the lock this thread holds, which broke the lock and
 * hung the program's own bindtextdomain for ever (postgres -V, 2026-11-23). Prints the
 * domain's directory.
 */
#include <libintl.h>
#include <locale.h>
#include <stdio.h>

int main(void)
{
    setlocale(LC_ALL, "");
    const char *d = bindtextdomain("memwatch-victim", "/usr/share/locale");
    textdomain("memwatch-victim");
    printf("%s\n", d ? d : "(none)");
    return 0;
}
