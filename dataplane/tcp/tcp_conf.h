/* [tcp]: the engine's settings as an operator writes them, declared by the engine itself. */
#ifndef AG_DATAPLANE_TCP_TCP_CONF_H
#define AG_DATAPLANE_TCP_TCP_CONF_H

#include <stdint.h>

#include "common/ini.h"
#include "dataplane/tcp/tcp.h"

struct tcp_conf {
	uint32_t max_flows;	/* all lcores together */
	uint32_t sndbuf;	/* bytes queued per flow */
	uint32_t rcvbuf;	/* receive window per flow */
	uint32_t max_half_open; /* per lcore */
	enum tcp_syncookie_mode syncookies;
	uint32_t max_conns_per_source;	   /* gateway-wide, 0 = off */
	uint32_t max_half_open_per_source; /* gateway-wide, 0 = off */
	uint32_t rto_min_ms;
	uint32_t rto_max_ms; /* backoff cap */
	uint32_t time_wait_ms;
	uint32_t max_time_wait;	    /* 0: as many as max_flows */
	uint32_t idle_timeout_s;    /* 0 = off */
	uint32_t keepalive_s;	    /* 0 = off */
	uint32_t persist_timeout_s; /* zero window this long: RST (0 = off) */
	uint32_t tso_max_bytes;	    /* payload of one large packet when the ports do TSO */
};

/* [tcp], relative to a struct tcp_conf. */
extern const struct ini_section tcp_conf_section;

/* The engine parameters [tcp] sets, for one of nb_lcores engines (max_flows is shared out). */
void tcp_conf_apply(const struct tcp_conf *c, uint16_t nb_lcores, struct tcp_engine_params *p);

#endif
