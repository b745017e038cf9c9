/* Prometheus /metrics on the management side: the kernel's TCP, served by the main lcore. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <rte_common.h>
#include <rte_ethdev.h>
#include <rte_log.h>

#include "app/metrics.h"
#include "common/counters.h"
#include "control/authsvc.h"
#include "control/authsvc_stats.h"
#include "control/krb5_worker.h"
#include "control/sema.h"
#include "dataplane/dp.h"
#include "dataplane/http_svc.h"
#include "dataplane/tcp/tcp.h"

static const struct ini_key metrics_keys[] = {
	INI_S(metrics_conf, listen, INI_STRING, ""),
	INI_END,
};

/* ADDR:PORT, an IPv4 literal: the management interface's address (or 127.0.0.1). */
static int
parse_listen(const char *v, struct sockaddr_in *sa)
{
	char addr[64];
	const char *colon = strrchr(v, ':');
	char *end;
	unsigned long port;

	if (colon == NULL || (size_t)(colon - v) >= sizeof(addr))
		return -EINVAL;
	memcpy(addr, v, colon - v);
	addr[colon - v] = '\0';
	port = strtoul(colon + 1, &end, 10);
	if (*end != '\0' || port == 0 || port > 65535 || colon[1] == '\0')
		return -EINVAL;
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, addr, &sa->sin_addr) != 1)
		return -EINVAL;
	return 0;
}

static void
metrics_check(struct ini_ctx *ctx, void *conf)
{
	const struct metrics_conf *c = conf;
	struct sockaddr_in sa;

	if (c->listen[0] != '\0' && parse_listen(c->listen, &sa) < 0)
		ini_error(ctx, ini_line(ctx, "metrics", "listen"), "metrics", "listen",
			  "'%s' is not ADDRESS:PORT (e.g. 127.0.0.1:9464)", c->listen);
}

const struct ini_section metrics_conf_section = {
	.name = "metrics",
	.keys = metrics_keys,
	.check = metrics_check,
};

static int listen_fd = -1;
static uint64_t scrapes;

int
metrics_start(const struct metrics_conf *c)
{
	struct sockaddr_in sa;
	int one = 1;

	if (c->listen[0] == '\0')
		return 0;
	if (parse_listen(c->listen, &sa) < 0)
		return -EINVAL;
	listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (listen_fd < 0)
		return -errno;
	setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(listen_fd, 16) < 0) {
		int err = errno;

		close(listen_fd);
		listen_fd = -1;
		return -err;
	}
	RTE_LOG(NOTICE, USER1, "authgate: metrics on http://%s/metrics\n", c->listen);
	return 0;
}

void
metrics_stop(void)
{
	if (listen_fd >= 0)
		close(listen_fd);
	listen_fd = -1;
}

/* A label value: backslash, quote and newline escaped, as the text format asks. */
static void
label(FILE *f, const char *v)
{
	for (; *v != '\0'; v++) {
		if (*v == '\\' || *v == '"')
			fputc('\\', f);
		if (*v == '\n') {
			fputs("\\n", f);
			continue;
		}
		fputc(*v, f);
	}
}

static void
family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP authgate_%s %s\n# TYPE authgate_%s %s\n", name, help, name, type);
}

static void
port_metric(FILE *f, const char *name, const char *type, const char *help, size_t off)
{
	family(f, name, type, help);
	for (uint16_t p = 0; p < dp_main.nb_ports; p++) {
		struct rte_eth_stats st;

		memset(&st, 0, sizeof(st));
		rte_eth_stats_get(dp_main.ports[p].port_id, &st);
		fprintf(f, "authgate_%s{port=\"", name);
		label(f, dp_main.ports[p].conf->name);
		fprintf(f, "\"} %" PRIu64 "\n", *(const uint64_t *)((const char *)&st + off));
	}
}

