/* Basic credentials: the "user:password" parser, the trust router, and the AS-exchange validator.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "control/basic.h"

static int
basic_has_ctl(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
			return 1;
	return 0;
}

int
basic_parse(const uint8_t *tok, size_t len, struct basic_view *view_out)
{
	const char *s = (const char *)tok, *colon, *sep;
	struct basic_view bv;

	if (tok == NULL || len == 0)
		return -EBADMSG;
	/* RFC 7617: the user-id holds no ':', so the first one ends it; the password may */
	colon = memchr(s, ':', len);
	if (colon == NULL)
		return -EBADMSG;
	memset(&bv, 0, sizeof(bv));
	bv.password = colon + 1;
	bv.password_len = len - (size_t)(colon + 1 - s);
	bv.user = s;
	bv.user_len = (size_t)(colon - s);
	/* an empty password would be an unauthenticated bind at some KDCs: never send one */
	if (bv.user_len == 0 || bv.user_len >= BASIC_USER_MAX || bv.password_len == 0 ||
	    bv.password_len >= BASIC_PASSWORD_MAX || basic_has_ctl(bv.user, bv.user_len) ||
	    basic_has_ctl(bv.password, bv.password_len))
		return -EBADMSG;
	sep = memchr(bv.user, '\\', bv.user_len);
	if (sep != NULL) {
		bv.form = BASIC_FORM_DOMAIN;
		bv.where = bv.user;
		bv.where_len = (size_t)(sep - bv.user);
		bv.user_len -= bv.where_len + 1;
		bv.user = sep + 1;
		if (memchr(bv.user, '\\', bv.user_len) != NULL || memchr(bv.user, '@', bv.user_len))
			return -EBADMSG;
	} else {
		/* the last '@': user names may hold one (UPN-style), realms never do */
		for (sep = bv.user + bv.user_len; sep > bv.user && sep[-1] != '@'; sep--)
			;
		if (sep > bv.user) {
			bv.form = BASIC_FORM_REALM;
			bv.where = sep;
			bv.where_len = bv.user_len - (size_t)(sep - bv.user);
			bv.user_len = (size_t)(sep - 1 - bv.user);
		}
	}
	if (bv.user_len == 0 || (bv.form != BASIC_FORM_BARE && bv.where_len == 0) ||
	    bv.where_len >= TRUST_NAME_MAX)
		return -EBADMSG;
	*view_out = bv;
	return 0;
}

int
basic_route(const struct trust_table *tt, const char *default_trust, const uint8_t *tok, size_t len,
	    struct basic_view *view_out, uint32_t *index_out)
{
	char upper[TRUST_NAME_MAX];
	struct basic_view bv;
	uint32_t index;
	size_t i;
	int ret;

	ret = basic_parse(tok, len, &bv);
	if (ret != 0)
		return ret;
	switch (bv.form) {
	case BASIC_FORM_REALM:
		ret = trust_lookup_for(tt, TRUST_MECH_BASIC, bv.where, bv.where_len, NULL, 0,
				       &index);
		if (ret == -ENOENT) {
			/* people type UPN suffixes in lower case; AD realms are the upper-case form
			 */
			for (i = 0; i < bv.where_len; i++)
				upper[i] = (char)toupper((unsigned char)bv.where[i]);
			ret = trust_lookup_for(tt, TRUST_MECH_BASIC, upper, bv.where_len, NULL, 0,
					       &index);
		}
		break;
	case BASIC_FORM_DOMAIN:
		ret = trust_lookup_for(tt, TRUST_MECH_BASIC, NULL, 0, bv.where, bv.where_len,
				       &index);
		break;
	case BASIC_FORM_BARE:
	default:
		if (default_trust == NULL || default_trust[0] == '\0')
			return -ENOENT;
		ret = trust_lookup_for(tt, TRUST_MECH_BASIC, default_trust, strlen(default_trust),
				       NULL, 0, &index);
		break;
	}
	if (ret != 0)
		return ret;
	*view_out = bv;
	*index_out = index;
	return 0;
}

static enum kw_reason
basic_map_error(krb5_error_code kerr)
{
	switch (kerr) {
	case KRB5KDC_ERR_PREAUTH_FAILED:
	case KRB5KRB_AP_ERR_BAD_INTEGRITY: /* no preauth: the reply did not decrypt */
		return KW_ERR_BAD_PASSWORD;
	case KRB5KDC_ERR_C_PRINCIPAL_UNKNOWN:
		return KW_ERR_CLIENT_UNKNOWN;
	case KRB5KDC_ERR_KEY_EXP:
		return KW_ERR_PASSWORD_EXPIRED;
	case KRB5KDC_ERR_CLIENT_REVOKED:
	case KRB5KDC_ERR_POLICY:
		return KW_ERR_ACCOUNT_DISABLED;
	case KRB5KRB_AP_ERR_SKEW:
		return KW_ERR_CLOCK_SKEW;
	case KRB5_KDC_UNREACH:
	case KRB5KDC_ERR_SVC_UNAVAILABLE:
		return KW_ERR_KDC_UNREACHABLE;
	default:
		return KW_ERR_INTERNAL;
	}
}

static void
basic_detail(krb5_context ctx, krb5_error_code kerr, const char *what, struct kw_verdict *v)
{
	const char *msg = krb5_get_error_message(ctx, kerr);

	snprintf(v->detail, sizeof(v->detail), "%s: %s", what, msg);
	krb5_free_error_message(ctx, msg);
}

