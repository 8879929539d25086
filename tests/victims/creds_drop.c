/*
 * creds_drop.c — drops privileges the way setpriv and many daemons do: keep capabilities
 * across the uid change (PR_SET_KEEPCAPS), setresuid to nobody, raise the kept capabilities
 * again in this thread only (capset), then setresgid — which glibc runs in every thread and
 * aborts the process if any thread fails. Must run as root. Prints the final ids.
 */
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int capget(cap_user_header_t hdrp, cap_user_data_t datap);
int capset(cap_user_header_t hdrp, const cap_user_data_t datap);

static void *volatile g_sink;

int main(void)
{
    g_sink = malloc(100);
    if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0) { perror("prctl"); return 1; }
    if (setresuid(65534, 65534, 65534) != 0) { perror("setresuid"); return 1; }
    struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof data);
    if (capget(&hdr, data) != 0) { perror("capget"); return 1; }
    data[0].effective = data[0].permitted;
    data[1].effective = data[1].permitted;
    if (capset(&hdr, data) != 0) { perror("capset"); return 1; }
    if (setresgid(65534, 65534, 65534) != 0) { perror("setresgid"); return 1; }
    free(g_sink);
    printf("uid=%d gid=%d\n", (int)getuid(), (int)getgid());
    return 0;
}
