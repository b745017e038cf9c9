-- authgate lab: replay the pcap loaded on a port (pktgen ... -- -s 0:FILE.pcap) at a set rate.
-- The pcaps come from mkpcap.py: syn-flood, fin-flood, rst-flood, icmp-arp, hostile, replay.
-- Environment: AG_PORT (0), AG_RATE (percent of line rate, 100), AG_SECONDS (30),
-- AG_COUNT (packets, 0 = until AG_SECONDS).
package.path = package.path .. ";?.lua;test/?.lua;app/?.lua;"
require "Pktgen"

local port = os.getenv("AG_PORT") or "0"
local rate = tonumber(os.getenv("AG_RATE") or "100")
local seconds = tonumber(os.getenv("AG_SECONDS") or "30")
local count = tonumber(os.getenv("AG_COUNT") or "0")

pktgen.screen("off")
pktgen.set(port, "rate", rate)
pktgen.set(port, "count", count)
pktgen.set_range(port, "off")
pktgen.pcap(port, "on")       -- send the -s file instead of the single packet
pktgen.clr()

pktgen.start(port)
local waited = 0
while waited < seconds * 1000 do
    pktgen.delay(1000)
    waited = waited + 1000
    local st = pktgen.portStats(port, "port")[tonumber(port)]
    printf("t=%3ds sent %d received %d\n", waited / 1000, st.opackets, st.ipackets)
    if count > 0 and st.opackets >= count then break end
end
pktgen.stop(port)
pktgen.delay(1000)
local st = pktgen.portStats(port, "port")[tonumber(port)]
printf("replay done: sent %d, received %d (authgate's answers: SYN-ACKs, RSTs, ARP/ICMP replies)\n",
       st.opackets, st.ipackets)
pktgen.pcap(port, "off")
pktgen.screen("on")
