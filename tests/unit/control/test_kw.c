/* Unit tests for the validator: reasons, HTTP answers, refusals, a KDC that never answers. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "common/mono.h"
#include "control/krb5_worker.h"

static void
test_reason_strings_distinct(void **state)
{
	int i, j;

	(void)state;
	for (i = 0; i < KW_REASON_COUNT; i++) {
		assert_string_not_equal(kw_reason_str((enum kw_reason)i), "unknown");
		for (j = 0; j < i; j++)
			assert_string_not_equal(kw_reason_str((enum kw_reason)i),
						kw_reason_str((enum kw_reason)j));
	}
	assert_string_equal(kw_reason_str(KW_ERR_REPLAY), "replay");
	/* the NTLM/Basic reasons are telemetry names as they are */
	for (i = KW_NTLM_CHALLENGE; i < KW_REASON_COUNT; i++)
		for (const char *c = kw_reason_str((enum kw_reason)i); *c != '\0'; c++)
			assert_true((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') ||
				    *c == '_');
}

static void
test_http_answers(void **state)
{
	(void)state;
	assert_int_equal(kw_reason_http_status(KW_OK), 200);
	/* a full semaphore must not make clients prompt for credentials again */
	assert_int_equal(kw_reason_http_status(KW_ERR_BUSY_TIMEOUT), 503);
	assert_int_equal(kw_reason_http_status(KW_ERR_BUSY_REJECTED), 503);
	assert_int_equal(kw_reason_http_status(KW_ERR_REPLAY), 401);
	assert_int_equal(kw_reason_http_status(KW_ERR_MALFORMED), 401);
	assert_int_equal(kw_reason_http_status(KW_ERR_NO_TRUST), 401);
	/* a KDC that does not answer is the DC's slowness, not the user's fault */
	assert_int_equal(kw_reason_http_status(KW_ERR_KDC_UNREACHABLE), 503);
	/* the same for NTLM through winbind when the DC does not answer its ping */
	assert_int_equal(kw_reason_http_status(KW_ERR_DC_UNAVAILABLE), 503);
	assert_string_equal(kw_reason_str(KW_ERR_DC_UNAVAILABLE), "dc_unavailable");
	assert_int_equal(kw_reason_http_status(KW_ERR_BAD_PASSWORD), 401);
	assert_int_equal(kw_reason_http_status(KW_ERR_CLIENT_UNKNOWN), 401);
	assert_int_equal(kw_reason_http_status(KW_NTLM_CHALLENGE), 401);
}

static void
test_missing_keytab(void **state)
{
	struct kw_config cfg = {.keytab = "/nonexistent/authgate.keytab", .replay_cache = 1};

	(void)state;
	errno = 0;
	assert_null(kw_create(&cfg));
	assert_int_equal(errno, ENOKEY);
}

/* A pool with no Kerberos trust for the job answers no-trust without touching GSS. */
static struct kw_verdict last;
static int verdicts;
/* when each flow's first (EARLY or FINAL) verdict came, by flow_id */
static uint64_t answered_ns[8];

static void
on_verdict(const struct kw_verdict *v, void *arg)
{
	(void)arg;
	if (v->flow_id < 8 && v->stage != KW_STAGE_LATE && answered_ns[v->flow_id] == 0)
		answered_ns[v->flow_id] = ag_mono_ns();
	last = *v;
	verdicts++;
}

/* One NTLM trust: a Kerberos job finds no trust for it and never reaches GSS. */
static void
ntlm_only_trusts(struct trust_table *tt)
{
	struct trust_config tc;

	trust_table_init(tt);
	trust_config_defaults(&tc);
	strcpy(tc.realm, "NTLMDOM");
	strcpy(tc.netbios_name, "NTLMDOM");
	tc.kind = TRUST_KIND_NTLM;
	assert_int_equal(trust_table_add(tt, &tc, NULL), 0);
}

static void
test_pool_no_trust(void **state)
{
	struct trust_table tt;
	struct kw_pool_config pc = {
		.trusts = &tt, .workers = 1, .queue_size = 1, .on_verdict = on_verdict};
	struct kw_pool *p;
	static const uint8_t tok[] = {0x60, 0x00};
	struct kw_job job = {.flow_id = 42,
			     .flow_gen = 7,
			     .trust_index = 0,
			     .mech = TRUST_MECH_KRB5,
			     .token = tok,
			     .token_len = sizeof(tok)};

	(void)state;
	ntlm_only_trusts(&tt);
	p = kw_pool_create(&pc);
	assert_non_null(p);
	assert_int_equal(kw_pool_submit(p, &job), 0);
	/* destroy finishes what was queued before it joins */
	kw_pool_destroy(p);
	assert_int_equal(verdicts, 1);
	assert_int_equal(last.flow_id, 42);
	assert_int_equal(last.flow_gen, 7);
	assert_int_equal(last.reason, KW_ERR_NO_TRUST);
	/* a pool runs its own trust's jobs only: another trust's are refused at the door */
	job.trust_index = 5;
	p = kw_pool_create(&pc);
	assert_non_null(p);
	assert_int_equal(kw_pool_submit(p, &job), -EINVAL);
	kw_pool_destroy(p);
	assert_int_equal(verdicts, 1);
	pc.trust_index = 5; /* past the table's end */
	assert_null(kw_pool_create(&pc));
	trust_table_fini(&tt);
}

