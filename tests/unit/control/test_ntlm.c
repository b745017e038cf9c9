/* Unit tests for NTLM: message parsing (domain from Type 3), routing, the half-open context table.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "control/ntlm.h"

#ifndef VECTORS_DIR
#error "VECTORS_DIR must name tests/unit/control/vectors"
#endif

struct vec {
	uint8_t *p;
	size_t len;
};

static struct vec
load(const char *name)
{
	char path[512];
	struct vec v = {NULL, 0};
	FILE *f;
	long n;

	snprintf(path, sizeof(path), "%s/%s", VECTORS_DIR, name);
	f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n > 0);
	rewind(f);
	v.p = malloc((size_t)n);
	assert_non_null(v.p);
	assert_int_equal(fread(v.p, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	v.len = (size_t)n;
	return v;
}

/* A Type 3 with OEM (8-bit) names at the given offsets; everything else zero. */
static size_t
type3_oem(uint8_t *buf, const char *domain, const char *user, uint32_t flags)
{
	size_t dl = strlen(domain), ul = strlen(user), off = 64;

	memset(buf, 0, 64);
	memcpy(buf, "NTLMSSP\0", 8);
	buf[8] = 3;
	buf[28] = (uint8_t)dl;
	buf[30] = (uint8_t)dl;
	buf[32] = (uint8_t)off;
	memcpy(buf + off, domain, dl);
	buf[36] = (uint8_t)ul;
	buf[38] = (uint8_t)ul;
	buf[40] = (uint8_t)(off + dl);
	memcpy(buf + off + dl, user, ul);
	memcpy(buf + 60, &flags, 4); /* little-endian host */
	return off + dl + ul;
}

static void
test_parse_vectors(void **state)
{
	struct vec t1 = load("ntlm.bin"), t3 = load("ntlm-type3.bin");
	struct vec sp3 = load("spnego-ntlm-type3.bin");
	struct trust_token_info info;
	struct ntlm_msg_info m;

	(void)state;
	assert_int_equal(ntlm_parse_msg(t1.p, t1.len, &m), 0);
	assert_int_equal(m.type, 1);
	assert_int_equal(ntlm_parse_msg(t3.p, t3.len, &m), 0);
	assert_int_equal(m.type, 3);
	assert_true(m.flags & NTLMSSP_NEGOTIATE_UNICODE);
	assert_string_equal(m.domain, "AUTHGATE");
	assert_string_equal(m.user, "user1");
	/* the same inside SPNEGO's NegTokenResp, once the router unwrapped it */
	assert_int_equal(trust_parse_token(sp3.p, sp3.len, &info), 0);
	assert_int_equal(info.mech, TRUST_MECH_NTLM);
	assert_int_equal(info.ntlm_msg_type, 3);
	assert_int_equal(ntlm_parse_msg(info.mech_token, info.mech_token_len, &m), 0);
	assert_string_equal(m.domain, "AUTHGATE");
	/* every truncation is refused or parsed within bounds (ASan checks the latter) */
	for (size_t n = 0; n < t3.len; n++) {
		int ret = ntlm_parse_msg(t3.p, n, &m);

		assert_true(ret == 0 || ret == -EBADMSG);
		if (n < 64)
			assert_int_equal(ret, -EBADMSG);
	}
	free(t1.p);
	free(t3.p);
	free(sp3.p);
}

