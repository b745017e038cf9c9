/* authgate-ctl's side of the DPDK telemetry v2 socket: connect, greeting, one query at a time. */
#ifndef AG_APP_CTL_CONN_H
#define AG_APP_CTL_CONN_H

#include <stddef.h>

#include "app/ctl_json.h"

#define CTL_SOCKET_NAME "dpdk_telemetry.v2"
/* The server reads a command into 1024 bytes and keeps one for its NUL. */
#define CTL_CMD_MAX 1023

struct ctl_conn {
	int fd;
	char version[64]; /* "DPDK 22.11.x" from the greeting */
	long pid;
	size_t max_output_len;
	struct ctl_json_error err; /* why the last reply could not be read, for -EBADMSG */
};

/*
 * The socket EAL makes for a file prefix: $RUNTIME_DIRECTORY, else /var/run
 * for root and $XDG_RUNTIME_DIR (or /tmp) for others, then dpdk/PREFIX/.
 * Returns 0 or -ENAMETOOLONG.
 */
int ctl_socket_path(const char *prefix, char *buf, size_t len);

/*
 * Connect and read the greeting. timeout_ms bounds every wait for the gateway.
 * Returns 0, -errno from connect (-ENOENT, -ECONNREFUSED: nobody there),
 * -ECONNRESET when the gateway hangs up at once (it allows 10 clients),
 * -ETIMEDOUT, or -EBADMSG with c->err set when the greeting is not telemetry.
 */
int ctl_conn_open(struct ctl_conn *c, const char *path, int timeout_ms);

/*
 * Send cmd ("/path" or "/path,params") and read the reply {"/path": value}.
 * *value_out is the value, owned by the caller; JSON null when the gateway
 * has no such command or the command failed. Returns 0, -EMSGSIZE (command
 * longer than CTL_CMD_MAX), -ECONNRESET, -ETIMEDOUT, -EBADMSG with c->err set,
 * -ENOMEM.
 */
int ctl_conn_query(struct ctl_conn *c, const char *cmd, struct ctl_json **value_out);

void ctl_conn_close(struct ctl_conn *c);

#endif
