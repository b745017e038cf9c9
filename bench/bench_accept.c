/* Benchmark: kw_accept (rcache on/off, 1..N threads) against a bare gss_accept_sec_context loop. */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gssapi/gssapi.h>
#include <gssapi/gssapi_ext.h>
#include <gssapi/gssapi_krb5.h>

#include "control/krb5_worker.h"
#include "dataplane/b64.h"

/*
 * usage: bench_accept --keytab K [--threads T] < tokens.b64
 * Needs at least 2N fresh tokens for N measured per run with the replay cache on
 * (the first half for the bare loop, the second for kw_accept); KRB5RCACHEDIR should
 * point at a scratch directory. Prints accepts per second for each variant.
 */

struct tokens {
	uint8_t **p;
	size_t *len;
	size_t n;
};

static int
read_tokens(struct tokens *t)
{
	static char line[KW_TOKEN_MAX * 2];

	memset(t, 0, sizeof(*t));
	while (fgets(line, sizeof(line), stdin) != NULL) {
		uint8_t *buf = malloc(strlen(line));
		size_t n;

		t->p = realloc(t->p, (t->n + 1) * sizeof(*t->p));
		t->len = realloc(t->len, (t->n + 1) * sizeof(*t->len));
		if (buf == NULL || t->p == NULL || t->len == NULL)
			return -ENOMEM;
		/* base64 is 4/3 the size of what it encodes: strlen(line) always suffices */
		n = b64_decode_prefix(line, buf, strlen(line));
		t->p[t->n] = buf;
		t->len[t->n++] = n;
	}
	return 0;
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#define BENCH_ROUNDS 3

static const char *bench_keytab;

static double
median3(const double *x)
{
	double a = x[0], b = x[1], c = x[2];

	if ((a <= b && b <= c) || (c <= b && b <= a))
		return b;
	if ((b <= a && a <= c) || (c <= a && a <= b))
		return a;
	return c;
}

/* The least a validator can do: accept, then throw the context away. */
static int
bare_run(const struct tokens *t, size_t from, size_t n, int rcache, double *rate_out)
{
	gss_key_value_element_desc el[2] = {{"keytab", bench_keytab}, {"rcache", "none:"}};
	gss_key_value_set_desc store = {rcache ? 1 : 2, el};
	gss_OID_desc oids[2] = {*gss_mech_krb5, {6, (void *)"\x2b\x06\x01\x05\x05\x02"}};
	gss_OID_set_desc mechs = {2, oids}; /* krb5 and SPNEGO, as a plain server would */
	gss_cred_id_t cred;
	OM_uint32 major, minor;
	size_t i, ok = 0;
	double t0;

	major = gss_acquire_cred_from(&minor, GSS_C_NO_NAME, GSS_C_INDEFINITE, &mechs, GSS_C_ACCEPT,
				      &store, &cred, NULL, NULL);
	if (GSS_ERROR(major))
		return -ENOKEY;
	t0 = now_s();
	for (i = from; i < from + n; i++) {
		gss_ctx_id_t ctx = GSS_C_NO_CONTEXT;
		gss_buffer_desc in = {t->len[i], t->p[i]}, out = GSS_C_EMPTY_BUFFER;

		major = gss_accept_sec_context(&minor, &ctx, cred, &in, GSS_C_NO_CHANNEL_BINDINGS,
					       NULL, NULL, &out, NULL, NULL, NULL);
		if (major == GSS_S_COMPLETE)
			ok++;
		gss_release_buffer(&minor, &out);
		if (ctx != GSS_C_NO_CONTEXT)
			gss_delete_sec_context(&minor, &ctx, GSS_C_NO_BUFFER);
	}
	*rate_out = (double)n / (now_s() - t0);
	gss_release_cred(&minor, &cred);
	return ok == n ? 0 : -EACCES;
}

struct kw_run {
	const struct tokens *t;
	size_t from, n;
	int rcache;
	size_t ok;
	pthread_barrier_t *start;
};

static void *
kw_thread(void *arg)
{
	struct kw_run *r = arg;
	struct kw_config cfg = {.keytab = bench_keytab, .replay_cache = r->rcache};
	struct kw_verdict *v = malloc(sizeof(*v));
	struct kw *kw = kw_create(&cfg);
	size_t i;

	pthread_barrier_wait(r->start);
	for (i = r->from; kw != NULL && v != NULL && i < r->from + r->n; i++)
		if (kw_accept(kw, r->t->p[i], r->t->len[i], v) == 0)
			r->ok++;
	kw_destroy(kw);
	free(v);
	return NULL;
}

static int
kw_runs(const struct tokens *t, size_t from, size_t n, int rcache, unsigned int threads,
	double *rate_out)
{
	struct kw_run runs[TRUST_WORKERS_MAX];
	pthread_t th[TRUST_WORKERS_MAX];
	pthread_barrier_t start;
	size_t per = n / threads, ok = 0;
	unsigned int i;
	double t0;

	pthread_barrier_init(&start, NULL, threads + 1);
	for (i = 0; i < threads; i++) {
		runs[i] = (struct kw_run){t, from + i * per, per, rcache, 0, &start};
		pthread_create(&th[i], NULL, kw_thread, &runs[i]);
	}
	pthread_barrier_wait(&start);
	t0 = now_s();
	for (i = 0; i < threads; i++) {
		pthread_join(th[i], NULL);
		ok += runs[i].ok;
	}
	*rate_out = (double)(per * threads) / (now_s() - t0);
	pthread_barrier_destroy(&start);
	return ok == per * threads ? 0 : -EACCES;
}

int
main(int argc, char **argv)
{
	static struct option opts[] = {
		{"keytab", required_argument, NULL, 'k'},
		{"threads", required_argument, NULL, 't'},
		{NULL, 0, NULL, 0},
	};
	unsigned int threads = 2;
	struct tokens t;
	double rate[5][BENCH_ROUNDS], med[5];
	size_t chunk;
	int c, r, v, bad = 0;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'k')
			bench_keytab = optarg;
		else if (c == 't')
			threads = (unsigned int)atoi(optarg);
		else
			return 2;
	}
	if (bench_keytab == NULL || threads < 1 || threads > TRUST_WORKERS_MAX ||
	    read_tokens(&t) != 0 || t.n < 2 * BENCH_ROUNDS * 2) {
		fprintf(stderr, "usage: %s --keytab K [--threads T] < tokens.b64 (>= 12 tokens)\n",
			argv[0]);
		return 2;
	}
	/* rounds x 2 chunks: rcache on needs unseen tokens, one chunk per rcache-on variant */
	chunk = t.n / (2 * BENCH_ROUNDS);
	/* warm the keytab, the libraries and the caches so the first variant is not penalised */
	bare_run(&t, 0, chunk < 200 ? chunk : 200, 0, &rate[0][0]);
	for (r = 0; r < BENCH_ROUNDS; r++) {
		size_t a = 2 * r * chunk, b = a + chunk;

		bad |= bare_run(&t, a, chunk, 1, &rate[0][r]);
		bad |= kw_runs(&t, b, chunk, 1, 1, &rate[1][r]);
		bad |= bare_run(&t, a, chunk, 0, &rate[2][r]);
		bad |= kw_runs(&t, a, chunk, 0, 1, &rate[3][r]);
		bad |= kw_runs(&t, a, 2 * chunk, 0, threads, &rate[4][r]);
	}
	for (v = 0; v < 5; v++)
		med[v] = median3(rate[v]);
	printf("tokens per run: %zu, median of %d rounds\n", chunk, BENCH_ROUNDS);
	printf("bare gss_accept_sec_context, rcache on : %9.0f /s\n", med[0]);
	printf("kw_accept, 1 thread,         rcache on : %9.0f /s  (%.2f x bare)\n", med[1],
	       med[1] / med[0]);
	printf("bare gss_accept_sec_context, rcache off: %9.0f /s\n", med[2]);
	printf("kw_accept, 1 thread,         rcache off: %9.0f /s  (%.2f x bare)\n", med[3],
	       med[3] / med[2]);
	printf("kw_accept, %u threads,        rcache off: %9.0f /s  (%.2f x 1 thread)\n", threads,
	       med[4], med[4] / med[3]);
	if (bad)
		printf("warning: some tokens were refused; figures include failures\n");
	return bad ? 1 : 0;
}