static void
test_parse_oem_and_bad(void **state)
{
	uint8_t buf[256];
	struct ntlm_msg_info m;
	size_t n;

	(void)state;
	n = type3_oem(buf, "Lab", "bob", 0);
	assert_int_equal(ntlm_parse_msg(buf, n, &m), 0);
	assert_string_equal(m.domain, "Lab");
	assert_string_equal(m.user, "bob");
	/* non-ASCII folds to '?' so it can match no trust */
	n = type3_oem(buf,
		      "L\xe4"
		      "b",
		      "bob", 0);
	assert_int_equal(ntlm_parse_msg(buf, n, &m), 0);
	assert_string_equal(m.domain, "L?b");
	/* a field pointing past the end */
	n = type3_oem(buf, "Lab", "bob", 0);
	buf[32] = 250;
	assert_int_equal(ntlm_parse_msg(buf, n, &m), -EBADMSG);
	/* odd length with UNICODE */
	n = type3_oem(buf, "Lab", "bob", NTLMSSP_NEGOTIATE_UNICODE);
	assert_int_equal(ntlm_parse_msg(buf, n, &m), -EBADMSG);
	/* wrong signature, unknown type */
	n = type3_oem(buf, "Lab", "bob", 0);
	buf[0] = 'X';
	assert_int_equal(ntlm_parse_msg(buf, n, &m), -EBADMSG);
	n = type3_oem(buf, "Lab", "bob", 0);
	buf[8] = 4;
	assert_int_equal(ntlm_parse_msg(buf, n, &m), -EBADMSG);
}

/* curl 7.88's messages, captured from `curl --ntlm` against gss-ntlmssp 1.2 */
static void
test_normalise_curl(void **state)
{
	struct vec t1 = load("curl-ntlm-type1.bin"), t3 = load("curl-ntlm-type3.bin");
	struct vec g1 = load("ntlm.bin"), g3 = load("ntlm-type3.bin");
	uint8_t buf[1024], orig[1024];
	struct ntlm_msg_info m;
	unsigned int fx;
	size_t n;

	(void)state;
	/* Type 1: 32 bytes, no Version; gss-ntlmssp wants its 40-byte struct */
	assert_int_equal(t1.len, NTLM_TYPE1_FIXED);
	memset(buf, 0xee, sizeof(buf));
	memcpy(buf, t1.p, t1.len);
	n = ntlm_normalise(buf, t1.len, sizeof(buf), &fx);
	assert_int_equal(n, NTLM_TYPE1_FIXED_VERSION);
	assert_int_equal(fx, NTLM_FIXUP_TYPE1_PADDED);
	assert_memory_equal(buf, t1.p, t1.len);
	for (size_t i = t1.len; i < n; i++)
		assert_int_equal(buf[i], 0);
	/* no room: left alone */
	assert_int_equal(ntlm_normalise(buf, t1.len, t1.len, &fx), t1.len);
	assert_int_equal(fx, 0);

	/* Type 3: flags echo the Type 2's VERSION, the LM response sits at 64 */
	assert_int_equal(ntlm_parse_msg(t3.p, t3.len, &m), 0);
	assert_true(m.flags & NTLMSSP_NEGOTIATE_VERSION);
	assert_false(m.flags & NTLMSSP_NEGOTIATE_UNICODE);
	assert_string_equal(m.domain, "AUTHGATE");
	assert_string_equal(m.user, "user1");
	memcpy(buf, t3.p, t3.len);
	n = ntlm_normalise(buf, t3.len, sizeof(buf), &fx);
	assert_int_equal(n, t3.len);
	assert_int_equal(fx, NTLM_FIXUP_TYPE3_NO_VERSION);
	assert_int_equal(ntlm_parse_msg(buf, n, &m), 0);
	assert_false(m.flags & NTLMSSP_NEGOTIATE_VERSION);
	/* only that one bit changed */
	buf[63] |= NTLMSSP_NEGOTIATE_VERSION >> 24;
	assert_memory_equal(buf, t3.p, t3.len);
	/* twice is once */
	memcpy(buf, t3.p, t3.len);
	ntlm_normalise(buf, t3.len, sizeof(buf), &fx);
	memcpy(orig, buf, t3.len);
	assert_int_equal(ntlm_normalise(buf, t3.len, sizeof(buf), &fx), t3.len);
	assert_int_equal(fx, 0);
	assert_memory_equal(buf, orig, t3.len);

	/* gss-ntlmssp's own messages carry their Version: untouched */
	memcpy(buf, g1.p, g1.len);
	assert_int_equal(ntlm_normalise(buf, g1.len, sizeof(buf), &fx), g1.len);
	assert_int_equal(fx, 0);
	memcpy(buf, g3.p, g3.len);
	assert_int_equal(ntlm_normalise(buf, g3.len, sizeof(buf), &fx), g3.len);
	assert_int_equal(fx, 0);
	assert_memory_equal(buf, g3.p, g3.len);

	/* a field below 64 is a broken message, not a missing Version: left to be refused */
	memcpy(buf, t3.p, t3.len);
	buf[16] = 40;
	memcpy(orig, buf, t3.len);
	ntlm_normalise(buf, t3.len, sizeof(buf), &fx);
	assert_int_equal(fx, 0);
	assert_memory_equal(buf, orig, t3.len);

	/* every truncation stays in bounds (ASan) and never grows a Type 3 */
	for (size_t k = 0; k < t3.len; k++) {
		memcpy(buf, t3.p, k);
		assert_int_equal(ntlm_normalise(buf, k, k, &fx), k);
	}
	/* not NTLMSSP */
	memcpy(buf, "NTLMSSX\0\1\0\0\0", 12);
	assert_int_equal(ntlm_normalise(buf, 12, sizeof(buf), &fx), 12);
	assert_int_equal(fx, 0);
	free(t1.p);
	free(t3.p);
	free(g1.p);
	free(g3.p);
}

