/* bengine: the client side of a burst: connections, the BITS-like request walk, counters. */
#ifndef AG_BENCH_BURST_ENGINE_H
#define AG_BENCH_BURST_ENGINE_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "hist.h"

struct btok_pool;

enum bauth {
	BAUTH_NONE,
	BAUTH_NEGOTIATE,
	BAUTH_BASIC,
};

/* Why a request failed; each has a counter and a name in the report. */
enum bfail {
	BFAIL_CONNECT,	  /* connect() failed or was refused */
	BFAIL_RESET,	  /* the connection was reset (or another socket error) */
	BFAIL_CLOSED,	  /* the server closed before any byte of the response */
	BFAIL_TIMEOUT,	  /* --timeout passed with the exchange unfinished (or --max-time) */
	BFAIL_BAD_STATUS, /* a status the walk does not expect */
	BFAIL_BAD_RANGE,  /* 206 whose Content-Range is not the requested one, or 200 to a range */
	BFAIL_BAD_LENGTH, /* HEAD size differs from --verify-file, or Content-Length != range */
	BFAIL_MISMATCH,	  /* body bytes differ from --verify-file */
	BFAIL_SHORT_BODY, /* the server closed inside the body */
	BFAIL_PROTOCOL,	  /* unparsable response, or bytes after it */
	BFAIL_AUTH,	  /* still 401 after the retries with fresh tokens */
	BFAIL_BUSY,	  /* still 503 after the retries */
	BFAIL_NO_TOKEN,	  /* no token could be minted */
	BFAIL_MAX,
};

const char *bfail_str(enum bfail f);

struct bengine_conf {
	struct sockaddr_in server;
	struct in_addr *src; /* source addresses, round-robin over clients */
	unsigned int nsrc;
	const char *path;
	const char *host_header;
	unsigned int clients;
	unsigned int ranges;
	uint64_t range_size;
	enum bauth auth;
	struct btok_pool *tokens; /* BAUTH_NEGOTIATE */
	unsigned int users;	  /* client i is user (i % users) + 1 */
	const char *basic_value;  /* BAUTH_BASIC: "Basic <base64>" */
	bool probe;		  /* send each authenticated request first without credentials */
	double rate;		  /* connections per second; 0 = all at once */
	uint64_t timeout_ns;
	uint64_t max_time_ns;
	unsigned int max_401_retries;
	unsigned int max_503_retries;
	uint64_t retry_cap_ns;	     /* longest wait honoured from Retry-After */
	const unsigned char *verify; /* the file's bytes (mmap), or NULL */
	uint64_t verify_size;
	unsigned int threads;
	void *tls; /* an SSL_CTX *: HTTPS on every connection (the certificate is not checked) */
};

/* Counters of one thread; the owner writes with relaxed stores so the progress reader may look. */
struct bstats {
	uint64_t conns_started;
	uint64_t conns_ok;
	uint64_t conns_failed;
	uint64_t conns_active;
	uint64_t reconnects;	 /* new connections after the first, whatever the reason */
	uint64_t retried_closed; /* requests retried because a reused connection closed first */
	uint64_t requests_ok;	 /* HEAD or ranged GET answered as expected */
	uint64_t requests_failed;
	uint64_t requests_not_run; /* left over when their connection failed */
	uint64_t exchanges;  /* request/response pairs on the wire, 401s and retries included */
	uint64_t body_bytes; /* verified 206 body bytes */
	uint64_t status_401;
	uint64_t status_503;
	uint64_t tokens_sent;
	uint64_t tokens_unanswered; /* sent on an attempt the server closed without answering */
	uint64_t tls_handshakes;    /* --tls: completed */
	uint64_t fail[BFAIL_MAX];
	struct bhist latency;	   /* per exchange, send start to last byte, us */
	struct bhist connect_time; /* connect() to writable, us */
};

struct bengine;

/* Builds the engine: sockets are not opened yet. NULL with errno set on failure. */
struct bengine *bengine_create(const struct bengine_conf *conf);
/* Starts the client threads; the clock starts now. Returns 0 or -errno. */
int bengine_start(struct bengine *e);
/* Waits for the end of the burst (every client done, failed or timed out); 0 or -errno. */
int bengine_join(struct bengine *e);
/* Live view for progress and time series (summed over threads; histograms not included). */
void bengine_peek(struct bengine *e, struct bstats *sum);
/* Final totals with histograms; valid after bengine_join returned. */
void bengine_totals(struct bengine *e, struct bstats *sum);
/* Start and end of the run (CLOCK_MONOTONIC ns). */
uint64_t bengine_started_ns(struct bengine *e);
uint64_t bengine_ended_ns(struct bengine *e);
bool bengine_done(struct bengine *e);
void bengine_free(struct bengine *e);

uint64_t bnow_ns(void);

#endif
