/* The client end of DPDK's telemetry v2 protocol (lib/telemetry/telemetry.c), without DPDK. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "app/ctl_conn.h"

/* The server names its reply after at most this many bytes of the command (MAX_CMD_LEN). */
#define CTL_REPLY_KEY_MAX 56
/* DPDK replies are at most 16 KiB; anything far larger is not a telemetry server. */
#define CTL_REPLY_MAX (64u << 20)

int
ctl_socket_path(const char *prefix, char *buf, size_t len)
{
	const char *dir = getenv("RUNTIME_DIRECTORY");
	int n;

	if (dir == NULL || *dir == '\0') {
		if (geteuid() == 0)
			dir = "/var/run";
		else if ((dir = getenv("XDG_RUNTIME_DIR")) == NULL || *dir == '\0')
			dir = "/tmp";
	}
	n = snprintf(buf, len, "%s/dpdk/%s/%s", dir, prefix, CTL_SOCKET_NAME);
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	return 0;
}

static void
set_err(struct ctl_conn *c, const char *msg)
{
	memset(&c->err, 0, sizeof(c->err));
	snprintf(c->err.msg, sizeof(c->err.msg), "%s", msg);
}

/* One SEQPACKET message, whole: peeking with MSG_TRUNC gives its real size first. */
static int
recv_msg(struct ctl_conn *c, char **buf_out, size_t *len_out)
{
	ssize_t n, got;
	char *buf;

	n = recv(c->fd, NULL, 0, MSG_PEEK | MSG_TRUNC);
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? -ETIMEDOUT : -errno;
	if (n == 0)
		return -ECONNRESET;
	if ((size_t)n > CTL_REPLY_MAX)
		return -EMSGSIZE;
	buf = malloc((size_t)n + 1);
	if (buf == NULL)
		return -ENOMEM;
	got = recv(c->fd, buf, (size_t)n + 1, 0);
	if (got != n) {
		int rc = got < 0 ? -errno : -EBADMSG;

		if (rc == -EBADMSG)
			set_err(c, "message changed size while being read");
		free(buf);
		return rc;
	}
	buf[n] = '\0';
	*buf_out = buf;
	*len_out = (size_t)n;
	return 0;
}

static int
read_greeting(struct ctl_conn *c)
{
	struct ctl_json *g = NULL;
	const struct ctl_json *version, *pid, *max;
	char *buf = NULL;
	size_t len;
	int rc;

	rc = recv_msg(c, &buf, &len);
	if (rc != 0)
		goto cleanup;
	rc = ctl_json_parse(buf, len, 0, &g, &c->err);
	if (rc == -EINVAL)
		rc = -EBADMSG;
	if (rc != 0)
		goto cleanup;
	version = ctl_json_get(g, "version");
	if (version == NULL || version->type != CTL_JSON_STRING) {
		set_err(c, "the greeting has no \"version\": not a DPDK telemetry v2 socket?");
		rc = -EBADMSG;
		goto cleanup;
	}
	snprintf(c->version, sizeof(c->version), "%s", version->str.s);
	pid = ctl_json_get(g, "pid");
	if (pid != NULL && pid->type == CTL_JSON_NUMBER && pid->num.kind == CTL_JSON_NUM_UINT)
		c->pid = (long)pid->num.u;
	max = ctl_json_get(g, "max_output_len");
	if (max != NULL && max->type == CTL_JSON_NUMBER && max->num.kind == CTL_JSON_NUM_UINT)
		c->max_output_len = (size_t)max->num.u;

cleanup:
	ctl_json_free(g);
	free(buf);
	return rc;
}

int
ctl_conn_open(struct ctl_conn *c, const char *path, int timeout_ms)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct timeval tv = {
		.tv_sec = timeout_ms / 1000,
		.tv_usec = (timeout_ms % 1000) * 1000,
	};
	int rc;

	memset(c, 0, sizeof(*c));
	c->fd = -1;
	if (strlen(path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	strcpy(sun.sun_path, path);
	c->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return -errno;
	/* a wedged gateway must not hang the operator's shell; SNDTIMEO also bounds connect */
	if (setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0 ||
	    setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0) {
		rc = -errno;
		goto error;
	}
	if (connect(c->fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		rc = errno == EAGAIN || errno == EINPROGRESS ? -ETIMEDOUT : -errno;
		goto error;
	}
	rc = read_greeting(c);
	if (rc != 0)
		goto error;
	return 0;

error:
	ctl_conn_close(c);
	return rc;
}

int
ctl_conn_query(struct ctl_conn *c, const char *cmd, struct ctl_json **value_out)
{
	struct ctl_json *reply = NULL, *value;
	size_t cmd_len = strlen(cmd), key_len, len;
	char *buf = NULL;
	int rc;

	if (cmd_len == 0 || cmd_len > CTL_CMD_MAX)
		return -EMSGSIZE;
	if (send(c->fd, cmd, cmd_len, MSG_NOSIGNAL) != (ssize_t)cmd_len) {
		rc = errno == EPIPE ? -ECONNRESET : errno == EAGAIN ? -ETIMEDOUT : -errno;
		goto cleanup;
	}
	rc = recv_msg(c, &buf, &len);
	if (rc != 0)
		goto cleanup;
	rc = ctl_json_parse(buf, len, 0, &reply, &c->err);
	if (rc == -EINVAL)
		rc = -EBADMSG;
	if (rc != 0)
		goto cleanup;
	if (reply->type != CTL_JSON_OBJECT || reply->obj.n != 1) {
		set_err(c, "the reply is not a one-member object {\"/command\": value}");
		rc = -EBADMSG;
		goto cleanup;
	}
	/* the server splits at the first ',' and echoes the command part, maybe truncated */
	key_len = strcspn(cmd, ",");
	if (key_len > CTL_REPLY_KEY_MAX)
		key_len = CTL_REPLY_KEY_MAX;
	if (strlen(reply->obj.members[0].key) != key_len ||
	    strncmp(reply->obj.members[0].key, cmd, key_len) != 0) {
		memset(&c->err, 0, sizeof(c->err));
		snprintf(c->err.msg, sizeof(c->err.msg),
			 "the reply answers \"%.40s\", not \"%.*s\"", reply->obj.members[0].key,
			 (int)(key_len > 40 ? 40 : key_len), cmd);
		rc = -EBADMSG;
		goto cleanup;
	}
	value = ctl_json_take(reply, 0);
	if (value == NULL) {
		rc = -ENOMEM;
		goto cleanup;
	}
	*value_out = value;

cleanup:
	ctl_json_free(reply);
	free(buf);
	return rc;
}

void
ctl_conn_close(struct ctl_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}
