/* Unit tests for the validator's parts that need no KDC: reasons, HTTP answers, refusals. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

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

static void
on_verdict(const struct kw_verdict *v, void *arg)
{
	(void)arg;
	last = *v;
	verdicts++;
}

static void
test_pool_no_trust(void **state)
{
	struct trust_table tt;
	struct trust_config tc;
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
	trust_table_init(&tt);
	trust_config_defaults(&tc);
	strcpy(tc.realm, "NTLMDOM");
	strcpy(tc.netbios_name, "NTLMDOM");
	tc.kind = TRUST_KIND_NTLM;
	assert_int_equal(trust_table_add(&tt, &tc, NULL), 0);
	p = kw_pool_create(&pc);
	assert_non_null(p);
	assert_int_equal(kw_pool_submit(p, &job), 0);
	/* destroy finishes what was queued before it joins */
	kw_pool_destroy(p);
	assert_int_equal(verdicts, 1);
	assert_int_equal(last.flow_id, 42);
	assert_int_equal(last.flow_gen, 7);
	assert_int_equal(last.reason, KW_ERR_NO_TRUST);
	job.trust_index = 5; /* past the table's end */
	p = kw_pool_create(&pc);
	assert_non_null(p);
	assert_int_equal(kw_pool_submit(p, &job), 0);
	kw_pool_destroy(p);
	assert_int_equal(verdicts, 2);
	assert_int_equal(last.reason, KW_ERR_NO_TRUST);
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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
