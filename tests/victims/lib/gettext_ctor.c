/*
 * gettext_ctor.c — a library whose constructor binds a message catalogue, as libgpg-error's
 * does: glibc allocates inside bindtextdomain with its catalogue lock held for writing, and
 * that is the first allocation of a process that links this library (its constructor runs
 * before the shim's), where the shim starts tracing (tests/victims/locale_first.c).
 */
#include <libintl.h>

__attribute__((constructor)) static void bind_catalogue(void)
{
    bindtextdomain("memwatch-victim-lib", "/usr/share/locale");
}
