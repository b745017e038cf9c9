/* Access log: records from the dataplane lcores, one writer thread, combined log format. */
#ifndef AG_CONTROL_ACCESSLOG_H
#define AG_CONTROL_ACCESSLOG_H

#include <stdint.h>

/*
 * One request as the dataplane saw it. Strings are NUL-terminated within their array (an
 * unterminated array is read to its end) and raw: the writer escapes them, so a producer
 * copies header bytes as they came and truncates, nothing more.
 */
struct accesslog_rec {
	uint32_t client_ip; /* host order */
	uint16_t client_port;
	uint16_t status;
	char method[8]; /* GET, HEAD, ...: a method the parser knows; "" logs as "-" */
	uint8_t version_minor;
	uint64_t bytes; /* body bytes sent */
	int64_t time_s; /* wall clock, seconds since the epoch, when the request arrived */
	uint32_t duration_us;
	uint32_t upstream_ip; /* proxied: the upstream that answered (0: not proxied) */
	uint16_t upstream_port;
	uint16_t upstream_status; /* its status; 0: none (unreachable, timed out) */
	char target[256]; /* truncated, raw request-target; empty: the request line was unusable */
	char user[128];	  /* authenticated principal; empty logs as "-" */
	char referer[128];
	char agent[128];
};

struct accesslog;

/*
 * Opens path for appending (created 0640) and starts the writer thread ("ag-accesslog", on the
 * EAL's control cores). nb_producers rings of ring_size records each (ring_size >= 1); producer
 * numbers are 0..nb_producers-1, one per posting thread. Needs the EAL. Returns NULL with
 * errno set: the open's error (the log names the path), EINVAL, ENOMEM, or a ring error.
 */
struct accesslog *accesslog_create(const char *path, unsigned int nb_producers,
				   unsigned int ring_size);

/*
 * Hands a copy of rec to the writer. Never blocks and takes no lock: only `producer`'s own
 * thread may post on its ring. Returns 0, -ENOBUFS when the ring is full (the record is dropped
 * and counted), or -EINVAL for a producer number out of range.
 */
int accesslog_post(struct accesslog *al, unsigned int producer, const struct accesslog_rec *rec);

/* Records written to the file and records dropped (full rings, failed writes) so far. */
void accesslog_stats(const struct accesslog *al, uint64_t *written, uint64_t *dropped);

/*
 * For logrotate: opens the path again (a renamed file keeps what it had) and returns once the
 * writer uses the new file. Records posted before the call go to the old file, records posted
 * after it returns to the new one. On error (-errno) the old file stays in use. Call from one
 * thread at a time (the main lcore on SIGHUP), not from a producer.
 */
int accesslog_reopen(struct accesslog *al);

/* Writes everything still queued, flushes, stops the writer. Producers must have stopped. */
void accesslog_destroy(struct accesslog *al);

#endif
