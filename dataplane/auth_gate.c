/* The auth gate's decisions, its [site]/[auth] keys and the headers it owes a client. */
#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "dataplane/auth_gate.h"
#include "dataplane/b64.h"
#include "dataplane/http/path.h"

static const char *const site_auth_choices[] = {"none",	 "negotiate", "ntlm",
						"basic", "kerberos",  NULL};

static const char *const site_ep_choices[] = {"off", "allow", "require", NULL};

static const struct ini_key site_keys[] = {
	INI_S(site_conf, root, INI_STRING, ""),
	{"auth", INI_FLAGS, offsetof(struct site_conf, auth), sizeof(uint32_t), 0, 0, "none",
	 site_auth_choices, 0, 0},
	INI_S(site_conf, require_user, INI_STRING, ""),
	INI_S(site_conf, require_realm, INI_STRING, ""),
	INI_S(site_conf, require_group, INI_STRING, ""),
	INI_B(site_conf, tls_only, "no"),
	INI_E(site_conf, extended_protection, site_ep_choices, "off"),
	INI_S(site_conf, upstream, INI_STRING, ""),
	INI_S(site_conf, upstream_prefix, INI_STRING, ""),
	INI_U(site_conf, connect_timeout_ms, 10, 600000, "5000"),
	INI_U(site_conf, response_timeout_s, 1, 86400, "60"),
	INI_U(site_conf, max_idle_upstream, 0, 65536, "64"),
	INI_U(site_conf, max_upstream_conns, 1, 65536, "256"),
	INI_U(site_conf, upstream_max_fails, 1, 1000, "5"),
	INI_U(site_conf, upstream_down_s, 1, 3600, "10"),
	INI_S(site_conf, identity_header, INI_STRING, "X-Remote-User"),
	INI_B(site_conf, forward_authorization, "no"),
	INI_END,
};

#define LIST_SEP  " \t,"
#define GROUP_SEP " \t,"

/* Is word (len bytes) one of the words of list? */
static bool
list_has(const char *list, const char *word, size_t len, bool ignore_case)
{
	const char *p = list;

	while (*p != '\0') {
		size_t n;

		p += strspn(p, LIST_SEP);
		n = strcspn(p, LIST_SEP);
		if (n > 0 && n == len &&
		    (ignore_case ? strncasecmp(p, word, n) == 0 : memcmp(p, word, n) == 0))
			return true;
		p += n;
	}
	return false;
}

/*
 * Each require_group entry gets a bit, the same entry in two sites the same bit; the control
 * plane learns the table and answers each verdict with the bits of the user's groups.
 */
static void
gate_groups(struct ini_ctx *ctx, struct gate_conf *c)
{
	char sec[192];

	c->nb_groups = 0;
	for (unsigned int i = 0; i < c->nb_sites; i++) {
		struct site_conf *site = &c->sites[i];
		const char *p = site->require_group;

		site->group_mask = 0;
		snprintf(sec, sizeof(sec), "site %s", site->prefix);
		while (*p != '\0') {
			size_t n;
			unsigned int g;

			/* group names hold blanks ("Domain Users"): only commas part them */
			p += strspn(p, GROUP_SEP);
			n = strcspn(p, ",");
			while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
				n--;
			if (n == 0)
				break;
			for (g = 0; g < c->nb_groups; g++)
				if (strlen(c->groups[g]) == n &&
				    strncasecmp(c->groups[g], p, n) == 0)
					break;
			if (n >= AUTHSVC_GROUP_MAX) {
				ini_error(ctx, ini_line(ctx, sec, "require_group"), sec,
					  "require_group", "'%.*s' is longer than %d characters",
					  (int)n, p, AUTHSVC_GROUP_MAX - 1);
			} else if (g == c->nb_groups && g == AUTHSVC_MAX_GROUPS) {
				ini_error(ctx, ini_line(ctx, sec, "require_group"), sec,
					  "require_group",
					  "more than %d distinct groups in all sites",
					  AUTHSVC_MAX_GROUPS);
			} else {
				if (g == c->nb_groups)
					snprintf(c->groups[c->nb_groups++], AUTHSVC_GROUP_MAX,
						 "%.*s", (int)n, p);
				site->group_mask |= 1ull << g;
			}
			p += n;
			p += strcspn(p, ","); /* the blanks trimmed off the entry */
		}
	}
}

