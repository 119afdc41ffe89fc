/*
 * The reference responder of the load test: the least a server can do for an HAProxy agent check.
 * One thread, one epoll instance; for every connection: accept4, write one constant line, close.
 * It does not read what the client sent, so its close usually resets the connection (RST) instead of
 * ending it (FIN). With "read" it first reads the client's line (waiting for it in epoll when it has
 * not arrived yet), as an agent must, and closes with a reset all the same (SO_LINGER 0, set on the
 * listener and inherited), as patroni-agent does. Listens on a loopback address only.
 *
 *   cc -O2 -o responder responder.c
 *   responder 127.0.0.1 5555 'up ready 100% #primary, timeline 1' [read]
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

static int listen_on(const char *address, int port)
{
    struct sockaddr_storage storage;
    socklen_t length;
    memset(&storage, 0, sizeof storage);
    struct sockaddr_in *v4 = (struct sockaddr_in *)&storage;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&storage;
    if (inet_pton(AF_INET, address, &v4->sin_addr) == 1 && (ntohl(v4->sin_addr.s_addr) >> 24) == 127) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port);
        length = sizeof *v4;
    } else if (inet_pton(AF_INET6, address, &v6->sin6_addr) == 1 && IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr)) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port);
        length = sizeof *v6;
    } else {
        fprintf(stderr, "responder: %s is not a loopback address\n", address);
        exit(2);
    }
    int fd = socket(storage.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0
        || bind(fd, (struct sockaddr *)&storage, length) != 0 || listen(fd, 4096) != 0) {
        perror("responder: listen");
        exit(1);
    }
    return fd;
}

/* A connection whose line has come: read it, answer, close (which also leaves the epoll set). */
static void answer(int fd, const char *line, int size)
{
    char request[256];
    (void)!recv(fd, request, sizeof request, 0);
    (void)!write(fd, line, size);
    close(fd);
}

int main(int argc, char **argv)
{
    if (argc < 4 || argc > 5 || (argc == 5 && strcmp(argv[4], "read") != 0)) {
        fprintf(stderr, "usage: responder ADDRESS PORT LINE [read]\n");
        return 2;
    }
    int reading = argc == 5;
    char line[512];
    int size = snprintf(line, sizeof line, "%s\n", argv[3]);
    if (size <= 0 || size >= (int)sizeof line) {
        fprintf(stderr, "responder: line too long\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    int listener = listen_on(argv[1], atoi(argv[2]));
    struct linger reset = { .l_onoff = 1, .l_linger = 0 };
    if (reading && setsockopt(listener, SOL_SOCKET, SO_LINGER, &reset, sizeof reset) != 0) {
        perror("responder: SO_LINGER");
        return 1;
    }
    int epoll = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event event = { .events = EPOLLIN, .data.fd = listener };
    if (epoll < 0 || epoll_ctl(epoll, EPOLL_CTL_ADD, listener, &event) != 0) {
        perror("responder: epoll");
        return 1;
    }
    for (;;) {
        struct epoll_event events[16];
        int n = epoll_wait(epoll, events, 16, -1);
        if (n < 0 && errno != EINTR) {
            perror("responder: epoll_wait");
            return 1;
        }
        for (int i = 0; i < n; i++) {
            if (events[i].data.fd != listener) {
                answer(events[i].data.fd, line, size);
                continue;
            }
            for (;;) {
                int fd = accept4(listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (fd < 0) {
                    break;
                }
                if (!reading) {
                    (void)!write(fd, line, size);
                    close(fd);
                    continue;
                }
                char request[256];
                if (recv(fd, request, sizeof request, 0) < 0 && errno == EAGAIN) {
                    struct epoll_event wait = { .events = EPOLLIN, .data.fd = fd };
                    epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &wait);
                    continue;
                }
                (void)!write(fd, line, size);
                close(fd);
            }
        }
    }
}
