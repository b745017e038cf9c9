/* Diagnostics service on the TCP callback API: RFC 862 echo, discard, RFC 864 chargen. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "dataplane/tcp/tcp.h"

/*
 * RFC 864 chargen: lines of 72 printable characters (the 95 from ' ' to '~' in rotation,
 * each line starting one character later) followed by CR LF. The stream repeats every
 * 95 lines, so one period, stored twice, lets any offset be served as a contiguous slice.
 */
#define CG_LINE	  74
#define CG_PERIOD (95 * CG_LINE)

static char cg_pattern[2 * CG_PERIOD];
static bool cg_ready;

static void
cg_init(void)
{
	for (uint32_t off = 0; off < 2 * CG_PERIOD; off++) {
		uint32_t line = (off / CG_LINE) % 95, col = off % CG_LINE;

		if (col < 72)
			cg_pattern[off] = (char)(' ' + (line + col) % 95);
		else
			cg_pattern[off] = col == 72 ? '\r' : '\n';
	}
	cg_ready = true;
}

static int
diag_accept(struct tcp_flow *f, void *arg, void **ctx_out)
{
	(void)f;
	(void)arg;
	*ctx_out = NULL; /* chargen: the ctx is the stream offset modulo the period */
	return 0;
}

/* Echo what fits in the send buffer; the rest waits (window closes) until ACKs make room. */
static uint32_t
echo_data(struct tcp_flow *f, void *ctx, struct rte_mbuf *m)
{
	uint32_t space, done = 0;

	(void)ctx;
	if (m == NULL) {
		tcp_shutdown(f);
		return 0;
	}
	space = tcp_send_space(f);
	for (struct rte_mbuf *s = m; s != NULL && done < space; s = s->next) {
		uint32_t n = RTE_MIN((uint32_t)s->data_len, space - done);
		int rc = tcp_send(f, rte_pktmbuf_mtod(s, void *), n);

		if (rc <= 0)
			break;
		done += (uint32_t)rc;
		if ((uint32_t)rc < n)
			break;
	}
	return done;
}

static void
echo_acked(struct tcp_flow *f, void *ctx, uint32_t bytes)
{
	(void)ctx;
	(void)bytes;
	tcp_recv_resume(f);
}

static uint32_t
discard_data(struct tcp_flow *f, void *ctx, struct rte_mbuf *m)
{
	(void)ctx;
	if (m == NULL) {
		tcp_shutdown(f);
		return 0;
	}
	return m->pkt_len;
}

static void
cg_fill(struct tcp_flow *f)
{
	uintptr_t off = (uintptr_t)tcp_flow_ctx(f);
	uint32_t space;

	while ((space = tcp_send_space(f)) > 0) {
		int rc = tcp_send(f, cg_pattern + off, RTE_MIN(space, (uint32_t)CG_PERIOD));

		if (rc <= 0)
			break;
		off = (off + (uint32_t)rc) % CG_PERIOD;
	}
	tcp_flow_set_ctx(f, (void *)off);
}

static int
chargen_accept(struct tcp_flow *f, void *arg, void **ctx_out)
{
	(void)arg;
	/* The engine stores *ctx_out after we return, so hand back the offset we reached. */
	tcp_flow_set_ctx(f, NULL);
	cg_fill(f);
	*ctx_out = tcp_flow_ctx(f);
	return 0;
}

static uint32_t
chargen_data(struct tcp_flow *f, void *ctx, struct rte_mbuf *m)
{
	(void)ctx;
	if (m == NULL) {
		tcp_shutdown(f);
		return 0;
	}
	/* First bytes from the client (or any) also kick the generator if it had no room. */
	cg_fill(f);
	return m->pkt_len;
}

static void
chargen_acked(struct tcp_flow *f, void *ctx, uint32_t bytes)
{
	(void)ctx;
	(void)bytes;
	cg_fill(f);
}

static const struct tcp_callbacks echo_cb = {
	.accepted = diag_accept,
	.data = echo_data,
	.acked = echo_acked,
};

static const struct tcp_callbacks discard_cb = {
	.accepted = diag_accept,
	.data = discard_data,
};

static const struct tcp_callbacks chargen_cb = {
	.accepted = chargen_accept,
	.data = chargen_data,
	.acked = chargen_acked,
};

int
tcp_diag_listen(struct tcp_engine *e, uint16_t echo_port, uint16_t discard_port,
		uint16_t chargen_port)
{
	int rc;

	if (!cg_ready)
		cg_init();
	if (echo_port != 0 && (rc = tcp_listen(e, echo_port, &echo_cb, NULL)) != 0)
		return rc;
	if (discard_port != 0 && (rc = tcp_listen(e, discard_port, &discard_cb, NULL)) != 0)
		return rc;
	if (chargen_port != 0 && (rc = tcp_listen(e, chargen_port, &chargen_cb, NULL)) != 0)
		return rc;
	return 0;
}
