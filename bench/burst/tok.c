/* btok: SPNEGO tokens from client keytabs (gss_acquire_cred_from + MEMORY ccaches), pooled. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gssapi/gssapi.h>
#include <gssapi/gssapi_ext.h>
#include <gssapi/gssapi_krb5.h>

#include "tok.h"

static gss_OID_desc spnego_oid = {6, (void *)"\x2b\x06\x01\x05\x05\x02"};

/* One user's tokens: filled before the run, handed out in order. */
struct btok_user {
	char **tokens;
	unsigned int count;
	unsigned int next; /* atomic */
};

/* The credentials of one minting thread: one per user, in that thread's own ccaches. */
struct btok_minter {
	unsigned int id;
	gss_cred_id_t *creds;
};

struct btok_pool {
	struct btok_conf conf;
	gss_name_t target;
	struct btok_user *users;
	struct btok_minter late; /* minter for tokens taken after the pool ran dry */
	pthread_mutex_t late_lock;
	char **late_tokens; /* under late_lock */
	size_t late_cap;
	uint64_t minted;
	uint64_t late_count;
};

size_t
btok_base64(const unsigned char *in, size_t n, char *out)
{
	static const char tab[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t i, o = 0;

	for (i = 0; i + 2 < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];

		out[o++] = tab[v >> 18];
		out[o++] = tab[(v >> 12) & 63];
		out[o++] = tab[(v >> 6) & 63];
		out[o++] = tab[v & 63];
	}
	if (i < n) {
		uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0);

		out[o++] = tab[v >> 18];
		out[o++] = tab[(v >> 12) & 63];
		out[o++] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
		out[o++] = '=';
	}
	out[o] = '\0';
	return o;
}

static void
gss_err(char *err, size_t errlen, const char *what, OM_uint32 major, OM_uint32 minor)
{
	OM_uint32 min2, ctx = 0;
	gss_buffer_desc maj_s = GSS_C_EMPTY_BUFFER, min_s = GSS_C_EMPTY_BUFFER;

	gss_display_status(&min2, major, GSS_C_GSS_CODE, GSS_C_NO_OID, &ctx, &maj_s);
	ctx = 0;
	gss_display_status(&min2, minor, GSS_C_MECH_CODE, GSS_C_NO_OID, &ctx, &min_s);
	snprintf(err, errlen, "%s: %.*s (%.*s)", what, (int)maj_s.length, (char *)maj_s.value,
		 (int)min_s.length, (char *)min_s.value);
	gss_release_buffer(&min2, &maj_s);
	gss_release_buffer(&min2, &min_s);
}

/* The credential of user (1-based) in minter m, acquired on first use. */
static int
minter_cred(struct btok_pool *p, struct btok_minter *m, unsigned int user, gss_cred_id_t *out,
	    char *err, size_t errlen)
{
	char princ[256], keytab[4096], ccache[320];
	gss_buffer_desc nb;
	gss_name_t name = GSS_C_NO_NAME;
	gss_OID_set_desc mechs = {1, &spnego_oid};
	gss_key_value_element_desc el[2];
	gss_key_value_set_desc store = {2, el};
	OM_uint32 major, minor;
	int rc = 0;

	if (m->creds[user - 1] != GSS_C_NO_CREDENTIAL) {
		*out = m->creds[user - 1];
		return 0;
	}
	snprintf(princ, sizeof(princ), p->conf.principal_format, user);
	snprintf(keytab, sizeof(keytab), "%s/%s.keytab", p->conf.keytab_dir, princ);
	/* a ccache per thread and user: MIT's MEMORY ccache is per process, names must differ */
	snprintf(ccache, sizeof(ccache), "MEMORY:authgate-burst-%u-%s", m->id, princ);
	el[0].key = "client_keytab";
	el[0].value = keytab;
	el[1].key = "ccache";
	el[1].value = ccache;
	nb.value = princ;
	nb.length = strlen(princ);
	major = gss_import_name(&minor, &nb, GSS_C_NT_USER_NAME, &name);
	if (GSS_ERROR(major)) {
		gss_err(err, errlen, princ, major, minor);
		rc = -EINVAL;
		goto cleanup;
	}
	major = gss_acquire_cred_from(&minor, name, GSS_C_INDEFINITE, &mechs, GSS_C_INITIATE,
				      &store, &m->creds[user - 1], NULL, NULL);
	if (GSS_ERROR(major)) {
		char what[4400];

		snprintf(what, sizeof(what), "acquire %s from %s", princ, keytab);
		gss_err(err, errlen, what, major, minor);
		rc = -EACCES;
		goto cleanup;
	}
	*out = m->creds[user - 1];
cleanup:
	if (name != GSS_C_NO_NAME)
		gss_release_name(&minor, &name);
	return rc;
}

