/*
 * hello32.c — a 32-bit x86 program (tests/integration/test_shim_proc.c): the 64-bit shim cannot
 * be loaded into it, and its dynamic loader printed "ERROR: ld.so: object ... cannot be
 * preloaded (wrong ELF class: ELFCLASS64): ignored." into its stderr when a traced process
 * passed the shim on to it. Built without 32-bit headers or start files (only Debian's
 * libc6-i386 is needed): its own entry point, libc's functions declared here.
 *
 *     hello32 [STATUS]    one line on stdout, one on stderr (a 10-byte malloc'd buffer in
 *                         each), exit status STATUS (default 3)
 */
typedef unsigned int size_t;
void *malloc(size_t);
void free(void *);
int puts(const char *);
long write(int, const void *, size_t);
int atoi(const char *);
void exit(int) __attribute__((noreturn));

/* The kernel starts it with argc, argv[0..argc), NULL on the stack; the i386 ABI wants the
 * stack 16-byte aligned at calls, which nothing set up here: the attribute realigns it. */
__attribute__((force_align_arg_pointer, noreturn, used)) static void start_c(int argc, char **argv)
{
    char *p = malloc(10);
    for (int i = 0; i < 9; i++) p[i] = "from i386"[i];
    p[9] = 0;
    puts(p);
    write(2, "stderr of hello32\n", 18);
    free(p);
    exit(argc > 1 ? atoi(argv[1]) : 3);
}

__asm__(".globl _start\n"
        "_start:\n"
        "  mov (%esp), %eax\n"     /* argc */
        "  lea 4(%esp), %ecx\n"    /* argv */
        "  push %ecx\n"
        "  push %eax\n"
        "  call start_c\n");