static const struct ini_key auth_keys[] = {
	INI_B(gate_conf, persist_non_ntlm, "yes"),
	INI_B(gate_conf, persist_single_request, "no"),
	INI_U(gate_conf, max_session_age_s, 1, 7 * 86400, "36000"),
	INI_U(gate_conf, max_auth_failures, 1, 1000, "5"),
	INI_U(gate_conf, retry_after_s, 1, 3600, "5"),
	INI_U(gate_conf, max_token_bytes, 1024, 65536, "49152"),
	INI_B(gate_conf, allow_basic_over_http, "no"),
	INI_END,
};

/* A prefix without its trailing slashes ("/" stays "/"): how site_select compares them. */
static size_t
prefix_len(const char *p)
{
	size_t n = strlen(p);

	while (n > 1 && p[n - 1] == '/')
		n--;
	return n;
}

static bool
header_name_ok(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if (!(isalnum((unsigned char)*s) || strchr("!#$%&'*+-.^_`|~", *s) != NULL))
			return false;
	return true;
}

/*
 * A proxied site: upstream and root exclude each other, the list resolves now, the identity
 * header is a field name. True when the site is proxied (root is then not looked at).
 */
static bool
gate_check_upstream(struct ini_ctx *ctx, const char *sec, struct site_conf *site)
{
	char err[SITE_RULE_MAX + 64];
	int n;

	site->nb_upstreams = 0;
	if (site->upstream[0] == '\0') {
		if (site->upstream_prefix[0] != '\0')
			ini_error(ctx, ini_line(ctx, sec, "upstream_prefix"), sec,
				  "upstream_prefix", "only a site with upstream may have it");
		return false;
	}
	if (site->root[0] != '\0')
		ini_error(ctx, ini_line(ctx, sec, "root"), sec, "root",
			  "a site has either root or upstream, not both");
	n = site_upstreams_parse(site->upstream, site->upstreams, SITE_UPSTREAM_MAX, err,
				 sizeof(err));
	if (n < 0)
		ini_error(ctx, ini_line(ctx, sec, "upstream"), sec, "upstream", "%s", err);
	else
		site->nb_upstreams = (unsigned int)n;
	if (site->upstream_prefix[0] != '\0' && site->upstream_prefix[0] != '/')
		ini_error(ctx, ini_line(ctx, sec, "upstream_prefix"), sec, "upstream_prefix",
			  "'%s' does not start with /", site->upstream_prefix);
	if (!header_name_ok(site->identity_header))
		ini_error(ctx, ini_line(ctx, sec, "identity_header"), sec, "identity_header",
			  "'%s' is not a header field name", site->identity_header);
	return true;
}

