#pragma once
// libmicrohttpd for Swift. Swift cannot call C variadic functions, so the variadic MHD calls we need
// are wrapped here as static inline functions with fixed arguments.
#include <stdint.h>
#include <stddef.h>
#include <stdarg.h>
#include <string.h>
#include <sys/types.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <microhttpd.h>

/// Starts a daemon on an already-listening socket `listen_fd`. `timeout_seconds` closes connections
/// idle that long; `threads` > 1 runs a polling pool. At `connection_limit` MHD stops accepting, so new
/// connections wait in the listen queue. MHD's own per-address limit is not used: it closes a connection
/// without an answer, and counts busy connections the same as idle ones (the daemon keeps its own share).
static inline struct MHD_Daemon *m2d_mhd_start(unsigned int flags, MHD_AccessHandlerCallback handler, void *handler_cls,
                                               MHD_RequestCompletedCallback completed, void *completed_cls,
                                               MHD_NotifyConnectionCallback notify, void *notify_cls,
                                               int listen_fd, unsigned int timeout_seconds,
                                               unsigned int connection_limit,
                                               size_t memory_limit, unsigned int threads) {
    // MHD warns about a pool size of 0: name the option only for a real pool.
    struct MHD_OptionItem pool[] = {
        {threads > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END, threads, NULL},
        {MHD_OPTION_END, 0, NULL},
    };
    return MHD_start_daemon(flags, 0, NULL, NULL, handler, handler_cls,
                            MHD_OPTION_NOTIFY_COMPLETED, completed, completed_cls,
                            MHD_OPTION_NOTIFY_CONNECTION, notify, notify_cls,
                            MHD_OPTION_LISTEN_SOCKET, listen_fd,
                            MHD_OPTION_CONNECTION_TIMEOUT, timeout_seconds,
                            MHD_OPTION_CONNECTION_LIMIT, connection_limit,
                            MHD_OPTION_CONNECTION_MEMORY_LIMIT, memory_limit,
                            MHD_OPTION_ARRAY, pool,
                            MHD_OPTION_END);
}

/// The connection's socket (for deadlines and disconnect checks; never closed by us).
static inline int m2d_mhd_connection_fd(struct MHD_Connection *connection) {
    const union MHD_ConnectionInfo *info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
    return info ? info->connect_fd : -1;
}

/// The per-socket pointer set in the connection-started notification.
static inline void *m2d_mhd_socket_context(struct MHD_Connection *connection) {
    const union MHD_ConnectionInfo *info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return info ? info->socket_context : NULL;
}

/// The client's address as text ("127.0.0.1", "::1"), written into `out`.
static inline void m2d_mhd_client_address(struct MHD_Connection *connection, char *out, size_t length) {
    out[0] = 0;
    const union MHD_ConnectionInfo *info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (!info || !info->client_addr) return;
    const struct sockaddr *sa = info->client_addr;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)length);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out, (socklen_t)length);
}
