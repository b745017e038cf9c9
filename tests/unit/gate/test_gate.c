/* The auth gate's decisions, row by row of the auth semantics in DESIGN.md; no EAL, no lab. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include "dataplane/auth_gate.h"

#define NOW 1800000000 /* a Unix time well inside any ticket */

static const uint32_t ALL = SITE_AUTH_NEGOTIATE | SITE_AUTH_NTLM | SITE_AUTH_BASIC;

static const char *revoked_principal;

static bool
fake_is_revoked(const char *principal, bool ignore_case)
{
	return revoked_principal != NULL &&
	       (ignore_case ? strcasecmp(principal, revoked_principal)
			    : strcmp(principal, revoked_principal)) == 0;
}

struct world {
	struct gate_conf conf;
	struct site_conf site; /* the site of every request, unless a test says otherwise */
	struct gate_flow flow;
	struct gate_stats st;
	struct gate_env env;
};

static void
world_init(struct world *w)
{
	memset(w, 0, sizeof(*w));
	w->conf.persist_non_ntlm = true;
	w->conf.persist_single_request = false;
	w->conf.max_session_age_s = 36000;
	w->conf.max_auth_failures = 5;
	w->conf.retry_after_s = 5;
	w->conf.max_token_bytes = 49152;
	w->conf.allow_basic_over_http = false;
	w->env.now_s = NOW;
	w->env.revoke_epoch = 1;
	w->env.is_revoked = fake_is_revoked;
	w->site.auth = ALL;
	revoked_principal = NULL;
}

static struct h1_view
view(const char *s)
{
	return (struct h1_view){s, strlen(s)};
}

/* A request with this Authorization value (NULL: none) on a site asking for schemes. */
static enum gate_action
request(struct world *w, uint32_t schemes, const char *authz, struct gate_decision *d)
{
	struct h1_view v = authz ? view(authz) : (struct h1_view){NULL, 0};

	w->site.auth = schemes;
	gate_request(&w->conf, &w->flow, &w->site, authz ? &v : NULL, &w->env, &w->st, d);
	return d->action;
}

static void
verdict_ok(struct world *w, enum trust_mech mech, int scheme, int64_t expires_at,
	   struct gate_decision *d)
{
	struct authsvc_verdict v;

	memset(&v, 0, sizeof(v));
	v.status = 200;
	v.mech = (uint8_t)mech;
	v.scheme = (uint8_t)scheme;
	v.expires_at = expires_at;
	strcpy(v.principal, "user1@AUTHGATE.TEST");
	gate_verdict(&w->conf, &w->flow, &w->site, &v, &w->env, &w->st, d);
}

/* Kerberos once, then the flow is authenticated: Negotiate (the first leg parks). */
static void
authenticate_krb5(struct world *w, struct gate_decision *d)
{
	assert_int_equal(request(w, SITE_AUTH_NEGOTIATE, "Negotiate YIIabc", d), GATE_PARK);
	w->flow.auth_hash = d->auth_hash; /* what the HTTP service records when it parks */
	verdict_ok(w, TRUST_MECH_KRB5, AUTHSVC_SCHEME_NEGOTIATE, NOW + 3600, d);
}

static void
test_no_credentials_challenge(void **state)
{
	struct world w;
	struct gate_decision d;
	char buf[256];

	(void)state;
	world_init(&w);
	assert_int_equal(request(&w, ALL, NULL, &d), GATE_CHALLENGE);
	assert_false(d.close);
	assert_int_equal(w.st.challenges, 1);
	/* Basic is offered only where it may be used */
	gate_challenge_headers(&w.conf, ALL, false, buf, sizeof(buf));
	assert_string_equal(buf, "WWW-Authenticate: Negotiate\r\nWWW-Authenticate: NTLM\r\n");
	w.conf.allow_basic_over_http = true;
	gate_challenge_headers(&w.conf, SITE_AUTH_BASIC, false, buf, sizeof(buf));
	assert_string_equal(buf,
			    "WWW-Authenticate: Basic realm=\"authgate\", charset=\"UTF-8\"\r\n");
	/* a scheme the site does not take is no credential at all */
	assert_int_equal(request(&w, SITE_AUTH_NEGOTIATE, "NTLM TlRMTVNTUAAB", &d), GATE_CHALLENGE);
}

