/* CPU time the TLS layer spends per handshake on its thread: full and resumed, in memory. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <rte_mbuf.h>

#include "dataplane/tcp/tcp.h"
#include "dataplane/tls/tls.h"

/*
 * What a dataplane lcore would spend: the server side of each handshake runs through the
 * layer's own calls (tls_input, tls_read, tls_write) and is timed with the thread's CPU clock,
 * so neither the client's work nor the time the thread was not running counts. The client is
 * an OpenSSL client in the same thread, untimed; the engine's three calls are a buffer.
 *
 *   tls_cpu CERT.pem KEY.pem [N]    -> lines "RESULT key=value"
 */

static uint8_t to_client[1 << 16];
static size_t to_client_len;

int
tcp_send(struct tcp_flow *f, const void *buf, size_t len)
{
	(void)f;
	if (len > sizeof(to_client) - to_client_len)
		len = sizeof(to_client) - to_client_len;
	memcpy(to_client + to_client_len, buf, len);
	to_client_len += len;
	return (int)len;
}

uint32_t
tcp_send_space(const struct tcp_flow *f)
{
	(void)f;
	return 1 << 16;
}

/* Only tls_lcore_poll calls it, for a handshake budget these set to 0 (none). */
void
tcp_recv_resume(struct tcp_flow *f)
{
	(void)f;
	abort();
}

int
tcp_shutdown(struct tcp_flow *f)
{
	(void)f;
	return 0;
}

static uint64_t
cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* One connection: handshake, a request, a reply. Returns the server's CPU ns; 0 on failure. */
static uint64_t
one(SSL_CTX *cctx, SSL_SESSION **sess, bool *resumed)
{
	static const char req[] = "GET /pkg/1k.bin HTTP/1.1\r\nHost: gw\r\n\r\n";
	static uint8_t plain[4096];
	struct tls_conn *c = tls_conn_new((struct tcp_flow *)&cctx, 0);
	SSL *cl = SSL_new(cctx);
	BIO *in = BIO_new(BIO_s_mem()), *out = BIO_new(BIO_s_mem());
	uint64_t spent = 0, t0;
	size_t used = 0;
	bool ok = false;

	BIO_set_mem_eof_return(in, -1);
	SSL_set_bio(cl, in, out);
	SSL_set_connect_state(cl);
	if (*sess != NULL)
		SSL_set_session(cl, *sess);
	to_client_len = 0;
	for (int round = 0; round < 10; round++) {
		char *p;
		long n;
		int r = SSL_do_handshake(cl);

		if (r == 1 && !ok) {
			SSL_write(cl, req, sizeof(req) - 1);
			ok = true;
		}
		n = BIO_get_mem_data(out, &p);
		if (n > 0) {
			struct rte_mbuf m;
			int got;

			memset(&m, 0, sizeof(m));
			m.buf_addr = p;
			m.data_len = (uint16_t)n;
			m.pkt_len = (uint32_t)n;
			m.nb_segs = 1;
			t0 = cpu_ns();
			if (tls_input(c, &m) < 0)
				break;
			while ((got = tls_read(c, plain, sizeof(plain))) > 0)
				tls_write(c, plain, (size_t)got); /* an echo as the reply */
			spent += cpu_ns() - t0;
			(void)BIO_reset(out);
		}
		if (to_client_len > used) {
			BIO_write(in, to_client + used, (int)(to_client_len - used));
			used = to_client_len;
		}
		if (ok && n <= 0) {
			char buf[256];

			while (SSL_read(cl, buf, sizeof(buf)) > 0)
				;
			break;
		}
	}
	*resumed = SSL_session_reused(cl);
	SSL_shutdown(cl); /* freed unshut, its session would be marked not resumable */
	if (*sess == NULL)
		*sess = SSL_get1_session(cl);
	SSL_free(cl);
	tls_conn_free(c);
	ERR_clear_error();
	return ok ? spent : 0;
}

static void
measure(const char *name, int version, int n)
{
	SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
	SSL_SESSION *none = NULL, *sess = NULL;
	uint64_t full = 0, res = 0;
	int nf = 0, nr = 0;
	bool resumed;

	SSL_CTX_set_min_proto_version(cctx, version);
	SSL_CTX_set_max_proto_version(cctx, version);
	for (int i = 0; i < n; i++) {
		uint64_t ns = one(cctx, &none, &resumed);

		if (ns > 0 && !resumed) {
			full += ns;
			nf++;
		}
		SSL_SESSION_free(none);
		none = NULL;
	}
	one(cctx, &sess, &resumed); /* a session to resume */
	if (getenv("TLS_CPU_DEBUG"))
		fprintf(stderr, "session: ticket %d resumable %d\n", SSL_SESSION_has_ticket(sess),
			SSL_SESSION_is_resumable(sess));
	for (int i = 0; i < n; i++) {
		uint64_t ns = one(cctx, &sess, &resumed);

		if (ns > 0 && resumed) {
			res += ns;
			nr++;
		}
	}
	printf("RESULT %s_full_us=%.0f\n", name, nf ? full / 1000.0 / nf : 0);
	printf("RESULT %s_resumed_us=%.0f\n", name, nr ? res / 1000.0 / nr : 0);
	printf("RESULT %s_counted=%d/%d\n", name, nf, nr);
	SSL_SESSION_free(sess);
	SSL_CTX_free(cctx);
}

int
main(int argc, char **argv)
{
	struct tls_conf conf;
	int n = argc > 3 ? atoi(argv[3]) : 200;

	if (argc < 3) {
		fprintf(stderr, "usage: tls_cpu CERT.pem KEY.pem [N]\n");
		return 2;
	}
	memset(&conf, 0, sizeof(conf));
	conf.port = 443;
	snprintf(conf.certificate, sizeof(conf.certificate), "%s", argv[1]);
	snprintf(conf.key, sizeof(conf.key), "%s", argv[2]);
	snprintf(conf.ciphers, sizeof(conf.ciphers), "ECDHE+AESGCM:ECDHE+CHACHA20");
	snprintf(conf.ciphersuites, sizeof(conf.ciphersuites),
		 "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384");
	conf.min_version = TLS_MIN_1_2;
	conf.handshake_timeout_s = 10;
	conf.session_tickets = true;
	conf.ticket_rotate_s = 3600;
	if (tls_init(&conf, 1) != 0)
		return 1;
	measure("tls13", TLS1_3_VERSION, n);
	measure("tls12", TLS1_2_VERSION, n);
	tls_fini();
	return 0;
}
