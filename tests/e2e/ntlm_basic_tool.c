/* Drives the auth service (authsvc) by its lcore API from stdin commands: Basic, NTLM, closes,
 * bursts. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_eal.h>

#include "control/authsvc.h"
#include "control/authsvc_stats.h"
#include "dataplane/b64.h"

#define LCORE 0

static uint32_t seq;

static uint64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000ull + (uint64_t)ts.tv_nsec / 1000;
}

/* A reply token as base64, for the test to hand back to its client. */
static void
b64_print(const uint8_t *p, size_t n)
{
	static char out[KW_REPLY_MAX * 2];

	if (b64_encode(p, n, out, sizeof(out)) >= 0)
		fputs(out, stdout);
}

static int
submit(uint32_t flow, unsigned int scheme, const uint8_t *tok, size_t len)
{
	struct authsvc_job *job = malloc(sizeof(*job) + len);

	if (job == NULL)
		return -ENOMEM;
	memset(job, 0, sizeof(*job)); /* flags: no KRB5_ONLY, no channel bindings */
	job->flow_id = flow;
	job->flow_gen = 1;
	job->seq = ++seq;
	job->lcore = LCORE;
	job->token_len = (uint32_t)len;
	memcpy(job->token, tok, len);
	if (authsvc_submit_as(LCORE, job, scheme) != 0) {
		free(job);
		return -ENOBUFS;
	}
	return 0;
}

static struct authsvc_verdict *
wait_one(void)
{
	struct authsvc_verdict *v;

	while (authsvc_take_verdicts(LCORE, &v, 1) == 0)
		usleep(100);
	return v;
}

static void
print_verdict(const struct authsvc_verdict *v, uint64_t took_us)
{
	printf("verdict flow=%u status=%u reason=%s cont=%u scheme=%u mech=%u principal=%s "
	       "reply_len=%u queue_us=%u validate_us=%u took_us=%llu reply=",
	       v->flow_id, v->status, authsvc_reason_str(v->reason), v->cont, v->scheme, v->mech,
	       v->principal[0] ? v->principal : "-", v->reply_len, v->queue_us, v->validate_us,
	       (unsigned long long)took_us);
	if (v->reply_len > 0)
		b64_print(v->reply, v->reply_len);
	else
		printf("-");
	printf("\n");
}

static void
print_stats(void)
{
	const struct trust_table *tt = authsvc_trusts();
	struct authsvc_stats as;

	authsvc_get_stats(&as);
	printf("stats jobs=%llu flow_closes=%llu ntlm_created=%llu ntlm_completed=%llu "
	       "ntlm_closed=%llu ntlm_timed_out=%llu ntlm_live=%u ntlm_no_context=%llu",
	       (unsigned long long)as.jobs, (unsigned long long)as.flow_closes,
	       (unsigned long long)as.ntlm.created, (unsigned long long)as.ntlm.completed,
	       (unsigned long long)as.ntlm.closed, (unsigned long long)as.ntlm.timed_out,
	       as.ntlm.live, (unsigned long long)as.ntlm.no_context);
	printf(" basic_cache_hits=%llu basic_cache_misses=%llu basic_cache_evictions=%llu "
	       "basic_cache_expired=%llu basic_cache_entries=%u",
	       (unsigned long long)as.basic_cache.hits, (unsigned long long)as.basic_cache.misses,
	       (unsigned long long)as.basic_cache.evictions,
	       (unsigned long long)as.basic_cache.expired, as.basic_cache.live);
	for (uint32_t i = 0; tt != NULL && i < tt->count; i++) {
		struct sema_stats st;

		sema_get_stats(tt->trusts[i].sema, &st);
		printf(" t%u_acquires=%llu t%u_timeouts=%llu t%u_rejections=%llu t%u_holders=%u "
		       "t%u_waiters=%u",
		       i, (unsigned long long)st.acquires, i, (unsigned long long)st.timeouts, i,
		       (unsigned long long)st.rejections, i, st.holders, i, st.waiters);
	}
	printf("\n");
}