/* Over HTTPS Basic is taken and offered; plain HTTP still refuses it; tls_only is 403. */
static void
test_tls_rules(void **state)
{
	struct world w;
	struct gate_decision d;
	struct site_conf open_site;
	char buf[256];

	(void)state;
	world_init(&w);
	assert_int_equal(request(&w, SITE_AUTH_BASIC, "Basic dXNlcjpwdw==", &d), GATE_CHALLENGE);
	assert_int_equal(w.st.basic_refused, 1);
	w.env.tls = true;
	assert_int_equal(request(&w, SITE_AUTH_BASIC, "Basic dXNlcjpwdw==", &d), GATE_PARK);
	assert_int_equal(d.scheme, AUTHSVC_SCHEME_BASIC);
	assert_int_equal(w.st.basic_refused, 1);
	gate_challenge_headers(&w.conf, SITE_AUTH_BASIC, true, buf, sizeof(buf));
	assert_string_equal(buf,
			    "WWW-Authenticate: Basic realm=\"authgate\", charset=\"UTF-8\"\r\n");
	/* tls_only: refused over plain HTTP whatever the site's auth, never over TLS */
	memset(&open_site, 0, sizeof(open_site));
	assert_false(gate_tls_refused(&open_site, false, &w.st));
	assert_false(gate_tls_refused(NULL, false, &w.st));
	open_site.tls_only = true;
	assert_false(gate_tls_refused(&open_site, true, &w.st));
	assert_true(gate_tls_refused(&open_site, false, &w.st));
	assert_int_equal(w.st.tls_required, 1);
}

/* extended_protection reaches the control plane as job flags, over TLS and for GSS only. */
static void
test_extended_protection_flags(void **state)
{
	struct world w;
	struct gate_decision d;

	(void)state;
	world_init(&w);
	/* require over plain HTTP: no client has bindings there, so the validation fails */
	w.site.extended_protection = SITE_EP_REQUIRE;
	assert_int_equal(request(&w, ALL, "Negotiate YIIabc", &d), GATE_PARK);
	assert_int_equal(d.job_flags & AUTHSVC_JOB_CB_REQUIRE, AUTHSVC_JOB_CB_REQUIRE);
	w.site.extended_protection = SITE_EP_ALLOW;
	assert_int_equal(request(&w, ALL, "Negotiate YIIabc", &d), GATE_PARK);
	assert_int_equal(d.job_flags & (AUTHSVC_JOB_CB_ALLOW | AUTHSVC_JOB_CB_REQUIRE), 0);
	w.site.extended_protection = SITE_EP_REQUIRE;
	w.env.tls = true;
	assert_int_equal(request(&w, ALL, "Negotiate YIIabc", &d), GATE_PARK);
	assert_int_equal(d.job_flags & AUTHSVC_JOB_CB_REQUIRE, AUTHSVC_JOB_CB_REQUIRE);
	assert_int_equal(request(&w, ALL, "NTLM TlRMTVNTUAAB", &d), GATE_PARK);
	assert_int_equal(d.job_flags & AUTHSVC_JOB_CB_REQUIRE, AUTHSVC_JOB_CB_REQUIRE);
	w.site.extended_protection = SITE_EP_ALLOW;
	assert_int_equal(request(&w, ALL, "Negotiate YIIabc", &d), GATE_PARK);
	assert_int_equal(d.job_flags & (AUTHSVC_JOB_CB_ALLOW | AUTHSVC_JOB_CB_REQUIRE),
			 AUTHSVC_JOB_CB_ALLOW);
	assert_int_equal(request(&w, ALL, "Basic dXNlcjpwdw==", &d), GATE_PARK);
	assert_int_equal(d.job_flags & (AUTHSVC_JOB_CB_ALLOW | AUTHSVC_JOB_CB_REQUIRE), 0);
	w.site.extended_protection = SITE_EP_OFF;
	assert_int_equal(request(&w, ALL, "Negotiate YIIabc", &d), GATE_PARK);
	assert_int_equal(d.job_flags & (AUTHSVC_JOB_CB_ALLOW | AUTHSVC_JOB_CB_REQUIRE), 0);
}

