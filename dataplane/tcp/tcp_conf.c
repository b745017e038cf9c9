/* [tcp] keys with their ranges and defaults, and how they become engine parameters. */
#include <stddef.h>

#include "dataplane/tcp/tcp_conf.h"

static const char *const syncookie_choices[] = {"auto", "always", "never", NULL};

static const struct ini_key tcp_keys[] = {
	INI_U(tcp_conf, max_flows, 64, 4194304, "65536"),
	INI_U(tcp_conf, sndbuf, 4096, 64 << 20, "262144"),
	INI_U(tcp_conf, rcvbuf, 4096, 64 << 20, "131072"),
	INI_U(tcp_conf, max_half_open, 16, 1 << 20, "4096"),
	INI_E(tcp_conf, syncookies, syncookie_choices, "auto"),
	INI_U(tcp_conf, max_conns_per_source, 0, 4194304, "0"),
	INI_U(tcp_conf, max_half_open_per_source, 0, 1 << 20, "64"),
	INI_U(tcp_conf, rto_min_ms, 10, 1000, "200"),
	INI_U(tcp_conf, rto_max_ms, 1000, 120000, "60000"),
	INI_U(tcp_conf, time_wait_ms, 0, 240000, "10000"),
	INI_U(tcp_conf, max_time_wait, 0, 4194304, "0"),
	INI_U(tcp_conf, idle_timeout_s, 0, 86400, "300"),
	INI_U(tcp_conf, keepalive_s, 0, 86400, "0"),
	INI_U(tcp_conf, persist_timeout_s, 0, 86400, "120"),
	INI_U(tcp_conf, tso_max_bytes, 2048, 65535, "65535"),
	INI_END,
};

const struct ini_section tcp_conf_section = {
	.name = "tcp",
	.keys = tcp_keys,
};

void
tcp_conf_apply(const struct tcp_conf *c, uint16_t nb_lcores, struct tcp_engine_params *p)
{
	p->max_flows = c->max_flows / nb_lcores;
	p->sndbuf = c->sndbuf;
	p->rcvbuf = c->rcvbuf;
	p->max_half_open = c->max_half_open;
	p->syncookies = c->syncookies;
	p->max_conns_per_source = c->max_conns_per_source;
	p->max_half_open_per_source = c->max_half_open_per_source;
	p->rto_min_us = c->rto_min_ms * 1000;
	p->rto_max_us = c->rto_max_ms * 1000;
	p->time_wait_us = (uint64_t)c->time_wait_ms * 1000;
	p->max_time_wait = c->max_time_wait / nb_lcores;
	p->idle_timeout_us = (uint64_t)c->idle_timeout_s * 1000000;
	p->keepalive_us = (uint64_t)c->keepalive_s * 1000000;
	p->persist_timeout_us = (uint64_t)c->persist_timeout_s * 1000000;
	p->tso_max_bytes = c->tso_max_bytes;
}
