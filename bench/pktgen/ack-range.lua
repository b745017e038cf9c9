-- authgate lab: ACK flood at unknown flows with Pktgen's own range mode (no pcap needed).
-- Pktgen builds TCP packets with the ACK flag, so every packet is a lookup miss that the
-- gateway takes for a SYN-cookie ACK, rejects, and answers with a RST <SEQ=SEG.ACK>.
-- Environment: AG_PORT (0), AG_GW_MAC (authgate's [port] mac), AG_GW_IP (198.18.0.2),
-- AG_SRC_MAC (this port's MAC, for the range), AG_RATE (100), AG_SECONDS (30).
package.path = package.path .. ";?.lua;test/?.lua;app/?.lua;"
require "Pktgen"

local port = os.getenv("AG_PORT") or "0"
local gw_mac = os.getenv("AG_GW_MAC") or "02:00:5e:18:00:02"
local gw_ip = os.getenv("AG_GW_IP") or "198.18.0.2"
local src_mac = os.getenv("AG_SRC_MAC") or "02:00:5e:18:00:01"
local rate = tonumber(os.getenv("AG_RATE") or "100")
local seconds = tonumber(os.getenv("AG_SECONDS") or "30")

pktgen.screen("off")
pktgen.set_type(port, "ipv4")
pktgen.set_proto(port, "tcp")
pktgen.range.ip_proto(port, "tcp")
pktgen.range.dst_mac(port, "start", gw_mac)
pktgen.range.src_mac(port, "start", src_mac)

pktgen.range.dst_ip(port, "start", gw_ip)
pktgen.range.dst_ip(port, "inc", "0.0.0.0")
pktgen.range.dst_ip(port, "min", gw_ip)
pktgen.range.dst_ip(port, "max", gw_ip)

-- 32512 sources off the gateway's subnet: they reach it through one next hop (see README)
pktgen.range.src_ip(port, "start", "198.18.128.1")
pktgen.range.src_ip(port, "inc", "0.0.0.1")
pktgen.range.src_ip(port, "min", "198.18.128.1")
pktgen.range.src_ip(port, "max", "198.18.254.254")

pktgen.range.src_port(port, "start", 1024)
pktgen.range.src_port(port, "inc", 1)
pktgen.range.src_port(port, "min", 1024)
pktgen.range.src_port(port, "max", 65000)
pktgen.range.dst_port(port, "start", 80)
pktgen.range.dst_port(port, "inc", 0)
pktgen.range.dst_port(port, "min", 80)
pktgen.range.dst_port(port, "max", 80)
pktgen.range.pkt_size(port, "start", 64)
pktgen.range.pkt_size(port, "inc", 0)
pktgen.range.pkt_size(port, "min", 64)
pktgen.range.pkt_size(port, "max", 64)

pktgen.set(port, "rate", rate)
pktgen.set(port, "count", 0)
pktgen.set_range(port, "on")
pktgen.clr()
pktgen.start(port)
pktgen.delay(seconds * 1000)
pktgen.stop(port)
pktgen.delay(1000)
local st = pktgen.portStats(port, "port")[tonumber(port)]
printf("ack flood: sent %d, received %d (expect one RST per ACK until the TX ring saturates)\n",
       st.opackets, st.ipackets)
pktgen.set_range(port, "off")
pktgen.screen("on")
