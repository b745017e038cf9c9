-- authgate lab: ICMP echo at line rate (single-packet mode) after an ARP exchange.
-- Environment: AG_PORT (0), AG_GW_MAC, AG_GW_IP (198.18.0.2), AG_MY_IP (198.18.0.1/24),
-- AG_RATE (100), AG_SECONDS (30).
package.path = package.path .. ";?.lua;test/?.lua;app/?.lua;"
require "Pktgen"

local port = os.getenv("AG_PORT") or "0"
local gw_mac = os.getenv("AG_GW_MAC") or "02:00:5e:18:00:02"
local gw_ip = os.getenv("AG_GW_IP") or "198.18.0.2"
local my_ip = os.getenv("AG_MY_IP") or "198.18.0.1/24"
local rate = tonumber(os.getenv("AG_RATE") or "100")
local seconds = tonumber(os.getenv("AG_SECONDS") or "30")

pktgen.screen("off")
pktgen.process(port, "on")             -- answer the gateway's ARP requests for our address
pktgen.set_ipaddr(port, "src", my_ip)  -- the source takes a prefix length
pktgen.set_ipaddr(port, "dst", gw_ip)
pktgen.send_arp(port, "g")             -- gratuitous ARP: the gateway learns us
pktgen.send_arp(port, "req")           -- and answers our request (arp_replies_out)
pktgen.delay(500)
pktgen.set_mac(port, "dst", gw_mac)
pktgen.set_type(port, "ipv4")
pktgen.set_proto(port, "icmp")
pktgen.set(port, "size", 64)
pktgen.set(port, "rate", rate)
pktgen.set(port, "count", 0)
pktgen.set_range(port, "off")
pktgen.clr()
pktgen.start(port)
pktgen.delay(seconds * 1000)
pktgen.stop(port)
pktgen.delay(1000)
local st = pktgen.portStats(port, "port")[tonumber(port)]
printf("icmp: sent %d, received %d echo replies and ARP\n", st.opackets, st.ipackets)
pktgen.screen("on")