static void
test_credentials_park(void **state)
{
	struct world w;
	struct gate_decision d;

	(void)state;
	world_init(&w);
	assert_int_equal(request(&w, ALL, "negotiate YIIabc", &d), GATE_PARK);
	assert_int_equal(d.scheme, AUTHSVC_SCHEME_NEGOTIATE);
	assert_int_equal(d.token_off, strlen("Negotiate "));
	assert_int_equal(request(&w, ALL, "NTLM TlRMTVNTUAAB", &d), GATE_PARK);
	assert_int_equal(d.scheme, AUTHSVC_SCHEME_NTLM);
}

/* persist_non_ntlm on (the default): one Kerberos exchange, then the connection is trusted. */
static void
test_kerberos_persists(void **state)
{
	struct world w;
	struct gate_decision d;

	(void)state;
	world_init(&w);
	authenticate_krb5(&w, &d);
	assert_int_equal(d.action, GATE_SERVE);
	assert_true(d.persist);
	assert_true(w.flow.authed);
	assert_int_equal(w.st.persisted_flows, 1);
	gate_request_done(&w.conf, &w.flow, &w.st);
	/* the next request needs no token: served as persisted ("Persistent-Auth: true") */
	assert_int_equal(request(&w, SITE_AUTH_NEGOTIATE, NULL, &d), GATE_SERVE);
	assert_true(d.persisted);
	/* the same header again is no news either */
	assert_int_equal(request(&w, SITE_AUTH_NEGOTIATE, "Negotiate YIIabc", &d), GATE_SERVE);
	assert_true(d.persisted);
	assert_int_equal(w.st.persisted_hits, 2);
	assert_string_equal(w.flow.principal, "user1@AUTHGATE.TEST");
}

/* persist_non_ntlm off: every request must carry a token; Persistent-Auth: false. */
static void
test_kerberos_no_persist(void **state)
{
	struct world w;
	struct gate_decision d;

	(void)state;
	world_init(&w);
	w.conf.persist_non_ntlm = false;
	authenticate_krb5(&w, &d);
	assert_int_equal(d.action, GATE_SERVE);
	assert_false(d.persist);
	assert_false(w.flow.authed);
	assert_int_equal(w.st.persisted_flows, 0);
	gate_request_done(&w.conf, &w.flow, &w.st);
	assert_string_equal(w.flow.principal, "");
	assert_int_equal(request(&w, SITE_AUTH_NEGOTIATE, NULL, &d), GATE_CHALLENGE);
	assert_int_equal(request(&w, SITE_AUTH_NEGOTIATE, "Negotiate YIIabc", &d), GATE_PARK);
}

/* NTLM is connection-based by design: it persists with persist_non_ntlm off too. */
static void
test_ntlm_connection_based(void **state)
{
	struct world w;
	struct gate_decision d;
	struct authsvc_verdict v;

	(void)state;
	world_init(&w);
	w.conf.persist_non_ntlm = false;
	assert_true(gate_persists(&w.conf, TRUST_MECH_NTLM));
	assert_false(gate_persists(&w.conf, TRUST_MECH_KRB5));
	/* the Type 2 challenge: a 401 carrying it, on a connection kept open, no failure */
	memset(&v, 0, sizeof(v));
	v.status = 401;
	v.cont = 1;
	v.scheme = AUTHSVC_SCHEME_NTLM;
	v.mech = TRUST_MECH_NTLM;
	v.reply_len = 4;
	memcpy(v.reply, "NTLM", 4);
	gate_verdict(&w.conf, &w.flow, &w.site, &v, &w.env, &w.st, &d);
	assert_int_equal(d.action, GATE_CHALLENGE);
	assert_true(d.reply);
	assert_false(d.close);
	assert_int_equal(w.flow.failures, 0);
	assert_int_equal(w.st.ntlm_challenges, 1);
	/* the Type 3 accepted: the flow stays authenticated */
	verdict_ok(&w, TRUST_MECH_NTLM, AUTHSVC_SCHEME_NTLM, 0, &d);
	assert_int_equal(d.action, GATE_SERVE);
	assert_true(d.persist);
	assert_true(w.flow.authed);
	gate_request_done(&w.conf, &w.flow, &w.st);
	assert_int_equal(request(&w, SITE_AUTH_NTLM, NULL, &d), GATE_SERVE);
}

