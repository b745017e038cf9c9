/* Basic authentication: parse "user:password", pick the trust, validate by AS exchange + keytab. */
#ifndef AG_CONTROL_BASIC_H
#define AG_CONTROL_BASIC_H

#include <stddef.h>
#include <stdint.h>

#include <krb5/krb5.h>

#include "control/krb5_worker.h"
#include "control/trust.h"

#define BASIC_USER_MAX	   256
#define BASIC_PASSWORD_MAX 256

enum basic_form {
	BASIC_FORM_BARE,   /* "user": the default trust */
	BASIC_FORM_REALM,  /* "user@REALM": the trust with that realm */
	BASIC_FORM_DOMAIN, /* "DOMAIN\user": the trust with that netbios_name */
};

/*
 * Views into the decoded credentials; nothing is copied, so wiping the token (the
 * sender's buffer) wipes the password too.
 */
struct basic_view {
	enum basic_form form;
	const char *user; /* without realm or domain */
	size_t user_len;
	const char *where; /* realm or domain; NULL for BARE */
	size_t where_len;
	const char *password;
	size_t password_len;
};

/*
 * Split decoded Basic credentials. -EBADMSG when there is no ':', the user part is empty
 * or too long, the password is too long, or either holds a control character (NUL
 * included: it would cut the name short in krb5).
 */
int basic_parse(const uint8_t *tok, size_t len, struct basic_view *view_out);

/*
 * The trust for these credentials: user@REALM by realm, DOMAIN\user by netbios_name, a
 * bare user by default_trust (NULL or "" = none). -EBADMSG as basic_parse, -ENOENT when
 * no Basic-capable trust matches (answer 401 at once, no worker).
 */
int basic_route(const struct trust_table *tt, const char *default_trust, const uint8_t *tok,
		size_t len, struct basic_view *view_out, uint32_t *index_out);

/*
 * On a worker, with its semaphore slot: AS exchange with the trust's KDC
 * (krb5_get_init_creds_password), then krb5_verify_init_creds against the trust's keytab
 * so that a KDC that does not share our key cannot log anyone in. Fills v (reason,
 * principal user@REALM, expires_at = TGT end); returns 0 or -EACCES. The password copy
 * it makes is wiped before returning; the caller wipes tok.
 */
int basic_validate(krb5_context ctx, const struct trust_config *tc, const uint8_t *tok, size_t len,
		   struct kw_verdict *v);

#endif
