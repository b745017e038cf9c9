/* TLS between a TCP flow and the HTTP service: OpenSSL per connection over BIO pairs, no I/O. */
#ifndef AG_DATAPLANE_TLS_TLS_H
#define AG_DATAPLANE_TLS_TLS_H

/*
 * Model
 * -----
 * One SSL per flow, used only by the lcore that owns the flow. Ciphertext from the engine goes
 * into the SSL's read BIO (tls_input), plaintext comes out with tls_read; plaintext goes in
 * with tls_write and its records leave through tcp_send as they fit. Nothing here blocks,
 * sleeps or calls back into the application: an error is returned, and the caller (which owns
 * the flow's lifetime) decides to close. The SSL_CTX is shared by every lcore (OpenSSL locks
 * only its reference counts on the paths used here: no session cache, stateless tickets).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <rte_common.h>
#include <rte_mbuf.h>

#include "common/ini.h"

struct tcp_flow;
struct tls_conn;

enum tls_min_version {
	TLS_MIN_1_2, /* TLS 1.2 and 1.3 */
	TLS_MIN_1_3, /* TLS 1.3 only */
};

/* [tls]: a listener beside [http] port; off while certificate is empty. */
struct tls_conf {
	uint32_t port;
	char certificate[INI_STR];  /* PEM: the leaf first, then its chain */
	char key[INI_STR];	    /* PEM private key matching the leaf */
	char ciphers[INI_STR];	    /* TLS 1.2 cipher list (OpenSSL syntax) */
	char ciphersuites[INI_STR]; /* TLS 1.3 suites */
	uint32_t min_version;	    /* enum tls_min_version */
	uint32_t handshake_timeout_s;
	bool session_tickets;	  /* stateless resumption with the gateway's rotating keys */
	uint32_t ticket_rotate_s; /* a new ticket key this often; tickets live two periods */
	/* handshake CPU an lcore spends per loop iteration before it defers the rest (0: any) */
	uint32_t handshake_budget_us;
};

/* [tls], relative to a struct tls_conf. */
extern const struct ini_section tls_conf_section;

/* Why a connection failed; one counter each. Telemetry shows the names of tls_err_str. */
enum tls_err {
	TLS_E_NOT_TLS, /* the first bytes are no TLS record (plain HTTP, garbage) */
	TLS_E_VERSION, /* the client's versions are all below min_version */
	TLS_E_NO_SHARED_CIPHER,
	TLS_E_ALPN,	  /* the client offered only protocols other than http/1.1 (h2) */
	TLS_E_BAD_RECORD, /* a record failed to decrypt, or is longer than allowed */
	TLS_E_DECODE,	  /* a handshake message that does not parse */
	TLS_E_UNEXPECTED, /* a message in the wrong place */
	TLS_E_PEER_ALERT, /* the client sent a fatal alert */
	TLS_E_TRUNCATED,  /* FIN in the middle of a record or of the handshake */
	TLS_E_HANDSHAKE_TIMEOUT,
	TLS_E_RENEGOTIATION, /* a TLS 1.2 renegotiation attempt: refused with an alert */
	TLS_E_NO_MEMORY,
	TLS_E_OTHER,
	TLS_E__COUNT
};

const char *tls_err_str(enum tls_err e);

/* Per lcore, written by its owner only; readers sum them. 64-bit fields only. */
struct tls_stats {
	uint64_t connections;
	uint64_t handshakes; /* completed, full */
	uint64_t resumed;    /* completed with a ticket */
	uint64_t tls12;
	uint64_t tls13;
	uint64_t alpn_http11;	  /* the client asked for http/1.1 by ALPN */
	uint64_t alerts_sent;	  /* fatal or warning, to clients */
	uint64_t alerts_received; /* close_notify excluded */
	uint64_t close_notify_in;
	uint64_t no_close_notify; /* FIN after a complete record without close_notify */
	uint64_t bytes_in;	  /* ciphertext taken from the engine */
	uint64_t bytes_out;	  /* ciphertext queued on the engine */
	/* the handshake's cost on the lcore: every other flow waits while a step runs */
	uint64_t hs_steps;	 /* SSL_do_handshake calls */
	uint64_t hs_step_ns;	 /* their total time */
	uint64_t hs_step_ns_max; /* the longest one: how long the lcore stalled for it */
	uint64_t hs_deferred;	 /* handshake steps put off to the next iteration (budget) */
	uint64_t errors[TLS_E__COUNT];
} __rte_cache_aligned;