/* One fresh token (a new authenticator each call), as "Negotiate <base64>". */
static char *
mint_one(struct btok_pool *p, struct btok_minter *m, unsigned int user, char *err, size_t errlen)
{
	gss_cred_id_t cred;
	gss_ctx_id_t ctx = GSS_C_NO_CONTEXT;
	gss_buffer_desc out = GSS_C_EMPTY_BUFFER;
	OM_uint32 major, minor;
	char *hdr = NULL;

	if (minter_cred(p, m, user, &cred, err, errlen) < 0)
		return NULL;
	major = gss_init_sec_context(&minor, cred, &ctx, p->target, &spnego_oid, GSS_C_MUTUAL_FLAG,
				     GSS_C_INDEFINITE, GSS_C_NO_CHANNEL_BINDINGS, GSS_C_NO_BUFFER,
				     NULL, &out, NULL, NULL);
	if (GSS_ERROR(major) || out.length == 0) {
		gss_err(err, errlen, "gss_init_sec_context", major, minor);
		goto cleanup;
	}
	hdr = malloc(10 + (out.length + 2) / 3 * 4 + 1);
	if (hdr == NULL) {
		snprintf(err, errlen, "out of memory");
		goto cleanup;
	}
	memcpy(hdr, "Negotiate ", 10);
	btok_base64(out.value, out.length, hdr + 10);
cleanup:
	gss_release_buffer(&minor, &out);
	/* the mutual-auth reply is not checked: the benchmark measures the server, not the client
	 */
	if (ctx != GSS_C_NO_CONTEXT)
		gss_delete_sec_context(&minor, &ctx, GSS_C_NO_BUFFER);
	return hdr;
}

static int
minter_init(struct btok_minter *m, unsigned int id, unsigned int users)
{
	unsigned int i;

	m->id = id;
	m->creds = calloc(users, sizeof(*m->creds));
	if (m->creds == NULL)
		return -ENOMEM;
	for (i = 0; i < users; i++)
		m->creds[i] = GSS_C_NO_CREDENTIAL;
	return 0;
}

static void
minter_fini(struct btok_minter *m, unsigned int users)
{
	OM_uint32 minor;
	unsigned int i;

	if (m->creds == NULL)
		return;
	for (i = 0; i < users; i++)
		if (m->creds[i] != GSS_C_NO_CREDENTIAL)
			gss_release_cred(&minor, &m->creds[i]);
	free(m->creds);
	m->creds = NULL;
}

struct btok_pool *
btok_pool_create(const struct btok_conf *conf, char *err, size_t errlen)
{
	struct btok_pool *p;
	gss_buffer_desc nb;
	OM_uint32 major, minor;
	gss_cred_id_t cred;

	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return NULL;
	p->conf = *conf;
	pthread_mutex_init(&p->late_lock, NULL);
	p->users = calloc(conf->users, sizeof(*p->users));
	if (p->users == NULL || minter_init(&p->late, 0, conf->users) < 0) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	nb.value = (void *)conf->spn;
	nb.length = strlen(conf->spn);
	major = gss_import_name(&minor, &nb, GSS_C_NT_HOSTBASED_SERVICE, &p->target);
	if (GSS_ERROR(major)) {
		gss_err(err, errlen, conf->spn, major, minor);
		goto fail;
	}
	/* fail early and clearly when the first keytab or the KDC is not there */
	if (minter_cred(p, &p->late, 1, &cred, err, errlen) < 0)
		goto fail;
	return p;
fail:
	btok_pool_free(p);
	errno = EINVAL;
	return NULL;
}

void
btok_pool_free(struct btok_pool *p)
{
	OM_uint32 minor;
	unsigned int u, i;

	if (p == NULL)
		return;
	if (p->users != NULL) {
		for (u = 0; u < p->conf.users; u++) {
			for (i = 0; i < p->users[u].count; i++)
				free(p->users[u].tokens[i]);
			free(p->users[u].tokens);
		}
		free(p->users);
	}
	for (i = 0; i < p->late_count; i++)
		free(p->late_tokens[i]);
	free(p->late_tokens);
	minter_fini(&p->late, p->conf.users);
	if (p->target != GSS_C_NO_NAME)
		gss_release_name(&minor, &p->target);
	pthread_mutex_destroy(&p->late_lock);
	free(p);
}