/*
 * When kw_pool_destroy returns, no worker may still be freeing its krb5 objects: the caller
 * may exit, and the library's destructors then pull the mutexes from under it. A slow
 * teardown (50 ms) makes the window wide; before the fix destroy returned with 3 inside it.
 */
static void
test_pool_destroy_waits_for_teardown(void **state)
{
	struct trust_table tt;
	struct kw_pool_config pc = {
		.trusts = &tt, .workers = 3, .queue_size = 4, .on_verdict = on_verdict};
	struct kw_pool *p;

	(void)state;
	ntlm_only_trusts(&tt);
	kw_fini_delay_us = 50000;
	p = kw_pool_create(&pc);
	assert_non_null(p);
	kw_pool_destroy(p);
	assert_int_equal(kw_pool_threads_holding(), 0);
	kw_fini_delay_us = 0;
	trust_table_fini(&tt);
}

/* A KDC that accepts connections and never answers, and a krb5.conf that points HANG.TEST at it. */
struct hang_kdc {
	int lfd;
	char conf[32];
};

static void
hang_kdc_start(struct hang_kdc *k, struct trust_table *tt, uint64_t timeout_ns)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t salen = sizeof(sa);
	struct trust_config tc;
	int fd;
	FILE *f;

	k->lfd = socket(AF_INET, SOCK_STREAM, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(k->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(k->lfd, 4), 0);
	assert_int_equal(getsockname(k->lfd, (struct sockaddr *)&sa, &salen), 0);
	strcpy(k->conf, "/tmp/ag-kw-hang-XXXXXX");
	fd = mkstemp(k->conf);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	fprintf(f,
		"[libdefaults]\n default_realm = HANG.TEST\n dns_lookup_kdc = false\n"
		" dns_lookup_realm = false\n udp_preference_limit = 1\n[realms]\n"
		" HANG.TEST = {\n  kdc = 127.0.0.1:%u\n }\n",
		ntohs(sa.sin_port));
	fclose(f);
	setenv("KRB5_CONFIG", k->conf, 1);

	trust_table_init(tt);
	trust_config_defaults(&tc);
	strcpy(tc.realm, "HANG.TEST");
	tc.kind = TRUST_KIND_BASIC;
	tc.max_concurrent_api = 1;
	tc.timeout_ns = timeout_ns;
	assert_int_equal(trust_table_add(tt, &tc, NULL), 0);
}

/* The KDC's side of one AS exchange: the connection is taken, nothing is ever sent back. */
static int
hang_kdc_take(struct hang_kdc *k)
{
	int cfd = -1;

	for (int i = 0; i < 50 && cfd < 0; i++) {
		struct timeval tv = {0, 100000};
		fd_set rs;

		FD_ZERO(&rs);
		FD_SET(k->lfd, &rs);
		if (select(k->lfd + 1, &rs, NULL, NULL, &tv) == 1)
			cfd = accept(k->lfd, NULL, NULL);
	}
	assert_true(cfd >= 0);
	return cfd;
}

static void
hang_kdc_stop(struct hang_kdc *k)
{
	close(k->lfd);
	unlink(k->conf);
	unsetenv("KRB5_CONFIG");
}

/*
 * A KDC that accepts the connection and never answers: the worker hangs in the AS exchange.
 * The watchdog answers 503 (worker_hung) once the trust's deadline passed, gives the slot back
 * and starts another thread; when the worker returns at last its verdict comes LATE.
 */
