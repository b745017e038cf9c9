/* libFuzzer target for the TLS layer: raw bytes as a ClientHello, or a real client's records
 * after a real handshake, cut, flipped and spliced by the input. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
 * The input: byte 0 picks the mode (bit 0: a real client first, bit 1: TLS 1.2 instead of 1.3,
 * bit 2: a tight send space, bit 3: the client offers only h2), then
 *   raw mode: chunks, each a length byte and that many bytes, fed as received segments;
 *   client mode: after the handshake the client writes a request; each following 3-byte group
 *   (offset hi, offset lo, xor) flips bits of its records, a group with xor 0 cuts them at
 *   offset, and whatever is left after the groups is appended as raw bytes.
 * After every segment the server reads what it can and writes a reply. Checked: reads never
 * return more than asked, a failed connection stays failed, and (under ASan) no leak.
 */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ---- the TCP engine as the TLS layer sees it: a send queue toward the client ---- */

static uint8_t to_client[1 << 18];
static size_t to_client_len;
static uint32_t space;
static bool fin;

int
tcp_send(struct tcp_flow *f, const void *buf, size_t len)
{
	size_t n = len;

	(void)f;
	if (fin)
		abort(); /* nothing may be queued after FIN */
	if (n > space)
		n = space;
	if (n > sizeof(to_client) - to_client_len)
		n = sizeof(to_client) - to_client_len;
	memcpy(to_client + to_client_len, buf, n);
	to_client_len += n;
	return (int)n;
}

uint32_t
tcp_send_space(const struct tcp_flow *f)
{
	(void)f;
	return space;
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
	fin = true;
	return 0;
}

/* ---- one-time set-up: a certificate made here, the layer initialised from files ---- */

static SSL_CTX *client12, *client13;

static void
make_cert(const char *dir)
{
	char path[512];
	EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	X509 *x = X509_new();
	FILE *f;

	if (key == NULL || x == NULL)
		abort();
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_set_pubkey(x, key);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
				   (const unsigned char *)"fuzz", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	if (!X509_sign(x, key, EVP_sha256()))
		abort();
	snprintf(path, sizeof(path), "%s/cert.pem", dir);
	f = fopen(path, "w");
	PEM_write_X509(f, x);
	fclose(f);
	snprintf(path, sizeof(path), "%s/key.pem", dir);
	f = fopen(path, "w");
	PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
	fclose(f);
	X509_free(x);
	EVP_PKEY_free(key);
}

