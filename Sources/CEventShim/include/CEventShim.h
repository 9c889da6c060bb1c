#ifndef SCHEMAPROXY_CEVENTSHIM_H
#define SCHEMAPROXY_CEVENTSHIM_H
// epoll and eventfd, which Swift's Glibc module does not expose. struct epoll_event is packed on x86_64, which
// Swift cannot import faithfully: the shim hands out a plain struct instead.
#include <stdint.h>

typedef struct {
    uint32_t events;
    uint64_t token;
} spx_event;

// Interest and readiness bits (the EPOLL* values).
extern const uint32_t SPX_EVENT_READABLE;   // EPOLLIN
extern const uint32_t SPX_EVENT_WRITABLE;   // EPOLLOUT
extern const uint32_t SPX_EVENT_HANGUP;     // EPOLLHUP | EPOLLRDHUP
extern const uint32_t SPX_EVENT_ERROR;      // EPOLLERR

// Each returns -1 with errno set on failure, as the system calls do.
int spx_epoll_create(void);
int spx_epoll_add(int epfd, int fd, uint32_t interest, uint64_t token);
int spx_epoll_modify(int epfd, int fd, uint32_t interest, uint64_t token);
int spx_epoll_remove(int epfd, int fd);
// Waits up to timeout_ms (-1: forever); fills at most max events; EINTR is returned as 0 events.
int spx_epoll_wait(int epfd, spx_event *events, int max, int timeout_ms);

// accept4 with SOCK_NONBLOCK | SOCK_CLOEXEC (a GNU extension the Glibc module leaves out).
int spx_accept(int listener);

int spx_eventfd_create(void);
// Adds 1 to the counter (wakes a waiting epoll); EAGAIN (counter full) is not an error: a wake-up is pending.
int spx_eventfd_signal(int fd);
// Resets the counter so the descriptor stops being readable.
void spx_eventfd_drain(int fd);

#endif
