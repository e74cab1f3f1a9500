"""The closed vocabulary of reasons decode() skips a frame, as shared (immutable) Skipped values."""

from __future__ import annotations

from pcapdiag.decode.packet import Skipped

# Not of interest: the bytes are fine, they just are not TCP or an ICMP error about TCP.
UNKNOWN_LINKTYPE = Skipped("unknown-linktype")  # a link layer decode() does not know
NOT_IP = Skipped("not-ip")  # ARP, LLDP, 802.3/LLC, an unknown EtherType or address family
NOT_TCP = Skipped("not-tcp")  # UDP, ICMP echo, an ICMP error quoting UDP, other protocols
FRAGMENT = Skipped("fragment")  # an IP fragment that does not start the TCP header
ESP = Skipped("esp")  # IPsec ESP (RFC 4303): the TCP inside is encrypted
JUMBOGRAM = Skipped("jumbogram")  # IPv6 payload length 0 with a hop-by-hop jumbo option (RFC 2675)
TUNNEL_TOO_DEEP = Skipped("tunnel-too-deep")  # more nested encapsulations than decode() follows
TRUNCATED = Skipped("truncated")  # the capture (snaplen) ended before the header we need

# Malformed: the headers contradict themselves.
MALFORMED_IP = Skipped("malformed-ip", malformed=True)  # bad version, IHL or total length
MALFORMED_TCP = Skipped("malformed-tcp", malformed=True)  # data offset < 5 or past the IP payload
MALFORMED_ICMP = Skipped("malformed-icmp", malformed=True)  # an error whose quote is unusable