/* A site's root must be a directory that exists now; two sections may not name one site. */
static void
gate_check(struct ini_ctx *ctx, void *conf)
{
	struct gate_conf *c = conf;
	char sec[192], other[192];

	for (unsigned int i = 0; i < c->nb_sites; i++) {
		const struct site_conf *site = &c->sites[i];
		size_t n = prefix_len(site->prefix);
		struct stat st;

		snprintf(sec, sizeof(sec), "site %s", site->prefix);
		for (unsigned int j = 0; j < i; j++) {
			if (prefix_len(c->sites[j].prefix) != n ||
			    memcmp(c->sites[j].prefix, site->prefix, n) != 0)
				continue;
			snprintf(other, sizeof(other), "site %s", c->sites[j].prefix);
			ini_error(ctx, ini_line(ctx, sec, NULL), sec, NULL,
				  "the same site as [%s] (line %u)", other,
				  ini_line(ctx, other, NULL));
		}
		if (gate_check_upstream(ctx, sec, &c->sites[i]))
			continue;
		if (site->root[0] == '\0')
			ini_error(ctx, ini_line(ctx, sec, NULL), sec, "root",
				  "required key is missing");
		else if (site->root[0] != '/')
			ini_error(ctx, ini_line(ctx, sec, "root"), sec, "root",
				  "'%s' is not an absolute path", site->root);
		else if (stat(site->root, &st) != 0 || !S_ISDIR(st.st_mode))
			ini_error(ctx, ini_line(ctx, sec, "root"), sec, "root",
				  "'%s' is not a directory", site->root);
		if ((site->require_user[0] || site->require_realm[0] || site->require_group[0]) &&
		    site->auth == SITE_AUTH_NONE)
			ini_error(ctx, ini_line(ctx, sec, "auth"), sec, "auth",
				  "a site with require_* rules must ask for authentication");
	}
	gate_groups(ctx, c);
}

const struct ini_section gate_conf_sections[2] = {
	{
		.name = "site",
		.keys = site_keys,
		.off = offsetof(struct gate_conf, sites),
		.named = true,
		.name_is_path = true,
		.stride = sizeof(struct site_conf),
		.max = GATE_MAX_SITES,
		.count_off = offsetof(struct gate_conf, nb_sites),
		.name_off = offsetof(struct site_conf, prefix),
		.name_size = SITE_PREFIX_MAX,
		.check = gate_check,
	},
	{
		.name = "auth",
		.keys = auth_keys,
	},
};

const char *
gate_action_str(enum gate_action a)
{
	static const char *const names[] = {"serve", "challenge", "park", "refuse", "deny"};

	return (unsigned int)a < sizeof(names) / sizeof(names[0]) ? names[a] : "?";
}

static int
gate_site_in(const struct gate_conf *c, const char *target, size_t len, char *path, size_t size,
	     size_t *plen_out)
{
	*plen_out = 0;
	if (path_normalize(target, len, path, size, plen_out) < 0) {
		*plen_out = 0;
		return -1;
	}
	return site_select(c->sites, c->nb_sites, path, *plen_out, NULL);
}

int
gate_site(const struct gate_conf *c, const char *target, size_t len)
{
	char path[4096];
	size_t plen;

	return gate_site_in(c, target, len, path, sizeof(path), &plen);
}

const struct site_conf *
gate_site_path(const struct gate_conf *c, const char *target, size_t len, char *path, size_t size,
	       size_t *plen_out)
{
	int i = gate_site_in(c, target, len, path, size, plen_out);

	return i < 0 ? NULL : &c->sites[i];
}

const struct site_conf *
gate_site_for(const struct gate_conf *c, const char *target, size_t len)
{
	int i = gate_site(c, target, len);

	return i < 0 ? NULL : &c->sites[i];
}

uint32_t
gate_site_auth(const struct gate_conf *c, const char *target, size_t len)
{
	int i = gate_site(c, target, len);

	/* a target that does not normalise needs nothing: the content store refuses it */
	return i < 0 ? SITE_AUTH_NONE : c->sites[i].auth;
}

bool
gate_mech_admitted(uint32_t schemes, enum trust_mech mech)
{
	switch (mech) {
	case TRUST_MECH_KRB5:
		return (schemes & (SITE_AUTH_NEGOTIATE | SITE_AUTH_KERBEROS)) != 0;
	case TRUST_MECH_NTLM:
		/* raw NTLM, or NTLMSSP inside Negotiate; never on a Kerberos-only site */
		return (schemes & (SITE_AUTH_NTLM | SITE_AUTH_NEGOTIATE)) != 0;
	case TRUST_MECH_BASIC:
		return (schemes & SITE_AUTH_BASIC) != 0;
	default:
		return false;
	}
}