static void
test_pool_hung_worker(void **state)
{
	struct hang_kdc kdc;
	struct trust_table tt;
	struct kw_pool_config pc = {.trusts = &tt,
				    .trust_index = 0,
				    .workers = 1,
				    .queue_size = 4,
				    .on_verdict = on_verdict};
	struct kw_pool_stats ps;
	struct sema_stats ss;
	struct kw_pool *p;
	static const uint8_t tok[] = "alice:secret";
	struct kw_job job = {.flow_id = 9,
			     .trust_index = 0,
			     .mech = TRUST_MECH_BASIC,
			     .token = tok,
			     .token_len = sizeof(tok) - 1};
	int cfd;

	(void)state;
	hang_kdc_start(&kdc, &tt, 1000000000ULL);
	verdicts = 0;
	p = kw_pool_create(&pc);
	assert_non_null(p);
	assert_int_equal(kw_pool_submit(p, &job), 0);
	cfd = hang_kdc_take(&kdc);
	sema_get_stats(tt.trusts[0].sema, &ss);
	assert_int_equal(ss.holders, 1);
	/* before the deadline the watchdog leaves it alone */
	assert_int_equal(kw_pool_watchdog(p), 0);
	for (int i = 0; i < 60 && verdicts == 0; i++) {
		usleep(50000);
		kw_pool_watchdog(p);
	}
	assert_int_equal(verdicts, 1);
	assert_int_equal(last.reason, KW_ERR_WORKER_HUNG);
	assert_int_equal(last.stage, KW_STAGE_EARLY);
	assert_int_equal(last.flow_id, 9);
	assert_int_equal(kw_reason_http_status(last.reason), 503);
	kw_pool_get_stats(p, &ps);
	assert_int_equal(ps.hung, 1);
	assert_int_equal(ps.slots_reclaimed, 1);
	sema_get_stats(tt.trusts[0].sema, &ss);
	assert_int_equal(ss.holders, 0);
	/* the KDC goes away: the stuck worker returns, and its verdict only releases the job */
	close(cfd);
	hang_kdc_stop(&kdc);
	for (int i = 0; i < 200 && verdicts < 2; i++)
		usleep(50000);
	assert_int_equal(verdicts, 2);
	assert_int_equal(last.stage, KW_STAGE_LATE);
	kw_pool_destroy(p);
	trust_table_fini(&tt);
}

/*
 * The deadline is the client's: from submission to answer. A job that queued behind a hung one
 * is granted the reclaimed slot just before its own deadline and hangs in turn; it must still
 * be answered at its deadline, not a whole deadline after it started (2 deadlines, before).
 */
static void
test_pool_hung_deadline_from_submission(void **state)
{
	const uint64_t deadline = 2000000000ULL;
	struct hang_kdc kdc;
	struct trust_table tt;
	struct kw_pool_config pc = {.trusts = &tt,
				    .trust_index = 0,
				    .workers = 2,
				    .queue_size = 4,
				    .on_verdict = on_verdict};
	struct kw_pool *p;
	static const uint8_t tok[] = "alice:secret";
	struct kw_job a = {.flow_id = 1,
			   .trust_index = 0,
			   .mech = TRUST_MECH_BASIC,
			   .token = tok,
			   .token_len = sizeof(tok) - 1};
	struct kw_job b = a;
	uint64_t b_submitted;
	int cfd[2];

	(void)state;
	b.flow_id = 2;
	memset(answered_ns, 0, sizeof(answered_ns));
	hang_kdc_start(&kdc, &tt, deadline);
	verdicts = 0;
	p = kw_pool_create(&pc);
	assert_non_null(p);
	assert_int_equal(kw_pool_submit(p, &a), 0);
	cfd[0] = hang_kdc_take(&kdc);
	usleep(1200000);
	/* b waits for a's slot, the only one */
	b_submitted = ag_mono_ns();
	assert_int_equal(kw_pool_submit(p, &b), 0);
	for (int i = 0; i < 120 && answered_ns[2] == 0; i++) {
		usleep(25000);
		kw_pool_watchdog(p);
	}
	cfd[1] = hang_kdc_take(&kdc); /* b did reach the KDC once a's slot came back */
	assert_true(answered_ns[1] != 0);
	assert_true(answered_ns[2] != 0);
	assert_int_equal(last.flow_id, 2);
	assert_int_equal(kw_reason_http_status(last.reason), 503);
	/* within its deadline and a watchdog period or two; before the fix about 2.8 s */
	assert_true(answered_ns[2] - b_submitted < deadline + 400000000ULL);
	close(cfd[0]);
	close(cfd[1]);
	hang_kdc_stop(&kdc);
	for (int i = 0; i < 200 && verdicts < 4; i++)
		usleep(50000);
	assert_int_equal(verdicts, 4); /* a and b: EARLY each, then LATE each */
	kw_pool_destroy(p);
	trust_table_fini(&tt);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reason_strings_distinct),
		cmocka_unit_test(test_http_answers),
		cmocka_unit_test(test_missing_keytab),
		cmocka_unit_test(test_pool_no_trust),
		cmocka_unit_test(test_pool_destroy_waits_for_teardown),
		cmocka_unit_test(test_pool_hung_worker),
		cmocka_unit_test(test_pool_hung_deadline_from_submission),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
