/* Packet-script harness for the TCP engine: builds client segments, captures engine output. */
#ifndef AG_TESTS_UNIT_TCP_HARNESS_H
#define AG_TESTS_UNIT_TCP_HARNESS_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <rte_mbuf.h>

#include "dataplane/tcp/tcp.h"

#define H_CADDR	       0xC6120002u /* 198.18.0.2 */
#define H_SADDR	       0xC6120001u /* 198.18.0.1 */
#define H_APP_PORT     80
#define H_ECHO_PORT    7
#define H_DISCARD_PORT 9
#define H_CHARGEN_PORT 19
#define H_MAX_OUT      4096
#define H_MAX_DATA     9000

#define F_FIN 0x01
#define F_SYN 0x02
#define F_RST 0x04
#define F_PSH 0x08
#define F_ACK 0x10

/* Options a client puts on a segment. */
struct h_opts {
	uint16_t mss; /* 0: none */
	int ws;	      /* -1: none */
	bool sackp;
	bool ts;
	uint32_t tsval;
	uint32_t tsecr;
	const uint8_t *raw; /* when set, used verbatim instead of the fields above */
	uint8_t rawlen;
};

/* A segment the engine sent, parsed. */
struct h_pkt {
	uint8_t flags;
	uint32_t seq;
	uint32_t ack;
	uint16_t win;
	uint16_t mss;
	int ws;
	bool sackp;
	bool ts;
	uint32_t tsval;
	uint32_t tsecr;
	int nsack;
	uint32_t sack[4][2];
	uint32_t len;
	uint16_t sport;
	uint16_t dport;
	uint16_t ip_id;
	uint8_t data[H_MAX_DATA];
};

/* The test application on H_APP_PORT. */
struct h_app {
	int accepted;
	int closed;
	int eof;
	enum tcp_close_reason reason;
	struct tcp_flow *flow;
	uint8_t *rx;
	uint32_t rxlen;
	uint32_t consume_max; /* bytes the app takes per data call; UINT32_MAX: all */
	bool refuse;
	uint32_t send_on_accept;
	uint64_t acked;
	bool shutdown_on_eof;
};

struct h {
	struct tcp_engine *e;
	struct tcp_engine_params p;
	uint64_t now;
	struct rte_mbuf *out[H_MAX_OUT];
	unsigned int nout;
	unsigned int head;
	struct h_app app;
	/* client side of the connection under test */
	uint16_t cport;
	uint16_t lport;
	uint32_t cseq; /* next client sequence number */
	uint32_t sseq; /* next expected server sequence number (what the client acks) */
	uint32_t s_isn;
	bool ts;	      /* client sends timestamps on every segment */
	uint32_t last_tsval;  /* server's, echoed back */
	uint16_t cwin;	      /* window the client advertises (raw) */
	uint64_t rx_ol_flags; /* RX offload flags the "NIC" sets on every client segment */
};

extern struct rte_mempool *h_pool;
extern struct tcp_flow_table *h_table;
extern uint8_t h_pattern[1 << 20]; /* filled by main() */

/* Create an engine; tweak(p) may change the defaults first. */
void h_init(struct h *h, void (*tweak)(struct tcp_engine_params *p));
void h_fini(struct h *h);
/* Send one client segment on (cport -> lport) with explicit fields. */
void h_send(struct h *h, uint8_t flags, uint32_t seq, uint32_t ack, uint16_t win,
	    const struct h_opts *o, const void *data, uint32_t len);
/* Same, but with a corrupted checksum. */
void h_send_badsum(struct h *h, uint8_t flags, uint32_t seq, uint32_t ack, uint16_t win,
		   const void *data, uint32_t len);
/* Client data at cseq with ack sseq (and timestamps if negotiated); advances cseq. */
void h_data(struct h *h, const void *data, uint32_t len);
/* Pure client ACK of ack with window win. */
void h_ack(struct h *h, uint32_t ack, uint16_t win);
/* Number of captured output segments not yet popped. */
unsigned int h_pending(const struct h *h);
/* Pop the next output segment (fails the test when none, or when its checksums are wrong). */
void h_pop(struct h *h, struct h_pkt *p);
void h_drain(struct h *h);
/* Advance the virtual clock and run timers. */
void h_advance(struct h *h, uint64_t us);
/*
 * Three-way handshake from cport to lport with options o; leaves the connection established
 * from the client's view and returns 0, or -1 when the SYN-ACK did not come.
 */
int h_connect(struct h *h, uint16_t cport, uint16_t lport, const struct h_opts *o,
	      uint32_t client_isn);
struct tcp_flow *h_flow(struct h *h);
/*
 * An ICMP error (type 3 code 4: "fragmentation needed") from a router (198.18.0.254) about a
 * segment the engine sent to cport: it quotes the IPv4 header and quote_len bytes of TCP (8:
 * only what RFC 792 guarantees). Returns tcp_icmp_input's result.
 */
int h_icmp(struct h *h, uint8_t type, uint8_t code, uint16_t cport, uint32_t seq, uint16_t mtu,
	   uint32_t quote_len);
/* What the engine keeps for the connection under test: TCP_TIME_WAIT has no flow. */
enum tcp_state h_state(struct h *h);
struct tcp_tuple h_tuple(const struct h *h);
uint64_t h_drops(const struct h *h, enum tcp_drop_reason r);

/*
 * A test program's main: EAL without hugepages (77, skip, when it cannot start), h_pool of
 * mbufs, h_pattern, RCU and h_table of max_flows, ready() if not NULL, the tests, teardown.
 */
int h_main(const char *name, const struct CMUnitTest *tests, size_t ntests, unsigned mbufs,
	   uint32_t max_flows, void (*ready)(void));

#endif
