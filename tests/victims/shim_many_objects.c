/*
 * shim_many_objects.c — victim: more shared objects loaded at once than the shim records
 * (4 096). Copies the library SRC to N files in DIR (copies: glibc would load one object for
 * links to the same file) and dlopens each.
 *
 *     shim_many_objects SRC DIR N      prints "loaded N"; exit status 0
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: shim_many_objects SRC DIR N\n");
        return 2;
    }
    long n = strtol(argv[3], NULL, 10);
    int src = open(argv[1], O_RDONLY);
    if (src < 0 || n < 1 || n > 100000) return 2;
    static char buf[1 << 20];
    ssize_t len = read(src, buf, sizeof buf);
    close(src);
    if (len <= 0) return 2;
    long loaded = 0;
    for (long i = 0; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/obj%ld.so", argv[2], i);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd < 0 || write(fd, buf, (size_t)len) != len) return 3;
        close(fd);
        if (dlopen(path, RTLD_NOW | RTLD_LOCAL)) loaded++;
    }
    printf("loaded %ld\n", loaded);
    return 0;
}
