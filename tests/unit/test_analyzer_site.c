/*
 * test_analyzer_site.c — which frame names an allocation site on one line (mw_site_index):
 * the program's own first frame even when the system libraries carry debug info and the
 * program none, the traced executable counted as the program wherever it is installed,
 * memwatch's own frames and unmapped addresses skipped, and the fallbacks (first frame with
 * source, else the innermost) when every frame is the runtime's.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "model.h"
#include "report.h"

#define LIBC "/lib/x86_64-linux-gnu/libc.so.6"
#define LIBSTDCXX "/usr/lib/x86_64-linux-gnu/libstdc++.so.6"

static size_t site(const char *exe, const mw_frame *f, size_t n)
{
    mw_proc *p = mw_proc_new("/tmp/x.trace.zst");
    cr_assert_not_null(p);
    p->exe = exe ? strdup(exe) : NULL;
    mw_report_proc rp = { .p = p };
    size_t at = mw_site_index(&rp, f, n);
    mw_proc_free(p);
    return at;
}

Test(site, program_without_debug_info_past_libc_with_it)
{
    /* a stdio buffer: deep in libc (which has line info), asked for by the program's main */
    mw_frame f[] = {
        { .function = "_IO_file_doallocate", .file = "filedoalloc.c", .line = 101, .module = LIBC },
        { .function = "_IO_doallocbuf", .file = "genops.c", .line = 347, .module = LIBC },
        { .function = "printf", .file = "printf.c", .line = 33, .module = LIBC },
        { .function = "main", .module = "/opt/app/bin/app" },
        { .function = "__libc_start_call_main", .file = "libc_start_call_main.h", .line = 58,
          .module = LIBC },
    };
    cr_assert_eq(site("/opt/app/bin/app", f, 5), 3);
}

Test(site, operator_new_then_program)
{
    mw_frame f[] = {
        { .function = "operator new(unsigned long)", .module = LIBSTDCXX },
        { .function = "grow", .file = "app.cc", .line = 12, .module = "/home/u/app" },
    };
    cr_assert_eq(site("/home/u/app", f, 2), 1);
}

Test(site, system_header_code_inlined_into_the_program)
{
    /* std::vector's allocate, inlined into the program's binary from a system header: the
     * program's own code is the function that built the vector */
    mw_frame f[] = {
        { .function = "operator new(unsigned long)", .module = LIBSTDCXX },
        { .function = "std::__new_allocator<int>::allocate(unsigned long, void const*)",
          .file = "/usr/include/c++/12/bits/new_allocator.h", .line = 137, .inline_depth = 1,
          .module = "/home/u/app" },
        { .function = "make(int)", .file = "/home/u/app.cc", .line = 8, .module = "/home/u/app" },
    };
    cr_assert_eq(site("/home/u/app", f, 3), 2);
}

Test(site, executable_under_usr_lib_is_the_program)
{
    mw_frame f[] = {
        { .function = "xmalloc", .file = "xmalloc.c", .line = 149, .module = LIBC },
        { .function = "ggc_internal_alloc", .module = "/usr/lib/gcc/x86_64-linux-gnu/12/cc1" },
    };
    cr_assert_eq(site("/usr/lib/gcc/x86_64-linux-gnu/12/cc1", f, 2), 1);
    /* the same frames in another process: cc1 is then just a system object */
    cr_assert_eq(site("/usr/bin/other", f, 2), 0);
}

Test(site, own_frames_vdso_and_unknown_addresses_skipped)
{
    mw_frame f[] = {
        { .function = "0x7f0000001000" },
        { .function = "linux-vdso.so.1+0x10", .module = "linux-vdso.so.1" },
        { .function = "memwatch_watch", .module = "/opt/mw/lib/libmemwatch_preload.so" },
        { .function = "foo_new", .module = "/opt/lib/libfoo.so" },
    };
    cr_assert_eq(site("/opt/app", f, 4), 3, "a library outside the system directories is the program's");
}

Test(site, script_function_over_the_interpreter)
{
    /* node: its own binary is the traced executable, the program is the script, whose
     * functions the runtime's perf map named (no object holds them) */
    mw_frame f[] = {
        { .function = "node::NodeArrayBufferAllocator::Allocate(unsigned long)", .module = "/usr/bin/node" },
        { .function = "alloc", .file = "node:buffer", .line = 391 },
        { .function = "makeThing", .file = "/srv/app/x.js", .line = 12 },
        { .function = "keepThings", .file = "/srv/app/x.js", .line = 20 },
    };
    cr_assert_eq(site("/usr/bin/node", f, 4), 2);
}

Test(site, all_runtime_falls_back_to_source_then_innermost)
{
    mw_frame with_src[] = {
        { .function = "libstdc++.so.6+0xa57ba", .module = LIBSTDCXX },
        { .function = "call_init", .file = "dl-init.c", .line = 74,
          .module = "/lib64/ld-linux-x86-64.so.2" },
    };
    cr_assert_eq(site("/usr/bin/app", with_src, 2), 1);
    mw_frame bare[] = {
        { .function = "malloc", .module = LIBC },
        { .function = "strdup", .module = LIBC },
    };
    cr_assert_eq(site(NULL, bare, 2), 0);
    cr_assert_eq(site("/usr/bin/app", bare, 0), 0);
}