/*
 * The service principal to verify against: krb5_verify_init_creds with none looks for
 * host/ keys, and a gateway's keytab holds HTTP/ ones. The first key of the trust's realm.
 */
static krb5_error_code
basic_keytab_server(krb5_context ctx, krb5_keytab kt, const char *realm, krb5_principal *server_out)
{
	krb5_keytab_entry ent;
	krb5_kt_cursor cur;
	krb5_error_code kerr;

	kerr = krb5_kt_start_seq_get(ctx, kt, &cur);
	if (kerr != 0)
		return kerr;
	while ((kerr = krb5_kt_next_entry(ctx, kt, &ent, &cur)) == 0) {
		int match = ent.principal->realm.length == strlen(realm) &&
			    memcmp(ent.principal->realm.data, realm, strlen(realm)) == 0;

		if (match)
			kerr = krb5_copy_principal(ctx, ent.principal, server_out);
		krb5_free_keytab_entry_contents(ctx, &ent);
		if (match)
			break;
	}
	krb5_kt_end_seq_get(ctx, kt, &cur);
	return kerr == KRB5_KT_END ? KRB5_KT_NOTFOUND : kerr;
}

int
basic_validate(krb5_context ctx, const struct trust_config *tc, const uint8_t *tok, size_t len,
	       struct kw_verdict *v)
{
	krb5_get_init_creds_opt *opts = NULL;
	krb5_verify_init_creds_opt vopt;
	krb5_principal client = NULL, server = NULL;
	krb5_keytab kt = NULL;
	krb5_creds creds;
	krb5_error_code kerr;
	struct basic_view bv;
	char pw[BASIC_PASSWORD_MAX];
	char *name = NULL;
	int have_creds = 0;

	v->reason = KW_ERR_INTERNAL;
	v->principal_len = 0;
	v->principal[0] = '\0';
	v->reply_len = 0;
	v->expires_at = 0;
	if (basic_parse(tok, len, &bv) != 0) {
		v->reason = KW_ERR_MALFORMED;
		snprintf(v->detail, sizeof(v->detail), "not user:password");
		return -EACCES;
	}
	/* one component, so "HTTP/gw" typed as a user name cannot become a service principal */
	kerr = krb5_build_principal_ext(ctx, &client, (unsigned int)strlen(tc->realm), tc->realm,
					(unsigned int)bv.user_len, bv.user, 0);
	if (kerr != 0) {
		basic_detail(ctx, kerr, "client name", v);
		goto cleanup;
	}
	kerr = krb5_get_init_creds_opt_alloc(ctx, &opts);
	if (kerr != 0) {
		opts = NULL;
		goto cleanup;
	}
	krb5_get_init_creds_opt_set_forwardable(opts, 0);
	krb5_get_init_creds_opt_set_proxiable(opts, 0);
	memcpy(pw, bv.password, bv.password_len);
	pw[bv.password_len] = '\0';
	memset(&creds, 0, sizeof(creds));
	kerr = krb5_get_init_creds_password(ctx, &creds, client, pw, NULL, NULL, 0, NULL, opts);
	explicit_bzero(pw, sizeof(pw));
	if (kerr != 0) {
		v->reason = basic_map_error(kerr);
		basic_detail(ctx, kerr, "AS exchange", v);
		goto cleanup;
	}
	have_creds = 1;
	kerr = tc->keytab[0] != '\0' ? krb5_kt_resolve(ctx, tc->keytab, &kt)
				     : krb5_kt_default(ctx, &kt);
	if (kerr != 0) {
		kt = NULL;
		basic_detail(ctx, kerr, "keytab", v);
		goto cleanup;
	}
	kerr = basic_keytab_server(ctx, kt, tc->realm, &server);
	if (kerr != 0) {
		server = NULL;
		basic_detail(ctx, kerr, "no key of the realm in the keytab", v);
		goto cleanup;
	}
	krb5_verify_init_creds_opt_init(&vopt);
	/* without a service ticket we could decrypt, the TGT may come from a spoofed KDC */
	krb5_verify_init_creds_opt_set_ap_req_nofail(&vopt, 1);
	kerr = krb5_verify_init_creds(ctx, &creds, server, kt, NULL, &vopt);
	if (kerr != 0) {
		v->reason = basic_map_error(kerr) == KW_ERR_KDC_UNREACHABLE
				    ? KW_ERR_KDC_UNREACHABLE
				    : KW_ERR_KDC_NOT_VERIFIED;
		basic_detail(ctx, kerr, "verify against keytab", v);
		goto cleanup;
	}
	kerr = krb5_unparse_name(ctx, creds.client, &name);
	if (kerr != 0 || strlen(name) >= sizeof(v->principal)) {
		snprintf(v->detail, sizeof(v->detail), "client name unavailable or too long");
		goto cleanup;
	}
	v->principal_len = (uint16_t)strlen(name);
	memcpy(v->principal, name, (size_t)v->principal_len + 1);
	v->expires_at = (int64_t)creds.times.endtime;
	v->reason = KW_OK;
cleanup:
	if (name != NULL)
		krb5_free_unparsed_name(ctx, name);
	if (kt != NULL)
		krb5_kt_close(ctx, kt);
	if (have_creds)
		krb5_free_cred_contents(ctx, &creds);
	if (opts != NULL)
		krb5_get_init_creds_opt_free(ctx, opts);
	if (client != NULL)
		krb5_free_principal(ctx, client);
	if (server != NULL)
		krb5_free_principal(ctx, server);
	return v->reason == KW_OK ? 0 : -EACCES;
}
