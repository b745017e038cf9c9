/* The HTTP service's access log records, handed to the writer thread; never waits. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_common.h>

#include "control/accesslog.h"
#include "dataplane/http_svc_priv.h"
#include "dataplane/tcp/tcp.h"

static void
copy_view(char *dst, size_t size, const struct h1_view *v)
{
	size_t n = v ? RTE_MIN(v->len, size - 1) : 0;

	if (n > 0)
		memcpy(dst, v->p, n);
	dst[n] = '\0';
}

/* Headers the gate and parser do not index, looked up for the log only. */
static const struct h1_view *
header_named(const struct h1_request *req, const char *name)
{
	for (unsigned int i = 0; i < req->nheaders; i++)
		if (h1_view_ieq(req->headers[i].name, name))
			return &req->headers[i].value;
	return NULL;
}

static void
log_fill(struct ha_flow *h, const struct h1_request *req, int status, uint64_t bytes,
	 struct accesslog_rec *out)
{
	struct accesslog_rec rec;
	const struct tcp_tuple *tp = tcp_flow_tuple(h->flow);

	memset(&rec, 0, offsetof(struct accesslog_rec, target));
	rec.client_ip = tp->raddr;
	rec.client_port = tp->rport;
	rec.status = (uint16_t)status;
	rec.bytes = bytes;
	rec.time_s = h->app->now_s;
	if (req != NULL) {
		/* a method the parser does not know logs as "-" */
		if (req->method != H1_M_OTHER)
			snprintf(rec.method, sizeof(rec.method), "%s", h1_method_str(req->method));
		rec.version_minor = (uint8_t)req->version_minor;
		copy_view(rec.target, sizeof(rec.target), &req->target);
		copy_view(rec.referer, sizeof(rec.referer), header_named(req, "Referer"));
		copy_view(rec.agent, sizeof(rec.agent), header_named(req, "User-Agent"));
	} else {
		rec.target[0] = rec.referer[0] = rec.agent[0] = '\0';
	}
	/* principals longer than the log field are cut; the log is for people, not for auth */
	snprintf(rec.user, sizeof(rec.user), "%.*s", (int)sizeof(rec.user) - 1,
		 h->auth.authed || status < 300 ? h->auth.principal : "");
	*out = rec;
}

void
ha_log_request(struct accesslog *log, struct ha_flow *h, const struct h1_request *req, int status,
	       uint64_t bytes)
{
	struct accesslog_rec rec;

	if (log == NULL)
		return;
	log_fill(h, req, status, bytes, &rec);
	if (accesslog_post(log, h->app->lcore, &rec) < 0)
		h->app->stats.log_dropped++;
}

struct accesslog_rec *
ha_log_prepare(struct accesslog *log, struct ha_flow *h, const struct h1_request *req)
{
	struct accesslog_rec *rec;

	if (log == NULL)
		return NULL;
	rec = malloc(sizeof(*rec));
	if (rec == NULL) {
		h->app->stats.log_dropped++;
		return NULL;
	}
	/* the identity now: the gate forgets one that does not persist after this request */
	log_fill(h, req, 200, 0, rec);
	return rec;
}

void
ha_log_post(struct accesslog *log, struct ha_flow *h, struct accesslog_rec *rec, int status,
	    uint64_t bytes, uint32_t up_ip, uint16_t up_port, uint16_t up_status)
{
	if (rec == NULL)
		return;
	rec->status = (uint16_t)status;
	rec->bytes = bytes;
	rec->upstream_ip = up_ip;
	rec->upstream_port = up_port;
	rec->upstream_status = up_status;
	if (log != NULL && accesslog_post(log, h->app->lcore, rec) < 0)
		h->app->stats.log_dropped++;
	free(rec);
}
