/* Feeds base64 tokens (one per stdin line) through kw_accept or the kw_pool; prints verdicts. */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "control/krb5_worker.h"
#include "dataplane/b64.h"

/* The token as base64, for the test to hand back to its client. */
static void
b64_print(const uint8_t *p, size_t n)
{
	static char out[KW_REPLY_MAX * 2];

	if (b64_encode(p, n, out, sizeof(out)) >= 0)
		fputs(out, stdout);
}

static int print_reply;

static void
print_verdict(unsigned int i, const struct kw_verdict *v)
{
	char when[32] = "-";
	struct tm tm;
	time_t t = (time_t)v->expires_at;

	if (v->expires_at != 0 && gmtime_r(&t, &tm) != NULL)
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	printf("token=%u reason=%s http=%d principal=%s reply_len=%u expires=%s "
	       "major=0x%x minor=%d detail=%s\n",
	       i, kw_reason_str(v->reason), kw_reason_http_status(v->reason),
	       v->principal_len ? v->principal : "-", v->reply_len, when, v->gss_major,
	       (int)v->gss_minor, v->detail[0] ? v->detail : "-");
	if (print_reply && v->reply_len > 0) {
		printf("reply=");
		b64_print(v->reply, v->reply_len);
		printf("\n");
	}
}

static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t out_cond = PTHREAD_COND_INITIALIZER;
static unsigned int done;

static void
on_verdict(const struct kw_verdict *v, void *arg)
{
	(void)arg;
	pthread_mutex_lock(&out_lock);
	print_verdict((unsigned int)v->flow_id, v);
	done++;
	pthread_cond_signal(&out_cond);
	pthread_mutex_unlock(&out_lock);
}

int
main(int argc, char **argv)
{
	static struct option opts[] = {
		{"keytab", required_argument, NULL, 'k'},  {"no-rcache", no_argument, NULL, 'n'},
		{"service", required_argument, NULL, 's'}, {"pool", required_argument, NULL, 'p'},
		{"print-reply", no_argument, NULL, 'r'},   {NULL, 0, NULL, 0},
	};
	struct kw_config cfg = {.replay_cache = 1};
	static char line[KW_TOKEN_MAX * 2];
	uint8_t **toks = NULL;
	size_t *lens = NULL, ntok = 0, i;
	unsigned int pool_workers = 0;
	int c, refused = 0;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'k':
			cfg.keytab = optarg;
			break;
		case 'n':
			cfg.replay_cache = 0;
			break;
		case 's':
			cfg.service = optarg;
			break;
		case 'p':
			pool_workers = (unsigned int)atoi(optarg);
			break;
		case 'r':
			print_reply = 1;
			break;
		default:
			fprintf(stderr,
				"usage: %s [--keytab K] [--no-rcache] [--service S] "
				"[--pool N] [--print-reply] < tokens.b64\n",
				argv[0]);
			return 2;
		}
	}
	while (fgets(line, sizeof(line), stdin) != NULL) {
		uint8_t *buf = malloc(KW_TOKEN_MAX);

		toks = realloc(toks, (ntok + 1) * sizeof(*toks));
		lens = realloc(lens, (ntok + 1) * sizeof(*lens));
		if (buf == NULL || toks == NULL || lens == NULL)
			return 1;
		toks[ntok] = buf;
		lens[ntok] = b64_decode_prefix(line, buf, KW_TOKEN_MAX);
		ntok++;
	}

	if (pool_workers == 0) {
		struct kw *kw = kw_create(&cfg);
		struct kw_verdict v;

		if (kw == NULL) {
			fprintf(stderr, "kw_create: %s\n", strerror(errno));
			return 1;
		}
		for (i = 0; i < ntok; i++) {
			if (kw_accept(kw, toks[i], lens[i], &v) != 0)
				refused++;
			print_verdict((unsigned int)i, &v);
		}
		kw_destroy(kw);
	} else {
		struct trust_table tt;
		struct trust_config tc;
		struct kw_pool_config pc = {.trusts = &tt,
					    .workers = pool_workers,
					    .queue_size = 1024,
					    .on_verdict = on_verdict};
		struct kw_pool_stats st;
		struct kw_pool *pool;

		trust_table_init(&tt);
		trust_config_defaults(&tc);
		snprintf(tc.realm, sizeof(tc.realm), "AUTHGATE.TEST");
		if (cfg.keytab != NULL)
			snprintf(tc.keytab, sizeof(tc.keytab), "%s", cfg.keytab);
		tc.replay_cache = cfg.replay_cache;
		tc.max_concurrent_api = 2;
		if (trust_table_add(&tt, &tc, NULL) != 0)
			return 1;
		pool = kw_pool_create(&pc);
		if (pool == NULL) {
			fprintf(stderr, "kw_pool_create: %s\n", strerror(errno));
			return 1;
		}
		for (i = 0; i < ntok; i++) {
			struct kw_job job = {.flow_id = i,
					     .flow_gen = 1,
					     .trust_index = 0,
					     .mech = TRUST_MECH_KRB5,
					     .token_len = (uint32_t)lens[i],
					     .token = toks[i]};

			if (kw_pool_submit(pool, &job) != 0)
				return 1;
		}
		pthread_mutex_lock(&out_lock);
		while (done < ntok)
			pthread_cond_wait(&out_cond, &out_lock);
		pthread_mutex_unlock(&out_lock);
		kw_pool_get_stats(pool, &st);
		kw_pool_destroy(pool);
		refused = (int)(st.completed - st.by_reason[KW_OK]);
		printf("pool completed=%llu ok=%llu\n", (unsigned long long)st.completed,
		       (unsigned long long)st.by_reason[KW_OK]);
		trust_table_fini(&tt);
	}
	for (i = 0; i < ntok; i++)
		free(toks[i]);
	free(toks);
	free(lens);
	return refused ? 3 : 0;
}