/* persist_single_request: authentication is forgotten after every request, NTLM included. */
static void
test_single_request(void **state)
{
	struct world w;
	struct gate_decision d;

	(void)state;
	world_init(&w);
	w.conf.persist_single_request = true;
	assert_false(gate_persists(&w.conf, TRUST_MECH_NTLM));
	assert_false(gate_persists(&w.conf, TRUST_MECH_KRB5));
	verdict_ok(&w, TRUST_MECH_NTLM, AUTHSVC_SCHEME_NTLM, 0, &d);
	assert_false(d.persist);
	gate_request_done(&w.conf, &w.flow, &w.st);
	assert_false(w.flow.authed);
	assert_int_equal(request(&w, SITE_AUTH_NTLM, NULL, &d), GATE_CHALLENGE);
	/* and a flow that was authenticated before the setting is forgotten after its request */
	w.flow.authed = true;
	w.st.persisted_flows = 1;
	gate_request_done(&w.conf, &w.flow, &w.st);
	assert_false(w.flow.authed);
	assert_int_equal(w.st.persisted_flows, 0);
}

/* Basic is never bound to the connection, and is refused over plain HTTP unless allowed. */
static void
test_basic(void **state)
{
	struct world w;
	struct gate_decision d;

	(void)state;
	world_init(&w);
	assert_int_equal(request(&w, SITE_AUTH_BASIC, "Basic dXNlcjE6cHc=", &d), GATE_CHALLENGE);
	assert_int_equal(w.st.basic_refused, 1);
	w.conf.allow_basic_over_http = true;
	assert_int_equal(request(&w, SITE_AUTH_BASIC, "Basic dXNlcjE6cHc=", &d), GATE_PARK);
	assert_int_equal(d.scheme, AUTHSVC_SCHEME_BASIC);
	verdict_ok(&w, TRUST_MECH_BASIC, AUTHSVC_SCHEME_BASIC, NOW + 3600, &d);
	assert_int_equal(d.action, GATE_SERVE);
	assert_false(d.persist);
	assert_false(gate_persists(&w.conf, TRUST_MECH_BASIC));
	gate_request_done(&w.conf, &w.flow, &w.st);
	assert_false(w.flow.authed);
	assert_int_equal(request(&w, SITE_AUTH_BASIC, NULL, &d), GATE_CHALLENGE);
}

/* Other credentials on an authenticated flow drop the persisted identity and start afresh. */
static void
test_identity_change(void **state)
{
	struct world w;
	struct gate_decision d;

	(void)state;
	world_init(&w);
	authenticate_krb5(&w, &d);
	gate_request_done(&w.conf, &w.flow, &w.st);
	assert_int_equal(request(&w, SITE_AUTH_NEGOTIATE, "Negotiate YIIother", &d), GATE_PARK);
	assert_false(w.flow.authed);
	assert_string_equal(w.flow.principal, "");
	assert_int_equal(w.st.identity_changes, 1);
	assert_int_equal(w.st.persisted_flows, 0);
}

/* Persisted authentication ends when the ticket ends... */
static void
test_ticket_end(void **state)
{
	struct world w;
	struct gate_decision d;

	(void)state;
	world_init(&w);
	authenticate_krb5(&w, &d);
	gate_request_done(&w.conf, &w.flow, &w.st);
	assert_int_equal(w.flow.auth_expires, NOW + 3600);
	w.env.now_s = NOW + 3599;
	assert_int_equal(request(&w, SITE_AUTH_NEGOTIATE, NULL, &d), GATE_SERVE);
	w.env.now_s = NOW + 3600;
	assert_int_equal(request(&w, SITE_AUTH_NEGOTIATE, NULL, &d), GATE_CHALLENGE);
	assert_int_equal(w.st.expired_sessions, 1);
	assert_false(w.flow.authed);
}

/* ...at the maximum session age when the ticket lasts longer... */
static void
test_max_session_age(void **state)
{
	struct world w;
	struct gate_decision d;

	(void)state;
	world_init(&w);
	w.conf.max_session_age_s = 600;
	authenticate_krb5(&w, &d);
	gate_request_done(&w.conf, &w.flow, &w.st);
	assert_int_equal(w.flow.auth_expires, NOW + 600);
	w.env.now_s = NOW + 600;
	assert_int_equal(request(&w, SITE_AUTH_NEGOTIATE, NULL, &d), GATE_CHALLENGE);
	assert_int_equal(w.st.expired_sessions, 1);
}

/* ...or when an operator revokes the principal: 403 until the revocation ends, fresh tickets too.
 */