enum gate_deny
gate_authorize(const struct site_conf *site, const struct gate_flow *f)
{
	const char *at = strrchr(f->principal, '@');
	size_t ulen = strlen(f->principal);

	if (site->require_user[0] != '\0' &&
	    !list_has(site->require_user, f->principal, ulen, f->ignore_case))
		return GATE_DENY_USER;
	/* realms compare ignoring case: no two trusts differ only by it */
	if (site->require_realm[0] != '\0' &&
	    (at == NULL || !list_has(site->require_realm, at + 1, strlen(at + 1), true)))
		return GATE_DENY_REALM;
	if (site->group_mask != 0 && (site->group_mask & f->groups) == 0)
		return GATE_DENY_GROUP;
	return GATE_ALLOW;
}

static void deny(struct gate_stats *st, struct gate_decision *d, enum gate_deny why);

bool
gate_persists(const struct gate_conf *c, enum trust_mech mech)
{
	if (c->persist_single_request)
		return false;
	return mech == TRUST_MECH_NTLM || (mech == TRUST_MECH_KRB5 && c->persist_non_ntlm);
}

void
gate_forget(struct gate_flow *f, struct gate_stats *st)
{
	if (f->authed)
		st->persisted_flows--;
	f->authed = false;
	f->principal[0] = '\0';
}

/* FNV-1a: tells "the same Authorization header again" from "another one", nothing more. */
static uint32_t
hash_view(const struct h1_view *v)
{
	uint32_t x = 2166136261u;

	for (size_t i = 0; i < v->len; i++)
		x = (x ^ (uint8_t)v->p[i]) * 16777619u;
	return x;
}

bool
gate_still_valid(struct gate_flow *f, const struct gate_env *env, struct gate_stats *st)
{
	if (!f->authed)
		return false;
	if (env->now_s >= f->auth_expires) {
		st->expired_sessions++;
		gate_forget(f, st);
		return false;
	}
	return true;
}

/* Revoked now? Asked on every verdict, and for a persisted flow when the epoch moved. */
static bool
revoked(struct gate_flow *f, const struct gate_env *env, bool fresh)
{
	if (!fresh && env->revoke_epoch == f->revoke_epoch)
		return false;
	f->revoke_epoch = env->revoke_epoch;
	return env->is_revoked != NULL && env->is_revoked(f->principal, f->ignore_case);
}

/* The scheme word of an Authorization header, if the site offers it; -1 otherwise. */
static int
authz_scheme(const struct h1_view *authz, uint32_t schemes, size_t *skip_out)
{
	static const struct {
		const char *word;
		uint32_t site_bit;
		int scheme;
	} words[] = {
		{"Negotiate ", SITE_AUTH_NEGOTIATE | SITE_AUTH_KERBEROS, AUTHSVC_SCHEME_NEGOTIATE},
		{"NTLM ", SITE_AUTH_NTLM, AUTHSVC_SCHEME_NTLM},
		{"Basic ", SITE_AUTH_BASIC, AUTHSVC_SCHEME_BASIC},
	};

	for (unsigned int i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		size_t n = strlen(words[i].word);

		if (authz->len > n && strncasecmp(authz->p, words[i].word, n) == 0 &&
		    (schemes & words[i].site_bit)) {
			*skip_out = n;
			return words[i].scheme;
		}
	}
	return -1;
}

static void
decide(struct gate_decision *d, enum gate_action a)
{
	memset(d, 0, sizeof(*d));
	d->action = a;
}

static void
challenge(struct gate_stats *st, struct gate_decision *d, bool close)
{
	decide(d, GATE_CHALLENGE);
	d->close = close;
	st->challenges++;
}