struct mint_job {
	struct btok_pool *pool;
	unsigned int id, threads, per_user;
	int rc;
	char err[512];
};

static void *
mint_thread(void *arg)
{
	struct mint_job *j = arg;
	struct btok_minter m;
	unsigned int u, i;

	j->rc = minter_init(&m, j->id + 1, j->pool->conf.users);
	if (j->rc < 0)
		return NULL;
	/* users are split between threads, so each token array has a single writer */
	for (u = j->id; u < j->pool->conf.users && j->rc == 0; u += j->threads) {
		struct btok_user *bu = &j->pool->users[u];

		for (i = 0; i < j->per_user; i++) {
			char *t = mint_one(j->pool, &m, u + 1, j->err, sizeof(j->err));

			if (t == NULL) {
				j->rc = -EACCES;
				break;
			}
			bu->tokens[bu->count++] = t;
		}
	}
	minter_fini(&m, j->pool->conf.users);
	return NULL;
}

int
btok_mint(struct btok_pool *p, unsigned int per_user, unsigned int threads, char *err,
	  size_t errlen)
{
	struct mint_job *jobs;
	pthread_t *tids;
	unsigned int u, t, started = 0;
	int rc = 0;

	if (threads == 0)
		threads = 1;
	if (threads > p->conf.users)
		threads = p->conf.users;
	for (u = 0; u < p->conf.users; u++) {
		char **grown = realloc(p->users[u].tokens,
				       (p->users[u].count + per_user) * sizeof(char *));

		if (grown == NULL && per_user > 0)
			return -ENOMEM;
		p->users[u].tokens = grown;
	}
	jobs = calloc(threads, sizeof(*jobs));
	tids = calloc(threads, sizeof(*tids));
	if (jobs == NULL || tids == NULL) {
		rc = -ENOMEM;
		goto cleanup;
	}
	for (t = 0; t < threads; t++) {
		jobs[t] = (struct mint_job){
			.pool = p, .id = t, .threads = threads, .per_user = per_user};
		if (pthread_create(&tids[t], NULL, mint_thread, &jobs[t]) != 0) {
			rc = -EAGAIN;
			break;
		}
		started++;
	}
	for (t = 0; t < started; t++) {
		pthread_join(tids[t], NULL);
		if (jobs[t].rc < 0 && rc == 0) {
			rc = jobs[t].rc;
			snprintf(err, errlen, "%s", jobs[t].err);
		}
	}
	for (u = 0; u < p->conf.users; u++)
		p->minted += p->users[u].count;
cleanup:
	free(jobs);
	free(tids);
	return rc;
}

const char *
btok_take(struct btok_pool *p, unsigned int user)
{
	struct btok_user *bu = &p->users[(user - 1) % p->conf.users];
	unsigned int i = __atomic_fetch_add(&bu->next, 1, __ATOMIC_RELAXED);
	char err[512];
	char *t;

	if (i < bu->count)
		return bu->tokens[i];
	/* dry: mint now, and keep the token on the pool's own list so btok_pool_free frees it */
	pthread_mutex_lock(&p->late_lock);
	t = mint_one(p, &p->late, (user - 1) % p->conf.users + 1, err, sizeof(err));
	if (t != NULL) {
		if (p->late_count == p->late_cap) {
			size_t cap = p->late_cap ? p->late_cap * 2 : 256;
			char **grown = realloc(p->late_tokens, cap * sizeof(char *));

			if (grown == NULL) {
				free(t);
				t = NULL;
				goto unlock;
			}
			p->late_tokens = grown;
			p->late_cap = cap;
		}
		p->late_tokens[p->late_count] = t;
		__atomic_store_n(&p->late_count, p->late_count + 1, __ATOMIC_RELAXED);
	}
unlock:
	pthread_mutex_unlock(&p->late_lock);
	return t;
}

uint64_t
btok_minted(const struct btok_pool *p)
{
	return p->minted;
}

uint64_t
btok_late(const struct btok_pool *p)
{
	return __atomic_load_n(&p->late_count, __ATOMIC_RELAXED);
}
