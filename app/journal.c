/* A DPDK log stream for the journal: "<priority>" in front of each line (sd-daemon(3) style). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include <rte_log.h>

#include "app/journal.h"

int
journal_priority(int rte_level)
{
	/* RTE_LOG_EMERG is 1 .. RTE_LOG_DEBUG 8; syslog's LOG_EMERG is 0 .. LOG_DEBUG 7 */
	if (rte_level < 1)
		return 6; /* not a log call's level: info */
	if (rte_level > 8)
		return 7;
	return rte_level - 1;
}

struct journal_cookie {
	bool at_line_start;
};

static ssize_t
journal_write(void *c, const char *buf, size_t size)
{
	struct journal_cookie *jc = c;
	size_t done = 0;

	while (done < size) {
		const char *nl = memchr(buf + done, '\n', size - done);
		size_t n = nl ? (size_t)(nl - (buf + done)) + 1 : size - done;

		if (jc->at_line_start) {
			char pfx[8];
			int l = snprintf(pfx, sizeof(pfx), "<%d>",
					 journal_priority(rte_log_cur_msg_loglevel()));

			if (write(STDERR_FILENO, pfx, (size_t)l) < 0)
				return -1;
		}
		if (write(STDERR_FILENO, buf + done, n) < 0)
			return -1;
		jc->at_line_start = nl != NULL;
		done += n;
	}
	return (ssize_t)size;
}

FILE *
journal_log_open(void)
{
	static struct journal_cookie jc = {.at_line_start = true};
	cookie_io_functions_t io = {.write = journal_write};
	FILE *f;

	if (getenv("JOURNAL_STREAM") == NULL)
		return NULL;
	f = fopencookie(&jc, "w", io);
	if (f == NULL)
		return NULL;
	setvbuf(f, NULL, _IOLBF, 0); /* one write per line: the prefix sees each level */
	rte_openlog_stream(f);
	return f;
}
