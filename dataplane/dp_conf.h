/* [dataplane], [port NAME] and [impair]: the loop's and the ports' settings, declared here. */
#ifndef AG_DATAPLANE_DP_CONF_H
#define AG_DATAPLANE_DP_CONF_H

#include <stdbool.h>
#include <stdint.h>

#include "common/ini.h"
#include "dataplane/impair.h"

#define DP_MAX_PORTS  4
#define DP_MAX_LCORES 16

struct dp_port_conf {
	char name[32];	      /* the NAME of [port NAME] */
	char device[INI_STR]; /* vdev args (net_tap0,iface=x) or a bus address */
	uint32_t addr;	      /* host byte order */
	uint8_t prefix_len;
	uint32_t gateway; /* host byte order, 0 = none */
	uint32_t mtu;
	uint32_t rx_desc;
	uint32_t tx_desc;
	uint32_t mbufs;
	uint32_t mbuf_cache;
	bool garp;    /* gratuitous ARP when the link comes up */
	char mac[18]; /* xx:xx:xx:xx:xx:xx to set on the port, "" = the device's own */
	uint8_t tso;  /* DP_TSO_AUTO: large TCP packets when the device segments them */
};

enum dp_tso_mode {
	DP_TSO_AUTO = 0,
	DP_TSO_NO,
};

struct dp_conf {
	char lcores[64]; /* lcores that poll; each owns one RX/TX queue per port */
	uint16_t lcore_ids[DP_MAX_LCORES];
	uint16_t nb_lcores;
	uint32_t burst;		   /* rx burst size */
	uint32_t idle_sleep_us;	   /* 0: pure busy poll; else sleep after a run of empty polls */
	uint32_t tx_step_segments; /* data segments per paced output step; 0: not paced */
	bool tap_rx_signal;	   /* let net_tap raise a signal per frame it queues for us */
	struct dp_port_conf ports[DP_MAX_PORTS];
	unsigned int nb_ports;
	struct dp_impair_conf impair; /* lab fault injection, both directions */
};

/* [dataplane], [port NAME], [impair], relative to a struct dp_conf. */
extern const struct ini_section dp_conf_sections[3];

#endif