static void
setup(void)
{
	static bool done;
	char dir[] = "/tmp/ag-fuzz-tls-XXXXXX";
	struct tls_conf conf;
	char path[512];

	if (done)
		return;
	done = true;
	if (mkdtemp(dir) == NULL)
		abort();
	make_cert(dir);
	memset(&conf, 0, sizeof(conf));
	conf.port = 443;
	snprintf(conf.certificate, sizeof(conf.certificate), "%s/cert.pem", dir);
	snprintf(conf.key, sizeof(conf.key), "%s/key.pem", dir);
	snprintf(conf.ciphers, sizeof(conf.ciphers), "ECDHE+AESGCM:ECDHE+CHACHA20");
	snprintf(conf.ciphersuites, sizeof(conf.ciphersuites),
		 "TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256");
	conf.min_version = TLS_MIN_1_2;
	conf.handshake_timeout_s = 10;
	conf.session_tickets = true;
	conf.ticket_rotate_s = 3600;
	if (tls_init(&conf, 1) != 0)
		abort();
	/* the files were read: nothing of them is needed again */
	snprintf(path, sizeof(path), "%s/cert.pem", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/key.pem", dir);
	unlink(path);
	rmdir(dir);
	client12 = SSL_CTX_new(TLS_client_method());
	client13 = SSL_CTX_new(TLS_client_method());
	SSL_CTX_set_max_proto_version(client12, TLS1_2_VERSION);
	SSL_CTX_set_min_proto_version(client13, TLS1_3_VERSION);
}

/* ---- driving the server ---- */

struct srv {
	struct tls_conn *c;
	bool failed;
	uint8_t plain[20000];
};

/* Bytes as the engine delivers them: one segment, or two chained when split is set. */
static void
deliver(struct srv *s, const uint8_t *p, size_t n, bool split)
{
	struct rte_mbuf m[2];
	uint8_t *copy;
	size_t first = split && n > 1 ? n / 2 : n;
	int rc;

	if (n == 0 || n > 65535)
		return;
	copy = malloc(n); /* exact size: ASan sees a read past the segment */
	if (copy == NULL)
		return;
	memcpy(copy, p, n);
	memset(m, 0, sizeof(m));
	m[0].buf_addr = copy;
	m[0].data_len = (uint16_t)first;
	m[0].pkt_len = (uint32_t)n;
	m[0].nb_segs = 1;
	if (first < n) {
		m[1].buf_addr = copy + first;
		m[1].data_len = (uint16_t)(n - first);
		m[0].next = &m[1];
		m[0].nb_segs = 2;
	}
	rc = tls_input(s->c, m);
	if (s->failed && rc >= 0)
		abort(); /* a failed connection takes nothing more */
	if (rc > (int)n)
		abort();
	s->failed |= rc < 0;
	free(copy);
	/* what the application would do: read all it can, answer something */
	for (int i = 0; i < 8 && !s->failed; i++) {
		rc = tls_read(s->c, s->plain, sizeof(s->plain));
		if (rc > (int)sizeof(s->plain))
			abort();
		if (rc <= 0) {
			s->failed |= rc < 0 && rc != TLS_EOF;
			break;
		}
		rc = tls_write(s->c, s->plain, (size_t)rc);
		s->failed |= rc < 0;
	}
}

/* Records the server sent go to the client; the client's go back; until the handshake ends. */
static SSL *
client_handshake(struct srv *s, SSL_CTX *ctx, bool h2_only)
{
	static const unsigned char h2[] = "\x02h2";
	SSL *cl = SSL_new(ctx);
	BIO *in = BIO_new(BIO_s_mem()), *out = BIO_new(BIO_s_mem());
	size_t used = 0;

	if (cl == NULL || in == NULL || out == NULL)
		abort();
	BIO_set_mem_eof_return(in, -1);
	SSL_set_bio(cl, in, out);
	SSL_set_connect_state(cl);
	if (h2_only)
		SSL_set_alpn_protos(cl, h2, sizeof(h2) - 1);
	for (int round = 0; round < 8 && !s->failed; round++) {
		char *p;
		long n;
		int r = SSL_do_handshake(cl);

		n = BIO_get_mem_data(out, &p);
		if (n > 0) {
			deliver(s, (const uint8_t *)p, (size_t)n, round & 1);
			(void)BIO_reset(out);
		}
		if (to_client_len > used) {
			BIO_write(in, to_client + used, (int)(to_client_len - used));
			used = to_client_len;
		}
		if (r == 1 && n <= 0)
			break;
	}
	ERR_clear_error();
	return cl;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct srv *s;
	uint8_t mode;
	size_t i = 1;

	if (size < 1)
		return 0;
	setup();
	mode = data[0];
	to_client_len = 0;
	fin = false;
	space = (mode & 4) ? 700 : 1 << 17;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return 0;
	s->c = tls_conn_new((struct tcp_flow *)s, 0);
	if (s->c == NULL) {
		free(s);
		return 0;
	}
	if (!(mode & 1)) {
		while (i < size && !s->failed) {
			size_t n = data[i++];

			if (n > size - i)
				n = size - i;
			deliver(s, data + i, n, n & 1);
			i += n;
		}
	} else {
		SSL *cl = client_handshake(s, (mode & 2) ? client12 : client13, mode & 8);
		static const char req[] = "GET /pkg/hello.txt HTTP/1.1\r\nHost: gw\r\n\r\n";
		uint8_t *rec;
		char *p;
		long n;

		SSL_write(cl, req, sizeof(req) - 1);
		n = BIO_get_mem_data(SSL_get_wbio(cl), &p);
		rec = malloc(n > 0 ? (size_t)n : 1);
		if (rec != NULL && n > 0) {
			memcpy(rec, p, (size_t)n);
			for (; i + 3 <= size && data[i] != 0xff; i += 3) {
				size_t off = ((size_t)data[i] << 8 | data[i + 1]) % (size_t)n;

				if (data[i + 2] == 0)
					n = (long)off;
				else
					rec[off] ^= data[i + 2];
				if (n == 0)
					break;
			}
			deliver(s, rec, (size_t)n, mode & 16);
			if (i < size)
				deliver(s, data + i, size - i, mode & 32);
		}
		free(rec);
		SSL_free(cl);
		ERR_clear_error();
	}
	tls_input_fin(s->c);
	tls_shutdown(s->c);
	tls_conn_free(s->c);
	free(s);
	return 0;
}