static void
deny(struct gate_stats *st, struct gate_decision *d, enum gate_deny why)
{
	decide(d, GATE_DENY);
	d->status = 403;
	d->deny = why;
	switch (why) {
	case GATE_DENY_USER:
		st->forbidden_user++;
		break;
	case GATE_DENY_REALM:
		st->forbidden_realm++;
		break;
	case GATE_DENY_GROUP:
		st->forbidden_group++;
		break;
	case GATE_DENY_REVOKED:
		st->forbidden_revoked++;
		break;
	case GATE_ALLOW:
		break;
	}
}

void
gate_request(const struct gate_conf *c, struct gate_flow *f, const struct site_conf *site,
	     const struct h1_view *authz, const struct gate_env *env, struct gate_stats *st,
	     struct gate_decision *d)
{
	uint32_t schemes = site->auth;
	size_t skip = 0;
	int scheme;

	if (gate_still_valid(f, env, st)) {
		if (revoked(f, env, false)) {
			gate_forget(f, st);
			deny(st, d, GATE_DENY_REVOKED);
			return;
		}
		if (!gate_mech_admitted(schemes, (enum trust_mech)f->mech)) {
			/* obtained for another kind of site (NTLM here on a Kerberos-only one) */
			st->mech_mismatch++;
			gate_forget(f, st);
		} else if (authz == NULL || hash_view(authz) == f->auth_hash) {
			/* the same credentials again are no news; the site's rules still hold */
			enum gate_deny why = gate_authorize(site, f);

			if (why != GATE_ALLOW) {
				deny(st, d, why);
				return;
			}
			st->persisted_hits++;
			decide(d, GATE_SERVE);
			d->persisted = true;
			return;
		} else {
			/* different credentials start afresh */
			st->identity_changes++;
			gate_forget(f, st);
		}
	}
	scheme = authz ? authz_scheme(authz, schemes, &skip) : -1;
	if (scheme < 0) {
		challenge(st, d, false);
		return;
	}
	if (scheme == AUTHSVC_SCHEME_BASIC && !env->tls && !c->allow_basic_over_http) {
		/* a password in the clear: refused, and not offered again */
		st->basic_refused++;
		challenge(st, d, false);
		return;
	}
	decide(d, GATE_PARK);
	d->scheme = scheme;
	d->token_off = skip;
	d->auth_hash = hash_view(authz);
	if (!(schemes & (SITE_AUTH_NEGOTIATE | SITE_AUTH_NTLM)))
		d->job_flags |= AUTHSVC_JOB_KRB5_ONLY;
	/*
	 * Channel bindings exist only over TLS. require asks for them over plain HTTP too,
	 * where no client can have them: a token relayed to the plain port is refused.
	 */
	if (scheme != AUTHSVC_SCHEME_BASIC) {
		if (site->extended_protection == SITE_EP_REQUIRE)
			d->job_flags |= AUTHSVC_JOB_CB_REQUIRE;
		else if (site->extended_protection == SITE_EP_ALLOW && env->tls)
			d->job_flags |= AUTHSVC_JOB_CB_ALLOW;
	}
}

bool
gate_tls_refused(const struct site_conf *site, bool tls, struct gate_stats *st)
{
	if (site == NULL || !site->tls_only || tls)
		return false;
	st->tls_required++;
	return true;
}

void
gate_bad_token(const struct gate_conf *c, struct gate_flow *f, struct gate_stats *st,
	       struct gate_decision *d)
{
	st->bad_tokens++;
	f->failures++;
	challenge(st, d, f->failures >= c->max_auth_failures);
}

