/* nodelay.c — an LD_PRELOAD experiment: TCP_NODELAY on every TCP socket a program connects.
 *
 * Paho MQTT C 1.3.12 never sets TCP_NODELAY and has no option for it. So when shadowd writes a
 * PUBACK and then, at once, its `accepted` and `documents`, Nagle's algorithm holds the later
 * small writes until the broker acknowledges the first. Under a steady stream that is the
 * receiver's delayed ACK, up to 40 ms. Running shadowd with
 *
 *   LD_PRELOAD=build/bench/nodelay.so build/shadowd …
 *
 * measures what the service would gain if the transport set the option. This wraps connect() and
 * sets the option on the socket first; it changes nothing else. A benchmark tool, not for
 * production. */
#include <dlfcn.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <sys/socket.h>

/* glibc's value: its header defines RTLD_NEXT only under _GNU_SOURCE, which would also turn
 * connect()'s declaration into a transparent union that this definition does not match. */
#ifndef RTLD_NEXT
#define RTLD_NEXT ((void *)-1L)
#endif

typedef int (*connect_fn)(int, const struct sockaddr *, socklen_t);

int connect(int fd, const struct sockaddr *addr, socklen_t len)
{
    static connect_fn real_connect;
    if (real_connect == NULL)
        *(void **)&real_connect = dlsym(RTLD_NEXT, "connect"); /* POSIX's idiom for dlsym */
    int type = 0, on = 1;
    socklen_t type_len = sizeof type;
    if (addr != NULL && (addr->sa_family == AF_INET || addr->sa_family == AF_INET6) &&
        getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &type_len) == 0 && type == SOCK_STREAM)
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on); /* best effort */
    return real_connect != NULL ? real_connect(fd, addr, len) : -1;
}
