/* IPv4 TCP checksum over an mbuf chain whose segments may have any length and alignment. */
#ifndef AG_DATAPLANE_TCP_TCP_CKSUM_H
#define AG_DATAPLANE_TCP_TCP_CKSUM_H

#include <rte_byteorder.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

/*
 * DPDK 22.11's rte_raw_cksum_mbuf() byte-swaps a segment's partial sum after
 * truncating it to 16 bits, so a segment that starts at an odd offset of the
 * L4 data (an odd-length HTTP head followed by file data, say) gets a wrong
 * checksum. Here each partial sum is folded before it is swapped.
 */
static inline uint16_t
tcp_cksum_fold(uint32_t sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* The value for th->cksum: l4_off is where TCP starts in the first segment. */
static inline uint16_t
tcp_cksum_ipv4_mbuf(const struct rte_mbuf *m, const struct rte_ipv4_hdr *ip, uint32_t l4_off)
{
	uint32_t len = rte_be_to_cpu_16(ip->total_length) - rte_ipv4_hdr_len(ip);
	uint32_t sum = rte_ipv4_phdr_cksum(ip, 0), done = 0;
	const struct rte_mbuf *seg = m;
	uint32_t off = l4_off;

	while (seg != NULL && off >= seg->data_len) {
		off -= seg->data_len;
		seg = seg->next;
	}
	for (; seg != NULL && done < len; seg = seg->next, off = 0) {
		uint32_t n = RTE_MIN((uint32_t)seg->data_len - off, len - done);
		uint16_t part = tcp_cksum_fold(
			__rte_raw_cksum(rte_pktmbuf_mtod_offset(seg, const void *, off), n, 0));

		if (done & 1)
			part = rte_bswap16(part);
		sum += part;
		done += n;
	}
	return (uint16_t)~tcp_cksum_fold(sum);
}

/* 0 when the received segment's checksum is right. */
static inline int
tcp_cksum_ipv4_mbuf_verify(const struct rte_mbuf *m, const struct rte_ipv4_hdr *ip, uint32_t l4_off)
{
	/* summing the stored checksum in gives all ones, whose complement is 0 */
	return tcp_cksum_ipv4_mbuf(m, ip, l4_off) != 0;
}

#endif