void
gate_verdict(const struct gate_conf *c, struct gate_flow *f, const struct site_conf *site,
	     const struct authsvc_verdict *v, const struct gate_env *env, struct gate_stats *st,
	     struct gate_decision *d)
{
	if (v->status == 200 && gate_mech_admitted(site->auth, (enum trust_mech)v->mech)) {
		bool persist = gate_persists(c, (enum trust_mech)v->mech);
		enum gate_deny why;

		st->auth_ok++;
		snprintf(f->principal, sizeof(f->principal), "%s", v->principal);
		f->mech = v->mech;
		f->trust = v->trust;
		f->ignore_case = v->ignore_case != 0;
		f->groups = v->groups;
		f->auth_time = env->now_s;
		f->auth_expires = env->now_s + c->max_session_age_s;
		if (v->expires_at > 0 && v->expires_at < f->auth_expires)
			f->auth_expires = v->expires_at;
		f->failures = 0;
		/* a revoked principal is refused with a fresh ticket too, until it expires */
		if (revoked(f, env, true)) {
			f->principal[0] = '\0';
			deny(st, d, GATE_DENY_REVOKED);
			return;
		}
		if (persist) {
			f->authed = true;
			st->persisted_flows++;
		}
		why = gate_authorize(site, f);
		if (why != GATE_ALLOW) {
			/* who it is stays known (persisted); this site is not theirs */
			deny(st, d, why);
			d->persist = persist;
			return;
		}
		decide(d, GATE_SERVE);
		d->persist = persist;
		d->reply = v->reply_len > 0;
		return;
	}
	if (v->status == 403) {
		/* a valid ticket from a realm none of our trusts is: asking again will not help */
		deny(st, d, GATE_DENY_REALM);
		return;
	}
	if (v->status == 503) {
		st->auth_busy++;
		decide(d, GATE_REFUSE);
		d->status = 503;
		return;
	}
	if (v->cont && v->reply_len > 0 && v->scheme <= AUTHSVC_SCHEME_BASIC) {
		/* NTLM's Type 2: the client's Type 3 must come on this same connection */
		st->ntlm_challenges++;
		decide(d, GATE_CHALLENGE);
		d->reply = true;
		return;
	}
	st->auth_failed++;
	f->failures++;
	if (f->failures >= c->max_auth_failures)
		st->failure_closes++;
	challenge(st, d, f->failures >= c->max_auth_failures);
}

void
gate_request_done(const struct gate_conf *c, struct gate_flow *f, struct gate_stats *st)
{
	/* an identity that does not persist was the request's only: the log has seen it */
	if (!f->authed)
		f->principal[0] = '\0';
	if (c->persist_single_request)
		gate_forget(f, st);
}

int
gate_challenge_headers(const struct gate_conf *c, uint32_t schemes, bool tls, char *buf,
		       size_t size)
{
	int len = 0;

	buf[0] = '\0';
	if (schemes & (SITE_AUTH_NEGOTIATE | SITE_AUTH_KERBEROS))
		len += snprintf(buf + len, size - len, "WWW-Authenticate: Negotiate\r\n");
	if (schemes & SITE_AUTH_NTLM)
		len += snprintf(buf + len, size - len, "WWW-Authenticate: NTLM\r\n");
	if ((schemes & SITE_AUTH_BASIC) && (tls || c->allow_basic_over_http))
		len += snprintf(
			buf + len, size - len,
			"WWW-Authenticate: Basic realm=\"authgate\", charset=\"UTF-8\"\r\n");
	return len;
}

static const char *const scheme_words[] = {"Negotiate", "NTLM", "Basic"};

int
gate_reply_header(const struct authsvc_verdict *v, char *buf, size_t size)
{
	int len;
	long w;

	/* the caller's buffer may hold an earlier verdict's headers: never leave them there */
	buf[0] = '\0';
	if (v->reply_len == 0 || v->scheme >= sizeof(scheme_words) / sizeof(scheme_words[0]))
		return 0;
	len = snprintf(buf, size, "WWW-Authenticate: %s ", scheme_words[v->scheme]);
	w = b64_encode(v->reply, v->reply_len, buf + len, size - len);
	if (w < 0 || (size_t)(len + w + 2) >= size) {
		buf[0] = '\0';
		return 0;
	}
	len += (int)w;
	return len + snprintf(buf + len, size - len, "\r\n");
}