static void
test_route_type3(void **state)
{
	struct trust_table tt;
	struct trust_config tc;
	struct ntlm_msg_info m = {.type = 3};
	uint32_t idx;

	(void)state;
	trust_table_init(&tt);
	trust_config_defaults(&tc);
	strcpy(tc.realm, "AUTHGATE.TEST"); /* Kerberos: takes no NTLM even with the name */
	strcpy(tc.netbios_name, "AUTHGATE");
	assert_int_equal(trust_table_add(&tt, &tc, NULL), 0);
	strcpy(tc.realm, "AUTHGATE-NTLM");
	tc.kind = TRUST_KIND_NTLM;
	assert_int_equal(trust_table_add(&tt, &tc, NULL), 0);
	strcpy(m.domain, "authgate");
	assert_int_equal(ntlm_route_type3(&tt, NULL, &m, &idx), 0);
	assert_int_equal(idx, 1);
	strcpy(m.domain, "OTHER");
	assert_int_equal(ntlm_route_type3(&tt, NULL, &m, &idx), -ENOENT);
	m.domain[0] = '\0';
	assert_int_equal(ntlm_route_type3(&tt, NULL, &m, &idx), -ENOENT);
	assert_int_equal(ntlm_route_type3(&tt, "AUTHGATE-NTLM", &m, &idx), 0);
	assert_int_equal(idx, 1);
	assert_int_equal(ntlm_route_type3(&tt, "AUTHGATE.TEST", &m, &idx), -ENOENT);
	trust_table_fini(&tt);
}

/* ---- the context table, with fake contexts whose frees are counted ---- */

static int frees;

static void
fake_free(void *ctx)
{
	assert_non_null(ctx);
	frees++;
}

#define S(n) ((uint64_t)(n)*1000000000ULL)

static struct ntlm_table *
mk(unsigned int max)
{
	struct ntlm_table_config c = {
		.max_entries = max, .timeout_ns = S(30), .free_ctx = fake_free};

	frees = 0;
	return ntlm_table_create(&c);
}

/* Type 1 leg: take a slot, let the "GSS call" make a context, give it back for Type 3. */
static void
leg1(struct ntlm_table *t, uint16_t lcore, uint64_t flow, uint32_t gen, uint64_t now)
{
	struct ntlm_entry *e;

	assert_int_equal(ntlm_table_begin(t, lcore, flow, gen, false, now, &e), 0);
	assert_null(*ntlm_entry_ctx(e));
	*ntlm_entry_ctx(e) = (void *)(uintptr_t)(0x1000 + flow);
	ntlm_table_end(t, e, true, now);
}