static void
dataplane_metrics(FILE *f)
{
	struct tcp_stats tcp;

	port_metric(f, "port_rx_packets_total", "counter", "Packets the port received.",
		    offsetof(struct rte_eth_stats, ipackets));
	port_metric(f, "port_tx_packets_total", "counter", "Packets the port sent.",
		    offsetof(struct rte_eth_stats, opackets));
	port_metric(f, "port_rx_missed_total", "counter",
		    "Packets the device dropped before the gateway read them.",
		    offsetof(struct rte_eth_stats, imissed));
	family(f, "lcore_rx_packets_total", "counter", "Packets each dataplane lcore received.");
	for (uint16_t i = 0; i < dp_main.nb_lcores; i++)
		fprintf(f, "authgate_lcore_rx_packets_total{lcore=\"%u\"} %" PRIu64 "\n",
			dp_main.lcores[i].lcore_id,
			__atomic_load_n(&dp_main.lcores[i].stats.rx_pkts, __ATOMIC_RELAXED));
	family(f, "dataplane_drops_total", "counter",
	       "Packets dropped by the dataplane, by reason.");
	for (int r = 0; r < DP_DROP_MAX; r++) {
		uint64_t n = 0;

		for (uint16_t i = 0; i < dp_main.nb_lcores; i++)
			n += __atomic_load_n(&dp_main.lcores[i].stats.drops[r], __ATOMIC_RELAXED);
		fprintf(f, "authgate_dataplane_drops_total{reason=\"%s\"} %" PRIu64 "\n",
			dp_drop_reason_str(r), n);
	}

	memset(&tcp, 0, sizeof(tcp));
	for (uint16_t i = 0; i < dp_main.nb_lcores; i++)
		if (dp_main.lcores[i].tcp != NULL)
			counters_add(&tcp, tcp_engine_stats(dp_main.lcores[i].tcp), sizeof(tcp));
	family(f, "tcp_segments_in_total", "counter", "TCP segments received.");
	fprintf(f, "authgate_tcp_segments_in_total %" PRIu64 "\n", tcp.seg_in);
	family(f, "tcp_segments_out_total", "counter", "TCP segments sent.");
	fprintf(f, "authgate_tcp_segments_out_total %" PRIu64 "\n", tcp.seg_out);
	family(f, "tcp_retransmits_total", "counter", "TCP segments retransmitted.");
	fprintf(f, "authgate_tcp_retransmits_total %" PRIu64 "\n", tcp.retransmits);
	family(f, "tcp_rto_expired_total", "counter", "Retransmission timer expirations.");
	fprintf(f, "authgate_tcp_rto_expired_total %" PRIu64 "\n", tcp.rto_expired);
	family(f, "tcp_rto_spurious_total", "counter",
	       "Retransmission timeouts found needless and undone (Eifel, F-RTO).");
	fprintf(f, "authgate_tcp_rto_spurious_total %" PRIu64 "\n", tcp.rto_spurious);
	family(f, "tcp_syn_cookies_sent_total", "counter", "SYN cookies sent.");
	fprintf(f, "authgate_tcp_syn_cookies_sent_total %" PRIu64 "\n", tcp.cookies_sent);
	family(f, "tcp_drops_total", "counter", "TCP segments dropped, by reason.");
	for (int r = 0; r < TCP_DROP_REASON_MAX; r++)
		fprintf(f, "authgate_tcp_drops_total{reason=\"%s\"} %" PRIu64 "\n",
			tcp_drop_reason_str(r), tcp.drops[r]);
	family(f, "tcp_flows", "gauge", "TCP flows, by state.");
	for (int st = 0; st < TCP_STATE_MAX; st++)
		if (st != TCP_LISTEN)
			fprintf(f, "authgate_tcp_flows{state=\"%s\"} %" PRId64 "\n",
				tcp_state_str(st), RTE_MAX(tcp.flows_by_state[st], (int64_t)0));
}

static void
http_metrics(FILE *f)
{
	struct http_svc_totals t;

	http_svc_totals(&t);
	family(f, "http_requests_total", "counter", "HTTP requests parsed.");
	fprintf(f, "authgate_http_requests_total %" PRIu64 "\n", t.http.requests);
	family(f, "http_responses_total", "counter", "HTTP responses, by status class.");
	for (int c = 1; c <= 5; c++)
		fprintf(f, "authgate_http_responses_total{class=\"%dxx\"} %" PRIu64 "\n", c,
			t.http.status_class[c]);
	family(f, "http_connections", "gauge", "HTTP connections open.");
	fprintf(f, "authgate_http_connections %" PRIu64 "\n", t.active);
#define G(name, field, help)                                                                       \
	do {                                                                                       \
		family(f, "auth_" name "_total", "counter", help);                                 \
		fprintf(f, "authgate_auth_" name "_total %" PRIu64 "\n", t.gate.field);            \
	} while (0)
	G("challenges", challenges, "401 answers with the site's challenges.");
	G("validations", validations, "Tokens sent to the control plane.");
	G("persisted_hits", persisted_hits, "Requests served on persisted authentication.");
	G("busy", auth_busy, "503: a trust could not validate in time.");
	G("forbidden_user", forbidden_user, "403: not in require_user.");
	G("forbidden_realm", forbidden_realm, "403: not in require_realm.");
	G("forbidden_group", forbidden_group, "403: in none of require_group.");
	G("forbidden_revoked", forbidden_revoked, "403: a revoked principal.");
#undef G
	family(f, "auth_persisted_flows", "gauge", "Connections authenticated right now.");
	fprintf(f, "authgate_auth_persisted_flows %" PRIu64 "\n", t.gate.persisted_flows);
}

/* One per-trust family: each trust's value of one semaphore counter. */
static void
trust_family(FILE *f, const struct trust_table *tt, const char *name, const char *type,
	     const char *help, double (*get)(const struct sema_stats *st))
{
	family(f, name, type, help);
	for (uint32_t i = 0; i < tt->count; i++) {
		struct sema_stats st;

		sema_get_stats(tt->trusts[i].sema, &st);
		fprintf(f, "authgate_%s{trust=\"", name);
		label(f, tt->trusts[i].cfg.realm);
		fprintf(f, "\"} %.17g\n", get(&st));
	}
}

static double
st_slots(const struct sema_stats *st)
{
	return st->slots;
}

static double
st_waiters(const struct sema_stats *st)
{
	return st->waiters;
}

