
#define _GNU_SOURCE
#include "CEventShim.h"

#include <errno.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

const uint32_t SPX_EVENT_READABLE = EPOLLIN;
const uint32_t SPX_EVENT_WRITABLE = EPOLLOUT;
const uint32_t SPX_EVENT_HANGUP = EPOLLHUP | EPOLLRDHUP;
const uint32_t SPX_EVENT_ERROR = EPOLLERR;

int spx_epoll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }

static int control(int epfd, int op, int fd, uint32_t interest, uint64_t token) {
    struct epoll_event event;
    event.events = interest;
    event.data.u64 = token;
    return epoll_ctl(epfd, op, fd, &event);
}

int spx_epoll_add(int epfd, int fd, uint32_t interest, uint64_t token) {
    return control(epfd, EPOLL_CTL_ADD, fd, interest, token);
}

int spx_epoll_modify(int epfd, int fd, uint32_t interest, uint64_t token) {
    return control(epfd, EPOLL_CTL_MOD, fd, interest, token);
}

int spx_epoll_remove(int epfd, int fd) {
    struct epoll_event unused = {0};
    return epoll_ctl(epfd, EPOLL_CTL_DEL, fd, &unused);
}

int spx_epoll_wait(int epfd, spx_event *events, int max, int timeout_ms) {
    struct epoll_event raw[256];
    if (max > 256) max = 256;
    int count = epoll_wait(epfd, raw, max, timeout_ms);
    if (count < 0) return errno == EINTR ? 0 : -1;
    for (int i = 0; i < count; i++) {
        events[i].events = raw[i].events;
        events[i].token = raw[i].data.u64;
    }
    return count;
}

int spx_eventfd_create(void) { return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC); }

int spx_eventfd_signal(int fd) {
    uint64_t one = 1;
    ssize_t written = write(fd, &one, sizeof one);
    if (written < 0 && errno != EAGAIN) return -1;
    return 0;
}

void spx_eventfd_drain(int fd) {
    uint64_t value;
    while (read(fd, &value, sizeof value) > 0) {}
}

int spx_accept(int listener) { return accept4(listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC); }