static void
test_table_exchange(void **state)
{
	struct ntlm_table *t = mk(0);
	struct ntlm_table_stats st;
	struct ntlm_entry *e;

	(void)state;
	leg1(t, 0, 7, 1, S(1));
	/* the same flow id on another lcore is another flow */
	assert_int_equal(ntlm_table_resume(t, 1, 7, 1, S(2), &e), -ENOENT);
	assert_int_equal(ntlm_table_resume(t, 0, 7, 1, S(2), &e), 0);
	assert_ptr_equal(*ntlm_entry_ctx(e), (void *)(uintptr_t)0x1007);
	/* lent: a second leg meanwhile is refused, and nothing frees it under the job */
	assert_int_equal(ntlm_table_resume(t, 0, 7, 1, S(2), &e), -EBUSY);
	assert_int_equal(ntlm_table_sweep(t, S(100)), 0);
	ntlm_table_end(t, e, false, S(3));
	ntlm_table_get_stats(t, &st);
	assert_int_equal(st.created, 1);
	assert_int_equal(st.completed, 1);
	assert_int_equal(st.live, 0);
	assert_int_equal(st.busy, 1);
	assert_int_equal(st.no_context, 1);
	assert_int_equal(frees, 1);
	/* done: a replayed Type 3 finds nothing */
	assert_int_equal(ntlm_table_resume(t, 0, 7, 1, S(4), &e), -ENOENT);
	ntlm_table_destroy(t);
}

static void
test_table_timeout(void **state)
{
	struct ntlm_table *t = mk(0);
	struct ntlm_table_stats st;
	struct ntlm_entry *e;

	(void)state;
	leg1(t, 0, 1, 1, S(10));
	leg1(t, 0, 2, 1, S(25));
	assert_int_equal(ntlm_table_sweep(t, S(41)), 1); /* flow 1 idle 31 s, flow 2 16 s */
	assert_int_equal(frees, 1);
	assert_int_equal(ntlm_table_resume(t, 0, 1, 1, S(41), &e), -ENOENT);
	/* an expired context found by its Type 3 before the sweep is freed too */
	assert_int_equal(ntlm_table_resume(t, 0, 2, 1, S(56), &e), -ENOENT);
	ntlm_table_get_stats(t, &st);
	assert_int_equal(st.timed_out, 2);
	assert_int_equal(st.live, 0);
	assert_int_equal(frees, 2);
	ntlm_table_destroy(t);
}

static void
test_table_close_and_generation(void **state)
{
	struct ntlm_table *t = mk(0);
	struct ntlm_table_stats st;
	struct ntlm_entry *e;

	(void)state;
	leg1(t, 0, 5, 1, S(1));
	/* a close for another generation of the slot leaves this flow's context alone */
	ntlm_table_flow_closed(t, 0, 5, 2);
	ntlm_table_flow_closed(t, 0, 6, 1);
	assert_int_equal(frees, 0);
	ntlm_table_flow_closed(t, 0, 5, 1);
	assert_int_equal(frees, 1);
	/* the slot reused: a Type 3 of the new generation must not continue the old context */
	leg1(t, 0, 5, 1, S(2));
	assert_int_equal(ntlm_table_resume(t, 0, 5, 2, S(3), &e), -ENOENT);
	assert_int_equal(frees, 2);
	/* a new Type 1 on a flow that has a context replaces it */
	leg1(t, 0, 5, 3, S(4));
	leg1(t, 0, 5, 3, S(5));
	assert_int_equal(frees, 3);
	/* closed while a job holds it: freed when the job gives it back, not before */
	assert_int_equal(ntlm_table_resume(t, 0, 5, 3, S(6), &e), 0);
	ntlm_table_flow_closed(t, 0, 5, 3);
	assert_int_equal(frees, 3);
	ntlm_table_end(t, e, true, S(7));
	assert_int_equal(frees, 4);
	ntlm_table_get_stats(t, &st);
	assert_int_equal(st.closed, 2);
	assert_int_equal(st.stale_closes, 2);
	assert_int_equal(st.replaced, 2);
	assert_int_equal(st.live, 0);
	ntlm_table_destroy(t);
}