static double
st_holders(const struct sema_stats *st)
{
	return st->holders;
}

static double
st_acquires(const struct sema_stats *st)
{
	return (double)st->acquires;
}

static double
st_timeouts(const struct sema_stats *st)
{
	return (double)st->timeouts;
}

static double
st_rejections(const struct sema_stats *st)
{
	return (double)st->rejections;
}

static double
st_hold(const struct sema_stats *st)
{
	return st->avg_hold_s;
}

/* Netlogon's semaphore counters per trust, and the wait each granted acquire had. */
static void
trust_metrics(FILE *f)
{
	const struct trust_table *tt = authsvc_trusts();
	struct authsvc_stats as;

	authsvc_get_stats(&as);
	family(f, "auth_verdicts_total", "counter", "Validations ended, by reason.");
	for (unsigned int r = 0; r < AUTHSVC_REASON_MAX; r++) {
		char name[64];

		snprintf(name, sizeof(name), "%s", authsvc_reason_str(r));
		for (size_t i = 0; name[i] != '\0'; i++)
			if (name[i] == '-')
				name[i] = '_';
		fprintf(f, "authgate_auth_verdicts_total{reason=\"%s\"} %" PRIu64 "\n", name,
			as.by_reason[r]);
	}
	if (tt == NULL)
		return;
	trust_family(f, tt, "semaphore_slots", "gauge", "MaxConcurrentApi of the trust.", st_slots);
	trust_family(f, tt, "semaphore_waiters", "gauge",
		     "Semaphore Waiters: validations queued for a slot.", st_waiters);
	trust_family(f, tt, "semaphore_holders", "gauge",
		     "Semaphore Holders: validations holding a slot.", st_holders);
	trust_family(f, tt, "semaphore_acquires_total", "counter", "Semaphore Acquires.",
		     st_acquires);
	trust_family(f, tt, "semaphore_timeouts_total", "counter", "Semaphore Timeouts.",
		     st_timeouts);
	trust_family(f, tt, "semaphore_rejections_total", "counter",
		     "Refused by admission control.", st_rejections);
	trust_family(f, tt, "semaphore_hold_seconds_avg", "gauge", "Average Semaphore Hold Time.",
		     st_hold);
	family(f, "semaphore_wait_seconds", "histogram",
	       "Queue wait of granted semaphore acquires, by trust.");
	for (uint32_t i = 0; i < tt->count; i++) {
		struct sema_stats st;
		uint64_t cum = 0;

		sema_get_stats(tt->trusts[i].sema, &st);
		for (int b = 0; b < SEMA_WAIT_BUCKETS; b++) {
			cum += st.wait_hist[b];
			fprintf(f, "authgate_semaphore_wait_seconds_bucket{trust=\"");
			label(f, tt->trusts[i].cfg.realm);
			if (sema_wait_bucket_ns[b] == UINT64_MAX)
				fprintf(f, "\",le=\"+Inf\"} %" PRIu64 "\n", cum);
			else
				fprintf(f, "\",le=\"%.6f\"} %" PRIu64 "\n",
					sema_wait_bucket_ns[b] / 1e9, cum);
		}
		fprintf(f, "authgate_semaphore_wait_seconds_count{trust=\"");
		label(f, tt->trusts[i].cfg.realm);
		fprintf(f, "\"} %" PRIu64 "\n", cum);
		fprintf(f, "authgate_semaphore_wait_seconds_sum{trust=\"");
		label(f, tt->trusts[i].cfg.realm);
		fprintf(f, "\"} %.6f\n", st.total_wait_ns / 1e9);
	}
}

static void
serve_one(int fd)
{
	char req[1024], *body = NULL;
	size_t len = 0;
	ssize_t n;
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	FILE *f;

	/* the management network, not the dataplane: a short wait for the request is fine */
	if (poll(&pfd, 1, 200) <= 0 || (n = recv(fd, req, sizeof(req) - 1, 0)) <= 0)
		return;
	req[n] = '\0';
	if (strncmp(req, "GET /metrics ", 13) != 0 && strncmp(req, "GET /metrics?", 13) != 0) {
		static const char nf[] = "HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n";

		(void)send(fd, nf, sizeof(nf) - 1, MSG_NOSIGNAL);
		return;
	}
	f = open_memstream(&body, &len);
	if (f == NULL)
		return;
	scrapes++;
	family(f, "metrics_scrapes_total", "counter", "Scrapes of this endpoint.");
	fprintf(f, "authgate_metrics_scrapes_total %" PRIu64 "\n", scrapes);
	dataplane_metrics(f);
	http_metrics(f);
	trust_metrics(f);
	fclose(f);
	dprintf(fd,
		"HTTP/1.0 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
		"Content-Length: %zu\r\nConnection: close\r\n\r\n",
		len);
	for (size_t off = 0; off < len;) {
		n = send(fd, body + off, len - off, MSG_NOSIGNAL);
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	free(body);
}

void
metrics_poll(void)
{
	for (int i = 0; listen_fd >= 0 && i < 4; i++) {
		int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);

		if (fd < 0)
			return;
		serve_one(fd);
		close(fd);
	}
}