/* n Basic jobs at once on trust 0, sampling its semaphore until every verdict is in. */
static void
burst(unsigned int n, const char *cred, uint64_t timeout_us)
{
	const struct trust_table *tt = authsvc_trusts();
	struct sema *sema = tt->trusts[0].sema;
	uint64_t *sent = calloc(n + 1, sizeof(*sent));
	unsigned int got = 0, ok = 0, busy = 0, other = 0, late = 0;
	uint32_t max_holders = 0, max_waiters = 0;
	uint64_t max_queue_us = 0, max_busy_took_us = 0, max_ok_took_us = 0;
	struct sema_stats before, st;
	unsigned int reasons[AUTHSVC_REASON_MAX] = {0};

	sema_get_stats(sema, &before);
	for (unsigned int i = 1; i <= n; i++) {
		sent[i] = now_us();
		if (submit(100000 + i, AUTHSVC_SCHEME_BASIC, (const uint8_t *)cred, strlen(cred)))
			other++, got++;
	}
	while (got < n) {
		struct authsvc_verdict *v[64];
		unsigned int k = authsvc_take_verdicts(LCORE, v, 64);

		sema_get_stats(sema, &st);
		if (st.holders > max_holders)
			max_holders = st.holders;
		if (st.waiters > max_waiters)
			max_waiters = st.waiters;
		for (unsigned int j = 0; j < k; j++) {
			uint64_t took = now_us() - sent[v[j]->flow_id - 100000];

			got++;
			reasons[v[j]->reason]++;
			if (v[j]->queue_us > max_queue_us)
				max_queue_us = v[j]->queue_us;
			/* the deadline is noticed within the pool's 10 ms poll; 100 ms allows for
			 * scheduling on a loaded 2-core box, not for waiting on */
			if (v[j]->queue_us > timeout_us + 100000)
				late++;
			if (v[j]->status == 200) {
				ok++;
				if (took > max_ok_took_us)
					max_ok_took_us = took;
			} else if (v[j]->status == 503) {
				busy++;
				if (took > max_busy_took_us)
					max_busy_took_us = took;
			} else {
				other++;
			}
			authsvc_verdict_free(v[j]);
		}
		if (k == 0)
			usleep(200);
	}
	sema_get_stats(sema, &st);
	printf("burst n=%u ok=%u busy=%u other=%u max_holders=%u max_waiters=%u end_waiters=%u "
	       "end_holders=%u acquires=%llu timeouts=%llu rejections=%llu avg_hold_ms=%.1f "
	       "slots=%u max_queue_us=%llu waited_past_deadline=%u max_busy_took_us=%llu "
	       "max_ok_took_us=%llu reasons=",
	       n, ok, busy, other, max_holders, max_waiters, st.waiters, st.holders,
	       (unsigned long long)(st.acquires - before.acquires),
	       (unsigned long long)(st.timeouts - before.timeouts),
	       (unsigned long long)(st.rejections - before.rejections),
	       st.releases > before.releases ? (double)(st.total_hold_ns - before.total_hold_ns) /
						       (double)(st.releases - before.releases) / 1e6
					     : 0.0,
	       st.slots, (unsigned long long)max_queue_us, late,
	       (unsigned long long)max_busy_took_us, (unsigned long long)max_ok_took_us);
	for (unsigned int r = 0; r < AUTHSVC_REASON_MAX; r++)
		if (reasons[r])
			printf("%s:%u,", authsvc_reason_str(r), reasons[r]);
	printf("\n");
	free(sent);
}