/* Demangled names cut down for one-line labels: return type, template arguments and
 * parameters go; what names the function stays. */
static void short_is(const char *name, const char *want)
{
    char out[128];
    size_t n = mw_short_function(name, out, sizeof out);
    cr_expect_str_eq(out, want, "%s", name);
    cr_expect_eq(n, strlen(out), "%s", name);
}

Test(site, short_function_names)
{
    short_is("main", "main");
    short_is("git+0x169436", "git+0x169436");
    short_is("shop::Cart::grab(unsigned long)", "shop::Cart::grab");
    short_is("double* shop::spawn<double>(unsigned long)", "shop::spawn<...>");
    short_is("heap::base::Worklist<std::pair<v8::internal::HeapObject, int>, (unsigned short)256>::Local::"
             "PublishPushSegment()",
             "heap::base::Worklist<...>::Local::PublishPushSegment");
    short_is("heap::base::SlotCallbackResult v8::internal::Scavenger::EvacuateInPlaceInternalizableString"
             "<v8::internal::FullHeapObjectSlot>(v8::internal::Map, v8::internal::FullHeapObjectSlot)",
             "v8::internal::Scavenger::EvacuateInPlaceInternalizableString<...>");
    short_is("v8::internal::(anonymous namespace)::Invoke(v8::internal::Isolate*, v8::internal::"
             "(anonymous namespace)::InvokeParams const&)",
             "v8::internal::(anonymous namespace)::Invoke");
    short_is("operator new(unsigned long)", "operator new");
    short_is("operator delete[](void*, unsigned long)", "operator delete[]");
    short_is("std::vector<int, std::allocator<int> >::operator[](unsigned long) const",
             "std::vector<...>::operator[]");
    short_is("std::ostream& std::operator<< <std::char_traits<char> >(std::ostream&, char const*)",
             "std::operator<<<...>");
    short_is("bool operator< <int>(A<int> const&, A<int> const&)", "operator<<...>");
    short_is("main::{lambda(int)#1}::operator()(int) const", "main::{lambda(int)#1}::operator()");
    short_is("Foo::operator bool() const", "Foo::operator bool");
    short_is("f(int)::cache::get()", "f::cache::get");
    short_is("std::__cxx11::basic_string<char, std::char_traits<char>, std::allocator<char> > const& "
             "name_of(int)",
             "name_of");
    /* the output buffer bounds the result */
    char small[8];
    cr_expect_eq(mw_short_function("shop::Cart::grab(unsigned long)", small, sizeof small), 7);
    cr_expect_str_eq(small, "shop::C");
    /* an operator's symbol and words past a full buffer (these looped forever when the copy
     * stopped advancing along with the output) */
    cr_expect_eq(mw_short_function("bool operator<<=(A&, int)", small, 4), 3);
    cr_expect_eq(mw_short_function("X::operator new[](unsigned long)", small, 1), 0);
    cr_expect_str_eq(small, "");
}

/* glibc's allocator stopping the process on a corrupt heap (mw_frames_heap_error): with
 * libc's debug info (malloc_printerr named), and without it (only abort and free are named,
 * the frames between are libc+offset); an abort the program asked for is not one. */
Test(site, the_allocators_abort_with_and_without_libc_symbols)
{
    mw_frame dbg[] = {
        { .function = "__pthread_kill_implementation", .module = LIBC },
        { .function = "raise", .module = LIBC },
        { .function = "abort", .module = LIBC },
        { .function = "__libc_message", .module = LIBC },
        { .function = "malloc_printerr", .module = LIBC },
        { .function = "_int_free", .module = LIBC },
        { .function = "free", .module = LIBC },
        { .function = "crash_here", .module = "/opt/app" },
    };
    cr_expect(mw_frames_heap_error(dbg, 8));
    mw_frame bare[] = {
        { .function = "libc.so.6+0x8aeec", .module = LIBC },
        { .function = "raise", .module = LIBC },
        { .function = "abort", .module = LIBC },
        { .function = "libc.so.6+0x7f1f6", .module = LIBC },
        { .function = "libc.so.6+0x96a0a", .module = LIBC },
        { .function = "libc.so.6+0x98a3c", .module = LIBC },
        { .function = "__libc_free", .module = LIBC },
        { .function = "crash_here", .module = "/opt/app" },
    };
    cr_expect(mw_frames_heap_error(bare, 8));
    mw_frame own[] = {
        { .function = "raise", .module = LIBC },
        { .function = "abort", .module = LIBC },
        { .function = "check", .module = "/opt/app" },
        { .function = "free_all", .module = "/opt/app" }, /* the program's, not libc's */
        { .function = "free", .module = LIBC },
    };
    cr_expect_not(mw_frames_heap_error(own, 5));
    cr_expect_not(mw_frames_heap_error(own, 0));
}
