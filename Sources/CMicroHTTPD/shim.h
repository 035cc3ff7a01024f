#pragma once
// libmicrohttpd for Swift. Swift cannot call C variadic functions, so the few variadic MHD calls
// we need are wrapped here as static inline functions with fixed arguments.
#include <stdint.h>
#include <stddef.h>
#include <stdarg.h>
#include <sys/types.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <microhttpd.h>

/// Starts a daemon on an already-listening socket `listen_fd`, with a request-completed callback,
/// an idle connection timeout (seconds) and a connection limit.
static inline struct MHD_Daemon *m2d_mhd_start(unsigned int flags, MHD_AccessHandlerCallback handler, void *handler_cls,
                                               MHD_RequestCompletedCallback completed, void *completed_cls,
                                               int listen_fd, unsigned int timeout_seconds,
                                               unsigned int connection_limit, size_t memory_limit) {
    return MHD_start_daemon(flags, 0, NULL, NULL, handler, handler_cls,
                            MHD_OPTION_NOTIFY_COMPLETED, completed, completed_cls,
                            MHD_OPTION_LISTEN_SOCKET, listen_fd,
                            MHD_OPTION_CONNECTION_TIMEOUT, timeout_seconds,
                            MHD_OPTION_CONNECTION_LIMIT, connection_limit,
                            MHD_OPTION_CONNECTION_MEMORY_LIMIT, memory_limit,
                            MHD_OPTION_END);
}
