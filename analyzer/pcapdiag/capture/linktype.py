"""LINKTYPE_* values as capture files store them (host-independent) and their libpcap names."""

from __future__ import annotations

# LINKTYPE values from the tcpdump.org link-layer header types registry
# (https://www.tcpdump.org/linktypes.html, draft-ietf-opsawg-pcaplinktype). These are
# file values, never the host's DLT_* numbers, so they never depend on sys.platform.
LINKTYPE_NULL = 0  # BSD loopback: 4-byte address family in the capturing host's byte order
LINKTYPE_ETHERNET = 1  # IEEE 802.3 Ethernet (libpcap name EN10MB)
LINKTYPE_RAW_BSD12 = 12  # raw IP, the DLT_RAW value on some BSDs written into files
LINKTYPE_RAW_BSD14 = 14  # raw IP, the DLT_RAW value on OpenBSD written into files
LINKTYPE_RAW = 101  # raw IPv4 or IPv6, version from the first nibble
LINKTYPE_LOOP = 108  # OpenBSD loopback: 4-byte address family in network byte order
LINKTYPE_LINUX_SLL = 113  # Linux "cooked" capture v1 (tcpdump -i any), 16-byte header
LINKTYPE_IPV4 = 228  # raw IPv4
LINKTYPE_IPV6 = 229  # raw IPv6
LINKTYPE_LINUX_SLL2 = 276  # Linux "cooked" capture v2 (tcpdump -i any, libpcap >= 1.10), 20 bytes

_NAMES: dict[int, str] = {
    LINKTYPE_NULL: "NULL",
    LINKTYPE_ETHERNET: "EN10MB",
    6: "IEEE802",
    9: "PPP",
    10: "FDDI",
    LINKTYPE_RAW_BSD12: "RAW",
    LINKTYPE_RAW_BSD14: "RAW",
    50: "PPP_HDLC",
    51: "PPP_ETHER",
    LINKTYPE_RAW: "RAW",
    104: "C_HDLC",
    105: "IEEE802_11",
    LINKTYPE_LOOP: "LOOP",
    LINKTYPE_LINUX_SLL: "LINUX_SLL",
    127: "IEEE802_11_RADIO",
    192: "PPI",
    LINKTYPE_IPV4: "IPV4",
    LINKTYPE_IPV6: "IPV6",
    239: "NFLOG",
    274: "ETHERNET_MPACKET",
    LINKTYPE_LINUX_SLL2: "LINUX_SLL2",
}


def linktype_name(linktype: int) -> str:
    """The libpcap name of a LINKTYPE value ("EN10MB", "LINUX_SLL2", ...), or "UNKNOWN"."""
    return _NAMES.get(linktype, "UNKNOWN")
