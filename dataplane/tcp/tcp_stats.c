/* Names for the TCP engine's enums, used by telemetry and logs. */
#include "dataplane/tcp/tcp.h"

static const char *const state_names[TCP_STATE_MAX] = {
	[TCP_CLOSED] = "CLOSED",	   [TCP_LISTEN] = "LISTEN",
	[TCP_SYN_SENT] = "SYN_SENT",	   [TCP_SYN_RECEIVED] = "SYN_RECEIVED",
	[TCP_ESTABLISHED] = "ESTABLISHED", [TCP_FIN_WAIT_1] = "FIN_WAIT_1",
	[TCP_FIN_WAIT_2] = "FIN_WAIT_2",   [TCP_CLOSE_WAIT] = "CLOSE_WAIT",
	[TCP_CLOSING] = "CLOSING",	   [TCP_LAST_ACK] = "LAST_ACK",
	[TCP_TIME_WAIT] = "TIME_WAIT",
};

static const char *const drop_names[TCP_DROP_REASON_MAX] = {
	[TCP_DROP_SHORT] = "short",
	[TCP_DROP_BAD_CSUM] = "bad_csum",
	[TCP_DROP_BAD_DOFF] = "bad_doff",
	[TCP_DROP_BAD_OPTIONS] = "bad_options",
	[TCP_DROP_BAD_FLAGS] = "bad_flags",
	[TCP_DROP_BAD_ADDR] = "bad_addr",
	[TCP_DROP_NOT_OWNER] = "not_owner",
	[TCP_DROP_NO_LISTENER] = "no_listener",
	[TCP_DROP_NO_FLOW] = "no_flow",
	[TCP_DROP_COOKIE] = "bad_cookie",
	[TCP_DROP_FLOW_LIMIT] = "flow_limit",
	[TCP_DROP_POOL_LOW] = "pool_low",
	[TCP_DROP_PAWS] = "paws",
	[TCP_DROP_OUT_OF_WINDOW] = "out_of_window",
	[TCP_DROP_BAD_ACK] = "bad_ack",
	[TCP_DROP_NO_ACK] = "no_ack",
	[TCP_DROP_CHALLENGE] = "challenge_ack",
	[TCP_DROP_OOO_FULL] = "ooo_full",
	[TCP_DROP_STATE] = "state",
	[TCP_DROP_RX_POOL_LOW] = "rx_pool_low",
	[TCP_DROP_RX_SHARE] = "rx_share",
	[TCP_DROP_SRC_LIMIT] = "src_limit",
	[TCP_DROP_ICMP_MALFORMED] = "icmp_malformed",
	[TCP_DROP_ICMP_NO_FLOW] = "icmp_no_flow",
	[TCP_DROP_ICMP_SEQ] = "icmp_bad_seq",
	[TCP_DROP_ICMP_MTU] = "icmp_mtu_not_lower",
};

static const char *const close_names[TCP_CLOSE_REASON_MAX] = {
	[TCP_CLOSE_NORMAL] = "normal",	 [TCP_CLOSE_RESET] = "reset",
	[TCP_CLOSE_TIMEOUT] = "timeout", [TCP_CLOSE_ABORTED] = "aborted",
	[TCP_CLOSE_IDLE] = "idle",	 [TCP_CLOSE_SHUTDOWN] = "shutdown",
};

const char *
tcp_state_str(enum tcp_state s)
{
	return (unsigned int)s < TCP_STATE_MAX ? state_names[s] : "?";
}

const char *
tcp_drop_reason_str(enum tcp_drop_reason r)
{
	return (unsigned int)r < TCP_DROP_REASON_MAX ? drop_names[r] : "?";
}

const char *
tcp_close_reason_str(enum tcp_close_reason r)
{
	return (unsigned int)r < TCP_CLOSE_REASON_MAX ? close_names[r] : "?";
}
