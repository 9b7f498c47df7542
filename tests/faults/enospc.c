/* enospc.c — a full disk on demand, for the fault tests (LD_PRELOAD into shadowd).
 *
 * While the file named by SHADOW_FAULT_FULL_FLAG exists, every write to a file under the directory
 * SHADOW_FAULT_FULL_DIR fails with ENOSPC, exactly as on a full file system; removing the flag
 * frees the space. Sockets, pipes, the log and every other file are untouched. Only the calls
 * SQLite's unix VFS writes with are wrapped (write, pwrite64). A test tool, not for production. */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

/* glibc's value: its header defines RTLD_NEXT only under _GNU_SOURCE. */
#ifndef RTLD_NEXT
#define RTLD_NEXT ((void *)-1L)
#endif

typedef ssize_t (*write_fn)(int, const void *, size_t);
typedef ssize_t (*pwrite64_fn)(int, const void *, size_t, off_t);

ssize_t pwrite64(int fd, const void *buf, size_t n, off_t offset);

/* True when the flag exists and fd is a file under the full directory. */
static int enospc_applies(int fd)
{
    const char *flag = getenv("SHADOW_FAULT_FULL_FLAG");
    const char *dir = getenv("SHADOW_FAULT_FULL_DIR");
    struct stat st;
    char link[64], path[PATH_MAX];
    if (flag == NULL || dir == NULL || stat(flag, &st) != 0)
        return 0;
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t len = readlink(link, path, sizeof path - 1);
    if (len <= 0)
        return 0;
    path[len] = '\0';
    return strncmp(path, dir, strlen(dir)) == 0;
}

ssize_t write(int fd, const void *buf, size_t n)
{
    static write_fn real_write;
    if (real_write == NULL)
        *(void **)&real_write = dlsym(RTLD_NEXT, "write"); /* POSIX's idiom for dlsym */
    if (fd > 2 && enospc_applies(fd)) {
        errno = ENOSPC;
        return -1;
    }
    return real_write != NULL ? real_write(fd, buf, n) : -1;
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off_t offset)
{
    static pwrite64_fn real_pwrite64;
    if (real_pwrite64 == NULL)
        *(void **)&real_pwrite64 = dlsym(RTLD_NEXT, "pwrite64");
    if (enospc_applies(fd)) {
        errno = ENOSPC;
        return -1;
    }
    return real_pwrite64 != NULL ? real_pwrite64(fd, buf, n, offset) : -1;
}