static void
test_revocation(void **state)
{
	struct world w;
	struct gate_decision d;

	(void)state;
	world_init(&w);
	authenticate_krb5(&w, &d);
	gate_request_done(&w.conf, &w.flow, &w.st);
	/* another principal revoked: the epoch moves, this flow is checked and stays */
	revoked_principal = "user2@AUTHGATE.TEST";
	w.env.revoke_epoch = 2;
	assert_int_equal(request(&w, SITE_AUTH_NEGOTIATE, NULL, &d), GATE_SERVE);
	revoked_principal = "user1@AUTHGATE.TEST";
	w.env.revoke_epoch = 3;
	assert_int_equal(request(&w, SITE_AUTH_NEGOTIATE, NULL, &d), GATE_DENY);
	assert_int_equal(d.status, 403);
	assert_int_equal(d.deny, GATE_DENY_REVOKED);
	assert_int_equal(w.st.forbidden_revoked, 1);
	assert_false(w.flow.authed);
	/* a fresh, valid ticket of the revoked principal: refused too, and not persisted */
	authenticate_krb5(&w, &d);
	assert_int_equal(d.action, GATE_DENY);
	assert_false(w.flow.authed);
	assert_int_equal(w.st.persisted_flows, 0);
	/* the revocation over: served again */
	revoked_principal = NULL;
	w.env.revoke_epoch = 4;
	authenticate_krb5(&w, &d);
	assert_int_equal(d.action, GATE_SERVE);
	/* case: an MIT realm's names are exact, an AD realm's (ignore_case) are not */
	revoked_principal = "USER1@AUTHGATE.TEST";
	w.env.revoke_epoch = 5;
	gate_request_done(&w.conf, &w.flow, &w.st);
	assert_int_equal(request(&w, SITE_AUTH_NEGOTIATE, NULL, &d), GATE_SERVE);
	w.flow.ignore_case = true;
	w.env.revoke_epoch = 6;
	assert_int_equal(request(&w, SITE_AUTH_NEGOTIATE, NULL, &d), GATE_DENY);
}

/* The site's rules decide who, once the gate knows who: 403, not 401 (no prompt). */
static void
test_authorization_rules(void **state)
{
	struct world w;
	struct gate_decision d;

	(void)state;
	world_init(&w);
	w.site.auth = SITE_AUTH_NEGOTIATE;
	strcpy(w.site.require_user, "user2@AUTHGATE.TEST, user1@AUTHGATE.TEST");
	authenticate_krb5(&w, &d);
	assert_int_equal(d.action, GATE_SERVE);
	strcpy(w.site.require_user, "user2@AUTHGATE.TEST");
	assert_int_equal(request(&w, SITE_AUTH_NEGOTIATE, NULL, &d), GATE_DENY);
	assert_int_equal(d.deny, GATE_DENY_USER);
	assert_true(w.flow.authed); /* who it is stays known: another site may take it */
	w.site.require_user[0] = '\0';
	strcpy(w.site.require_realm, "OTHER.TEST");
	assert_int_equal(request(&w, SITE_AUTH_NEGOTIATE, NULL, &d), GATE_DENY);
	assert_int_equal(d.deny, GATE_DENY_REALM);
	strcpy(w.site.require_realm, "OTHER.TEST authgate.test");
	assert_int_equal(request(&w, SITE_AUTH_NEGOTIATE, NULL, &d), GATE_SERVE);
	/* groups: the verdict's bits against the site's */
	w.site.group_mask = 1ull << 3;
	assert_int_equal(request(&w, SITE_AUTH_NEGOTIATE, NULL, &d), GATE_DENY);
	assert_int_equal(d.deny, GATE_DENY_GROUP);
	w.flow.groups = (1ull << 3) | 1;
	assert_int_equal(request(&w, SITE_AUTH_NEGOTIATE, NULL, &d), GATE_SERVE);
	assert_int_equal(w.st.forbidden_user, 1);
	assert_int_equal(w.st.forbidden_realm, 1);
	assert_int_equal(w.st.forbidden_group, 1);
	/* a verdict for a user the site refuses: 403 at once */
	strcpy(w.site.require_user, "nobody@AUTHGATE.TEST");
	gate_forget(&w.flow, &w.st);
	authenticate_krb5(&w, &d);
	assert_int_equal(d.action, GATE_DENY);
	assert_int_equal(d.deny, GATE_DENY_USER);
}

