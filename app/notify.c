/* sd_notify's datagrams, written here: one socket path from NOTIFY_SOCKET, no library. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "app/notify.h"

static void
notify(const char *msg)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	socklen_t len;
	int fd;

	if (path == NULL || (path[0] != '/' && path[0] != '@') ||
	    strlen(path) >= sizeof(sa.sun_path))
		return;
	memcpy(sa.sun_path, path, strlen(path));
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = '\0'; /* an abstract socket */
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path));
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	(void)sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sa, len);
	close(fd);
}

void
notify_ready(void)
{
	notify("READY=1\nSTATUS=serving");
}

void
notify_reloading(void)
{
	notify("RELOADING=1\nSTATUS=reloading the configuration");
}

void
notify_stopping(void)
{
	notify("STOPPING=1\nSTATUS=draining connections");
}

uint64_t
notify_watchdog_us(void)
{
	const char *v = getenv("WATCHDOG_USEC");
	const char *pid = getenv("WATCHDOG_PID");

	if (v == NULL || (pid != NULL && strtol(pid, NULL, 10) != getpid()))
		return 0;
	return strtoull(v, NULL, 10);
}

void
notify_watchdog(void)
{
	notify("WATCHDOG=1");
}