/* Returned by tls_input/tls_read when the peer ended the TLS stream with close_notify. */
#define TLS_EOF (-ESHUTDOWN)

/*
 * Main thread, at start: the SSL_CTX from conf (nothing when certificate is empty) and the
 * telemetry. 0 or -errno (logged with the file that failed).
 */
int tls_init(const struct tls_conf *conf, unsigned int nb_lcores);
/* Is there a TLS listener, and on which port. */
bool tls_enabled(void);
uint16_t tls_port(void);
uint32_t tls_handshake_timeout_s(void);
/*
 * Main thread, SIGHUP: a new certificate and key for new connections; those open keep the
 * old one until they close. 0 (the old stays on failure, logged), or 1 when something needs
 * a restart (port, on/off).
 */
int tls_reconfigure(const struct tls_conf *conf);
/* Main thread, now and then: a new ticket key when its period is over. */
void tls_rotate_tickets(void);
void tls_fini(void);

/* Per connection; on the flow's lcore. NULL (counted) when there is no memory. */
struct tls_conn *tls_conn_new(struct tcp_flow *f, uint16_t lcore);
void tls_conn_free(struct tls_conn *c);

/*
 * Ciphertext from the engine: as much of m as the read buffer takes (the rest stays with
 * the engine, whose window then closes). Returns the bytes taken, or -EPROTO when the
 * connection failed (counted; the alert queued for the client): the caller closes it.
 */
int tls_input(struct tls_conn *c, const struct rte_mbuf *m);
/* The peer sent FIN: counts a truncation when it came mid-record or mid-handshake. */
void tls_input_fin(struct tls_conn *c);
/*
 * Plaintext: at most len bytes into buf. Returns the count, 0 when none is ready, TLS_EOF
 * after the client's close_notify, -EPROTO when the connection failed (as for tls_input).
 */
int tls_read(struct tls_conn *c, void *buf, size_t len);
/* Plaintext decrypted or waiting in the read buffer: tls_read may give more. */
bool tls_readable(const struct tls_conn *c);
/*
 * Encrypts and queues a prefix of buf that fits the flow's send space. Returns bytes of buf
 * taken (0: full; call again after an ack), or -EPROTO.
 */
int tls_write(struct tls_conn *c, const void *buf, size_t len);
/* Records that did not fit the send queue: try again (after an ack). */
void tls_flush(struct tls_conn *c);
/* close_notify, then FIN once every record is queued. */
void tls_shutdown(struct tls_conn *c);
bool tls_established(const struct tls_conn *c);
/* The handshake took too long: counted; the caller aborts the flow. */
void tls_handshake_timed_out(struct tls_conn *c);

/*
 * RFC 5929 tls-server-end-point of the certificate this connection was made with:
 * "tls-server-end-point:" followed by the hash of its DER (SHA-256 for MD5/SHA-1 signed
 * ones). NULL before the handshake completed.
 */
const uint8_t *tls_channel_binding(const struct tls_conn *c, size_t *len_out);

/*
 * On the lcore, every loop iteration: a fresh handshake budget, and the flows whose handshake
 * it put off get their bytes delivered again (tcp_recv_resume, so their callbacks run).
 */
void tls_lcore_poll(uint16_t lcore);

/* Counters of lcore i (NULL when no TLS). */
const struct tls_stats *tls_lcore_stats(unsigned int lcore);

#endif