static void
test_table_full(void **state)
{
	struct ntlm_table *t = mk(2);
	struct ntlm_table_stats st;
	struct ntlm_entry *e;

	(void)state;
	leg1(t, 0, 1, 1, S(1));
	leg1(t, 0, 2, 1, S(1));
	assert_int_equal(ntlm_table_begin(t, 0, 3, 1, false, S(1), &e), -ENOSPC);
	/* a flow restarting its own handshake still fits */
	leg1(t, 0, 2, 1, S(2));
	ntlm_table_get_stats(t, &st);
	assert_int_equal(st.full, 1);
	assert_int_equal(st.live, 2);
	ntlm_table_destroy(t); /* frees what is left */
	assert_int_equal(frees, 3);
}

/* A user file line for the Type 3's DOMAIN\\user (raw or in SPNEGO), as gss-ntlmssp finds it. */
static void
test_user_file_holds(void **state)
{
	struct vec t1 = load("ntlm.bin"), t3 = load("ntlm-type3.bin");
	struct vec sp3 = load("spnego-ntlm-type3.bin"), c3 = load("curl-ntlm-type3.bin");
	char path[] = "/tmp/test_ntlm_users_XXXXXX";
	int fd = mkstemp(path);
	FILE *f;

	(void)state;
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	fputs("# DOMAIN:user:password\nSAMDOM:ntuser1:x\nauthgate:USER1:Passw0rd-user1\n", f);
	fclose(f);
	/* case ignored on both names, as gss-ntlmssp's lookup */
	assert_true(ntlm_user_file_holds(path, t3.p, t3.len));
	assert_true(ntlm_user_file_holds(path, sp3.p, sp3.len));
	assert_true(ntlm_user_file_holds(path, c3.p, c3.len));
	/* not a Type 3, no file, a file without that user */
	assert_false(ntlm_user_file_holds(path, t1.p, t1.len));
	assert_false(ntlm_user_file_holds(NULL, t3.p, t3.len));
	assert_false(ntlm_user_file_holds("/nonexistent/ntlm_users", t3.p, t3.len));
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("SAMDOM:user1:x\nAUTHGATE:user2:x\n#AUTHGATE:user1:x\n", f);
	fclose(f);
	assert_false(ntlm_user_file_holds(path, t3.p, t3.len));
	unlink(path);
	free(t1.p);
	free(t3.p);
	free(sp3.p);
	free(c3.p);
}

/*
 * With no winbindd at all nobody can validate a winbind trust: that is the DC's side being
 * down (503), not a wrong password. Only checked where no winbindd answers (the e2e test
 * ntlm-winbind covers a live one, and a stopped DC behind it).
 */
static void
test_dc_ping_no_winbindd(void **state)
{
	void *wb = NULL;
	char why[160] = "";

	(void)state;
	if (access("/run/samba/winbindd/pipe", F_OK) == 0) {
		print_message(
			"a winbindd socket exists here; not asserting the no-winbindd case\n");
		return;
	}
	assert_int_equal(ntlm_dc_ping(&wb, why, sizeof(why)), NTLM_DC_NO_WINBIND);
	assert_non_null(wb); /* the thread's context is kept for the next ping */
	assert_non_null(strstr(why, "WBC_ERR_WINBIND_NOT_AVAILABLE"));
	/* a second ping on the same context answers the same */
	assert_int_equal(ntlm_dc_ping(&wb, NULL, 0), NTLM_DC_NO_WINBIND);
	ntlm_dc_ctx_free(wb);
}