/* A persisted identity is bound to how it was obtained: mechanism and the site's auth set. */
static void
test_identity_bound_to_mechanism(void **state)
{
	struct world w;
	struct gate_decision d;

	(void)state;
	world_init(&w);
	verdict_ok(&w, TRUST_MECH_NTLM, AUTHSVC_SCHEME_NTLM, 0, &d);
	assert_true(w.flow.authed);
	gate_request_done(&w.conf, &w.flow, &w.st);
	/* an NTLM flow on a Kerberos-only site: not served, authenticated afresh */
	assert_int_equal(request(&w, SITE_AUTH_KERBEROS, NULL, &d), GATE_CHALLENGE);
	assert_false(w.flow.authed);
	assert_int_equal(w.st.mech_mismatch, 1);
	/* a Kerberos-only site takes Negotiate, and tells the control plane to refuse NTLMSSP */
	assert_int_equal(request(&w, SITE_AUTH_KERBEROS, "Negotiate TlRMTVNTUAAB", &d), GATE_PARK);
	assert_true(d.job_flags & AUTHSVC_JOB_KRB5_ONLY);
	assert_int_equal(request(&w, SITE_AUTH_NEGOTIATE, "Negotiate TlRMTVNTUAAB", &d), GATE_PARK);
	assert_false(d.job_flags & AUTHSVC_JOB_KRB5_ONLY);
	/* an NTLM verdict that reaches a Kerberos-only site anyway is a failure */
	w.site.auth = SITE_AUTH_KERBEROS;
	verdict_ok(&w, TRUST_MECH_NTLM, AUTHSVC_SCHEME_NEGOTIATE, 0, &d);
	assert_int_equal(d.action, GATE_CHALLENGE);
	assert_false(w.flow.authed);
	/* Kerberos persisted on a Negotiate site is good on a Kerberos-only one */
	authenticate_krb5(&w, &d);
	gate_request_done(&w.conf, &w.flow, &w.st);
	assert_int_equal(request(&w, SITE_AUTH_KERBEROS, NULL, &d), GATE_SERVE);
	/* and never on a Basic-only site */
	assert_int_equal(request(&w, SITE_AUTH_BASIC, NULL, &d), GATE_CHALLENGE);
}

/* A trust that cannot validate in time is 503 (Retry-After), never a 401 that re-prompts. */
static void
test_busy_is_503(void **state)
{
	struct world w;
	struct gate_decision d;
	struct authsvc_verdict v;

	(void)state;
	world_init(&w);
	memset(&v, 0, sizeof(v));
	v.status = 503;
	v.reason = KW_ERR_BUSY_TIMEOUT;
	gate_verdict(&w.conf, &w.flow, &w.site, &v, &w.env, &w.st, &d);
	assert_int_equal(d.action, GATE_REFUSE);
	assert_int_equal(d.status, 503);
	assert_int_equal(w.st.auth_busy, 1);
	assert_int_equal(w.flow.failures, 0);
	assert_int_equal(w.st.challenges, 0);
}

/* Failed validations are counted per connection; the last one allowed closes it. */
static void
test_failures_close(void **state)
{
	struct world w;
	struct gate_decision d;
	struct authsvc_verdict v;

	(void)state;
	world_init(&w);
	w.conf.max_auth_failures = 3;
	memset(&v, 0, sizeof(v));
	v.status = 401;
	v.scheme = AUTHSVC_SCHEME_NEGOTIATE;
	for (int i = 1; i <= 2; i++) {
		gate_verdict(&w.conf, &w.flow, &w.site, &v, &w.env, &w.st, &d);
		assert_int_equal(d.action, GATE_CHALLENGE);
		assert_false(d.close);
	}
	/* a token that is not base64 counts too */
	gate_bad_token(&w.conf, &w.flow, &w.st, &d);
	assert_int_equal(d.action, GATE_CHALLENGE);
	assert_true(d.close);
	assert_int_equal(w.st.bad_tokens, 1);
	assert_int_equal(w.st.auth_failed, 2);
	/* a success clears the count */
	verdict_ok(&w, TRUST_MECH_KRB5, AUTHSVC_SCHEME_NEGOTIATE, NOW + 60, &d);
	assert_int_equal(w.flow.failures, 0);
}

