/* authgate configuration: the parsed form of an INI file and its loader. */
#ifndef AG_CONFIG_H
#define AG_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define AG_MAX_PORTS	 4
#define AG_MAX_DP_LCORES 16
#define AG_MAX_SITES	 16
#define AG_MAX_TRUSTS	 16
#define AG_CFG_STR	 256

enum ag_hugepages {
	AG_HUGEPAGES_AUTO, /* use hugepages when enough are free, else --no-huge */
	AG_HUGEPAGES_YES,  /* require them: EAL fails if there are none */
	AG_HUGEPAGES_NO,   /* always --no-huge */
};

struct ag_eal_conf {
	char lcores[64];      /* EAL -l list: the main lcore plus the dataplane lcores */
	uint32_t main_lcore;  /* control plane, telemetry, signals */
	uint32_t memory_mb;   /* -m */
	uint32_t hugepages;   /* enum ag_hugepages */
	char file_prefix[64]; /* also selects the telemetry socket for authgate-ctl */
	bool pci;	      /* false: --no-pci (virtual devices only) */
	char extra_args[AG_CFG_STR];
};

struct ag_dataplane_conf {
	char lcores[64]; /* lcores that poll; each owns one RX/TX queue per port */
	uint16_t lcore_ids[AG_MAX_DP_LCORES];
	uint16_t nb_lcores;
	uint32_t burst;		/* rx burst size */
	uint32_t idle_sleep_us; /* 0: pure busy poll; else sleep after a run of empty polls */
};

struct ag_log_conf {
	uint32_t level;		     /* 0 emergency .. 7 debug; RTE_LOG level - 1 */
	char components[AG_CFG_STR]; /* "authgate.tcp:debug authgate.net:info" */
};

struct ag_port_conf {
	char name[32];		 /* the NAME of [port NAME] */
	char device[AG_CFG_STR]; /* vdev args (net_tap0,iface=x) or a bus address */
	uint32_t addr;		 /* host byte order */
	uint8_t prefix_len;
	uint32_t gateway; /* host byte order, 0 = none */
	uint32_t mtu;
	uint32_t rx_desc;
	uint32_t tx_desc;
	uint32_t mbufs;
	uint32_t mbuf_cache;
	bool garp;    /* gratuitous ARP when the link comes up */
	char mac[18]; /* xx:xx:xx:xx:xx:xx to set on the port, "" = the device's own */
};

enum ag_syncookies {
	AG_SYNCOOKIES_AUTO,   /* once half-open flows pass max_half_open or the pool runs low */
	AG_SYNCOOKIES_ALWAYS, /* keep no state for any SYN */
	AG_SYNCOOKIES_NEVER,  /* drop SYNs over the bound instead */
};

struct ag_tcp_conf {
	uint32_t max_flows;	/* all lcores together */
	uint32_t sndbuf;	/* bytes queued per flow */
	uint32_t rcvbuf;	/* receive window per flow */
	uint32_t max_half_open; /* per lcore */
	uint32_t syncookies;	/* enum ag_syncookies */
	uint32_t rto_min_ms;
	uint32_t time_wait_ms;
	uint32_t idle_timeout_s; /* 0 = off */
	uint32_t keepalive_s;	 /* 0 = off */
};

struct ag_diag_conf {
	uint32_t echo_port;    /* RFC 862; 0 = off */
	uint32_t discard_port; /* RFC 863 */
	uint32_t chargen_port; /* RFC 864 */
};

struct ag_http_conf {
	uint32_t port;
	uint32_t max_request_line; /* bytes → 414 */
	uint32_t max_header_bytes; /* bytes → 431; Kerberos tokens with big PACs need room */
	uint32_t max_headers;	   /* count → 431 */
	uint32_t max_body;	   /* request bodies up to this are read and dropped, else 413 */
	uint32_t header_timeout_s; /* a request head must arrive within this (slowloris) → 408 */
	uint32_t keepalive_timeout_s; /* idle keep-alive connections are closed after this */
	uint32_t max_requests;	      /* per connection, then Connection: close; 0 = no limit */
	char access_log[AG_CFG_STR];  /* combined-format log file; empty = off */
};

