/*
 * own_malloc.c — fork_alloc.c with a malloc of its own defined in the executable (as
 * chromium's PartitionAlloc is, or jemalloc, tcmalloc, mimalloc linked statically): every
 * malloc in the process, libc's own included, comes to it and never reaches the shim's
 * hooks. Like those allocators it takes its lock in a pthread_atfork prepare handler and frees
 * it in the child handler, registered after the shim's (lib/bump_alloc.c, compiled in here).
 * Prints "child ok" then "parent ok 0".
 */
#include "lib/bump_alloc.c"
#include "fork_alloc.c"