/* Kerberos mutual auth: the AP-REP goes back; a verdict without one leaves no stale header. */
static void
test_reply_header(void **state)
{
	struct authsvc_verdict v;
	char buf[64];

	(void)state;
	memset(&v, 0, sizeof(v));
	v.scheme = AUTHSVC_SCHEME_NEGOTIATE;
	v.reply_len = 3;
	memcpy(v.reply, "abc", 3);
	assert_int_equal(gate_reply_header(&v, buf, sizeof(buf)), 34);
	assert_string_equal(buf, "WWW-Authenticate: Negotiate YWJj\r\n");
	v.reply_len = 0;
	assert_int_equal(gate_reply_header(&v, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");
	/* too long for the buffer: nothing, not half a header */
	v.reply_len = 60;
	assert_int_equal(gate_reply_header(&v, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");
}

/* One site lookup: the longest prefix decides; "/secure" and "/secure/" are the same site. */
static void
test_site_selection(void **state)
{
	struct world w;

	(void)state;
	world_init(&w);
	strcpy(w.conf.sites[0].prefix, "/pkg");
	w.conf.sites[0].auth = SITE_AUTH_NONE;
	strcpy(w.conf.sites[1].prefix, "/pkg/secure/");
	w.conf.sites[1].auth = SITE_AUTH_NEGOTIATE;
	strcpy(w.conf.sites[2].prefix, "/");
	w.conf.sites[2].auth = SITE_AUTH_BASIC;
	w.conf.nb_sites = 3;
	assert_int_equal(gate_site(&w.conf, "/pkg/a.bin", 10), 0);
	assert_int_equal(gate_site_auth(&w.conf, "/pkg/secure/a.bin", 17), SITE_AUTH_NEGOTIATE);
	/* the prefix without its slash, and dot segments that lead into it */
	assert_int_equal(gate_site_auth(&w.conf, "/pkg/secure", 11), SITE_AUTH_NEGOTIATE);
	assert_int_equal(gate_site_auth(&w.conf, "/pkg/./secure//a", 16), SITE_AUTH_NEGOTIATE);
	/* ".." is refused by the normaliser: no site, and the content store refuses it too */
	assert_int_equal(gate_site(&w.conf, "/pkg/x/../secure/a", 18), -1);
	assert_int_equal(gate_site_auth(&w.conf, "/pkg/%73ecure/a", 15), SITE_AUTH_NEGOTIATE);
	/* a prefix is a path segment, not a string prefix */
	assert_int_equal(gate_site(&w.conf, "/pkgs/a", 7), 2);
	assert_int_equal(gate_site(&w.conf, "/other", 6), 2);
	/* the store gets the path the gate chose the site by, decoded and collapsed */
	{
		char path[64];
		size_t plen = 99;

		assert_ptr_equal(gate_site_path(&w.conf, "/pkg/./%73ecure//a?x=1", 22, path,
						sizeof(path), &plen),
				 &w.conf.sites[1]);
		assert_int_equal(plen, 13);
		assert_string_equal(path, "/pkg/secure/a");
		assert_null(gate_site_path(&w.conf, "/pkg/x/../secure/a", 18, path, sizeof(path),
					   &plen));
		assert_int_equal(plen, 0);
		/* too long for the buffer: no path, no site (the store answers 414 itself) */
		assert_null(gate_site_path(&w.conf, "/pkg/secure/a", 13, path, 8, &plen));
		assert_int_equal(plen, 0);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_credentials_challenge),
		cmocka_unit_test(test_credentials_park),
		cmocka_unit_test(test_kerberos_persists),
		cmocka_unit_test(test_kerberos_no_persist),
		cmocka_unit_test(test_ntlm_connection_based),
		cmocka_unit_test(test_single_request),
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_identity_change),
		cmocka_unit_test(test_ticket_end),
		cmocka_unit_test(test_max_session_age),
		cmocka_unit_test(test_revocation),
		cmocka_unit_test(test_authorization_rules),
		cmocka_unit_test(test_identity_bound_to_mechanism),
		cmocka_unit_test(test_busy_is_503),
		cmocka_unit_test(test_failures_close),
		cmocka_unit_test(test_reply_header),
		cmocka_unit_test(test_site_selection),
		cmocka_unit_test(test_tls_rules),
		cmocka_unit_test(test_extended_protection_flags),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