/* The schemes a site offers, as bits; none = open. */
enum ag_site_auth {
	AG_AUTH_NONE = 0,
	AG_AUTH_NEGOTIATE = 1 << 0, /* Kerberos through SPNEGO, or NTLMSSP inside it */
	AG_AUTH_NTLM = 1 << 1,	    /* raw NTLM */
	AG_AUTH_BASIC = 1 << 2,	    /* user:password, checked against the trust's KDC */
};

struct ag_site_conf {
	char prefix[128]; /* the NAME of [site NAME]: a URL path prefix such as /pkg */
	char root[AG_CFG_STR];
	uint32_t auth; /* bits of enum ag_site_auth */
};

struct ag_auth_conf {
	bool persist_non_ntlm;	      /* IIS authPersistNonNTLM: the flow stays authenticated */
	bool persist_single_request;  /* IIS authPersistSingleRequest: forget after each request */
	uint32_t max_session_age_s;   /* persisted authentication ends after this */
	uint32_t max_auth_failures;   /* failed validations on one connection before it is closed */
	uint32_t retry_after_s;	      /* Retry-After on 503 when a trust is saturated */
	uint32_t max_token_bytes;     /* decoded Authorization token bound */
	bool allow_basic_over_http;   /* Basic sends passwords in the clear: off unless asked for */
	char default_trust[64];	      /* bare Basic user names and NTLM without a domain */
	char ntlm_service[128];	      /* NTLM acceptor name, HTTP@host; empty: HTTP@<hostname> */
	uint32_t ntlm_ctx_timeout_s;  /* a half-finished NTLM exchange is dropped after this */
	uint32_t basic_cache_ttl_s;   /* a KDC-verified Basic login answers for itself; 0 = off */
	uint32_t basic_cache_entries; /* capacity of that cache (least recently used goes) */
};

struct ag_trust_conf {
	char realm[64];		 /* the NAME of [trust NAME], as in tickets: AUTHGATE.TEST */
	uint32_t kind;		 /* 0 kerberos, 1 ntlm, 2 basic */
	char keytab[AG_CFG_STR]; /* empty: KRB5_KTNAME */
	uint32_t max_concurrent_api;
	uint32_t timeout_s;
	uint32_t warning_threshold_s;
	uint32_t workers;
	bool replay_cache;
	char netbios_name[16];	    /* DOMAIN of DOMAIN\user and of NTLM Type 3 messages */
	char user_file[AG_CFG_STR]; /* ntlm: DOMAIN:user:password lines (labs); empty: winbind */
};

/* Lab fault injection on the gateway's link, both directions (the kernel here has no netem). */
struct ag_impair_conf {
	uint32_t loss_permille;
	uint32_t duplicate_permille;
	uint32_t reorder_permille;
	uint32_t delay_us;
};

struct ag_config {
	char path[PATH_MAX];
	struct ag_eal_conf eal;
	struct ag_dataplane_conf dp;
	struct ag_log_conf log;
	struct ag_port_conf ports[AG_MAX_PORTS];
	unsigned int nb_ports;
	struct ag_tcp_conf tcp;
	struct ag_diag_conf diag;
	struct ag_http_conf http;
	struct ag_site_conf sites[AG_MAX_SITES];
	unsigned int nb_sites;
	struct ag_auth_conf auth;
	struct ag_trust_conf trusts[AG_MAX_TRUSTS];
	unsigned int nb_trusts;
	struct ag_impair_conf impair;
};

/*
 * Load and validate FILE into *cfg. Every problem is reported on err as
 * "FILE:LINE: [section] key: reason" (all of them, not just the first).
 * Returns 0, or -EINVAL when the file is invalid, or -errno when it cannot be
 * read.
 */
int ag_config_load(const char *file, struct ag_config *cfg, FILE *err);

/* Print the effective configuration (defaults filled in) as INI. */
void ag_config_dump(const struct ag_config *cfg, FILE *out);

#endif