/* An AUTHENTICATE whose NTLMv2 response carries these AV pairs (id, length, value ...). */
static size_t
type3_with_av(uint8_t *msg, const uint8_t *av, size_t av_len)
{
	size_t nt_len = 16 + 28 + av_len;

	memset(msg, 0, 64 + nt_len);
	memcpy(msg, "NTLMSSP", 8);
	msg[8] = 3;
	msg[20] = (uint8_t)nt_len; /* NtChallengeResponseFields: len, maxlen, offset 64 */
	msg[22] = (uint8_t)nt_len;
	msg[24] = 64;
	msg[64 + 16] = 1; /* RespType, HiRespType */
	msg[64 + 17] = 1;
	memcpy(msg + 64 + 44, av, av_len);
	return 64 + nt_len;
}

/* MsvAvChannelBindings read from the client's AUTHENTICATE; the MD5 a binding client puts there. */
static void
test_type3_channel_bindings(void **state)
{
	static const uint8_t want_md5[16] = {0x8f, 0x12, 0x14, 0xc9, 0xc9, 0xca, 0xb8, 0xdc,
					     0x3b, 0xf8, 0x66, 0xda, 0x9a, 0xba, 0x57, 0xa7};
	uint8_t app[21 + 32], md5[16], got[16], msg[256], av[64];
	size_t n;

	(void)state;
	/* python3: md5(16 zero bytes + le32(len) + app), app = prefix + bytes 0..31 */
	memcpy(app, "tls-server-end-point:", 21);
	for (int i = 0; i < 32; i++)
		app[21 + i] = (uint8_t)i;
	ntlm_cb_hash(app, sizeof(app), md5);
	assert_memory_equal(md5, want_md5, 16);

	/* MsvAvNbDomainName "D", then the bindings, then EOL */
	memcpy(av,
	       "\x02\x00\x02\x00"
	       "D"
	       "\x00\x0a\x00\x10\x00",
	       10);
	memcpy(av + 10, md5, 16);
	memset(av + 26, 0, 4);
	n = type3_with_av(msg, av, 30);
	assert_int_equal(ntlm_type3_cb(msg, n, got), 1);
	assert_memory_equal(got, md5, 16);
	/* zeros are what a client without TLS sends: no bindings */
	memset(av + 10, 0, 16);
	n = type3_with_av(msg, av, 30);
	assert_int_equal(ntlm_type3_cb(msg, n, got), 0);
	/* no pair at all */
	n = type3_with_av(msg, (const uint8_t *)"\x00\x00\x00\x00", 4);
	assert_int_equal(ntlm_type3_cb(msg, n, got), 0);
	/* a pair running past the response */
	memcpy(av, "\x0a\x00\x40\x00", 4);
	n = type3_with_av(msg, av, 8);
	assert_int_equal(ntlm_type3_cb(msg, n, got), -EBADMSG);
	/* the NT response's offset past the message */
	n = type3_with_av(msg, (const uint8_t *)"\x00\x00\x00\x00", 4);
	msg[24] = 250;
	assert_int_equal(ntlm_type3_cb(msg, n, got), -EBADMSG);
	/* NTLMv1: a 24-byte response, nothing to bind */
	n = type3_with_av(msg, (const uint8_t *)"\x00\x00\x00\x00", 4);
	msg[20] = msg[22] = 24;
	assert_int_equal(ntlm_type3_cb(msg, 64 + 24, got), 0);
	/* not an AUTHENTICATE */
	msg[8] = 1;
	assert_int_equal(ntlm_type3_cb(msg, n, got), -EBADMSG);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_vectors),
		cmocka_unit_test(test_parse_oem_and_bad),
		cmocka_unit_test(test_normalise_curl),
		cmocka_unit_test(test_type3_channel_bindings),
		cmocka_unit_test(test_route_type3),
		cmocka_unit_test(test_table_exchange),
		cmocka_unit_test(test_table_timeout),
		cmocka_unit_test(test_table_close_and_generation),
		cmocka_unit_test(test_table_full),
		cmocka_unit_test(test_user_file_holds),
		cmocka_unit_test(test_dc_ping_no_winbindd),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