int
main(int argc, char **argv)
{
	static struct option opts[] = {
		{"keytab", required_argument, NULL, 'k'},
		{"user-file", required_argument, NULL, 'u'},
		{"mcapi", required_argument, NULL, 'm'},
		{"timeout", required_argument, NULL, 't'},
		{"workers", required_argument, NULL, 'w'},
		{"ntlm-timeout", required_argument, NULL, 'n'},
		{"basic-cache-ttl", required_argument, NULL, 'c'},
		{NULL, 0, NULL, 0},
	};
	char *eal_argv[] = {"ntlm_basic_tool", "--no-huge", "--no-pci", "--no-shconf",
			    "--no-telemetry",  "-l",	    "0",	"--log-level",
			    "*:warning",       NULL};
	static struct authsvc_config ac;
	struct trust_config *k = &ac.trusts[0], *n = &ac.trusts[1];
	static char line[128 * 1024];
	static uint8_t tok[64 * 1024];
	unsigned int timeout_s = 45;
	int c;

	trust_config_defaults(k);
	trust_config_defaults(n);
	snprintf(k->realm, sizeof(k->realm), "AUTHGATE.TEST");
	snprintf(k->netbios_name, sizeof(k->netbios_name), "AUTHGATE");
	snprintf(n->realm, sizeof(n->realm), "AUTHGATE-NTLM");
	snprintf(n->netbios_name, sizeof(n->netbios_name), "AUTHGATE");
	n->kind = TRUST_KIND_NTLM;
	ac.nb_trusts = 2;
	snprintf(ac.default_trust, sizeof(ac.default_trust), "AUTHGATE.TEST");
	snprintf(ac.ntlm_service, sizeof(ac.ntlm_service), "HTTP@gw.authgate.test");
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'k':
			snprintf(k->keytab, sizeof(k->keytab), "%s", optarg);
			break;
		case 'u':
			snprintf(n->user_file, sizeof(n->user_file), "%s", optarg);
			break;
		case 'm':
			k->max_concurrent_api = n->max_concurrent_api = (unsigned int)atoi(optarg);
			break;
		case 't':
			timeout_s = (unsigned int)atoi(optarg);
			k->timeout_ns = n->timeout_ns = timeout_s * 1000000000ull;
			break;
		case 'w':
			k->workers = (unsigned int)atoi(optarg);
			break;
		case 'n':
			ac.ntlm_ctx_timeout_s = (uint32_t)atoi(optarg);
			break;
		case 'c':
			ac.basic_cache_ttl_s = (uint32_t)atoi(optarg);
			break;
		default:
			fprintf(stderr,
				"usage: %s --keytab K --user-file F [--mcapi N] [--timeout S] "
				"[--workers N] [--ntlm-timeout S] < commands\n",
				argv[0]);
			return 2;
		}
	}
	if (rte_eal_init((int)(sizeof(eal_argv) / sizeof(eal_argv[0])) - 1, eal_argv) < 0) {
		fprintf(stderr, "rte_eal_init failed\n");
		return 1;
	}
	if (authsvc_start(&ac, 1) != 0) {
		fprintf(stderr, "authsvc_start failed\n");
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin) != NULL) {
		char cmd[32], arg[sizeof(line)];
		unsigned int flow = 0;
		uint64_t t0;

		arg[0] = '\0';
		line[strcspn(line, "\n")] = '\0';
		if (sscanf(line, "%31s %u %s", cmd, &flow, arg) < 1)
			continue;
		if (strcmp(cmd, "basic") == 0 || strcmp(cmd, "ntlm") == 0 ||
		    strcmp(cmd, "negotiate") == 0) {
			unsigned int scheme = cmd[0] == 'b' ? AUTHSVC_SCHEME_BASIC
					      : cmd[0] == 'n' && cmd[1] == 't'
						      ? AUTHSVC_SCHEME_NTLM
						      : AUTHSVC_SCHEME_NEGOTIATE;
			/* Basic arrives as base64 too, as the header carries it */
			size_t len = b64_decode_prefix(arg, tok, sizeof(tok));
			struct authsvc_verdict *v;

			t0 = now_us();
			if (submit(flow, scheme, tok, len) != 0) {
				printf("error submit\n");
			} else {
				v = wait_one();
				print_verdict(v, now_us() - t0);
				authsvc_verdict_free(v);
			}
		} else if (strcmp(cmd, "close") == 0) {
			printf("close rc=%d\n", authsvc_flow_closed(LCORE, flow, 1));
		} else if (strcmp(cmd, "stats") == 0) {
			print_stats();
		} else if (strcmp(cmd, "sleep") == 0) {
			usleep(flow * 1000u);
			printf("slept\n");
		} else if (strcmp(cmd, "burst") == 0) {
			size_t len = b64_decode_prefix(arg, tok, sizeof(tok) - 1);

			tok[len] = '\0';
			burst(flow, (const char *)tok, (uint64_t)timeout_s * 1000000ull);
		} else {
			printf("error unknown command %s\n", cmd);
		}
		fflush(stdout);
	}
	authsvc_stop();
	rte_eal_cleanup();
	return 0;
}
