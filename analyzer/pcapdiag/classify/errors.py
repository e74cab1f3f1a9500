"""Go/Kubernetes error texts for the outcomes we see: errno strings, ICMP mappings, Go formats."""

from __future__ import annotations

import functools

from pcapdiag.prose import HostPort, Text, text

# Linux errno texts as Go's syscall package prints them.
ECONNREFUSED = "connection refused"
EHOSTUNREACH = "no route to host"
ENETUNREACH = "network is unreachable"
EACCES = "permission denied"
EMSGSIZE = "message too long"
EPROTO = "protocol error"
ENOPROTOOPT = "protocol not available"
EHOSTDOWN = "host is down"
ENONET = "machine is not on the network"
ECONNRESET = "connection reset by peer"

# ICMPv4 destination-unreachable code -> errno, Linux net/ipv4/icmp.c icmp_err_convert[]; in
# SYN-SENT, tcp_v4_err aborts the connect with this errno whatever the table's "fatal" bit.
ICMP4_UNREACH_ERRNO = {
    0: ENETUNREACH,  # net unreachable
    1: EHOSTUNREACH,  # host unreachable
    2: ENOPROTOOPT,  # protocol unreachable
    3: ECONNREFUSED,  # port unreachable
    4: EMSGSIZE,  # fragmentation needed
    5: "operation not supported",  # source route failed
    6: ENETUNREACH,  # destination network unknown
    7: EHOSTDOWN,  # destination host unknown
    8: ENONET,  # source host isolated
    9: ENETUNREACH,  # network administratively prohibited
    10: EHOSTUNREACH,  # host administratively prohibited
    11: ENETUNREACH,  # network unreachable for TOS
    12: EHOSTUNREACH,  # host unreachable for TOS
    13: EHOSTUNREACH,  # communication administratively prohibited
    14: EHOSTUNREACH,  # host precedence violation
    15: EHOSTUNREACH,  # precedence cutoff in effect
}
ICMP4_UNREACH_NAMES = {
    0: "network unreachable",
    1: "host unreachable",
    2: "protocol unreachable",
    3: "port unreachable",
    4: "fragmentation needed",
    9: "network administratively prohibited",
    10: "host administratively prohibited",
    13: "communication administratively prohibited",
}
# ICMPv6 destination-unreachable code -> errno, Linux net/ipv6/icmp.c tab_unreach[].
ICMP6_UNREACH_ERRNO = {
    0: ENETUNREACH,  # no route to destination
    1: EACCES,  # communication administratively prohibited
    2: EHOSTUNREACH,  # beyond scope of source address
    3: EHOSTUNREACH,  # address unreachable
    4: ECONNREFUSED,  # port unreachable
    5: EACCES,  # source address failed ingress/egress policy
    6: EACCES,  # reject route to destination
}
ICMP6_UNREACH_NAMES = {
    0: "no route to destination",
    1: "administratively prohibited",
    2: "beyond scope of source address",
    3: "address unreachable",
    4: "port unreachable",
    5: "source address failed policy",
    6: "reject route to destination",
}


def icmp_meaning(family: int, icmp_type: int, code: int) -> tuple[str, str]:
    """(what the ICMP error says, the errno text a Linux connect() returns for it)."""
    if family == 4:
        if icmp_type == 3:
            return (
                f"ICMP destination unreachable ({ICMP4_UNREACH_NAMES.get(code, f'code {code}')})",
                ICMP4_UNREACH_ERRNO.get(code, EHOSTUNREACH),
            )
        if icmp_type == 11:
            return "ICMP time exceeded", EHOSTUNREACH
        return f"ICMP type {icmp_type} code {code}", EPROTO
    if icmp_type == 1:
        return (
            f"ICMPv6 destination unreachable ({ICMP6_UNREACH_NAMES.get(code, f'code {code}')})",
            ICMP6_UNREACH_ERRNO.get(code, EHOSTUNREACH),
        )
    if icmp_type == 2:
        return "ICMPv6 packet too big", EMSGSIZE
    if icmp_type == 3:
        return "ICMPv6 time exceeded", EHOSTUNREACH
    return f"ICMPv6 type {icmp_type} code {code}", EPROTO


@functools.lru_cache(maxsize=1024)  # immutable, and a capture's failures concern a few servers
def dial_error(server: HostPort, errno_text: str) -> Text:
    """Go's net.OpError text for a failed connect: `dial tcp IP:PORT: connect: <errno>`."""
    return text("dial tcp ", server, f": connect: {errno_text}")


@functools.lru_cache(maxsize=1024)
def dial_timeout(server: HostPort) -> Text:
    """Go's text for a dial ended by its deadline (net maps context.DeadlineExceeded to errTimeout)."""
    return text("dial tcp ", server, ": i/o timeout")


def read_error(client: HostPort, server: HostPort, errno_text: str) -> Text:
    """Go's net.OpError text for a failed read on an established connection."""
    return text("read tcp ", client, "->", server, f": read: {errno_text}")


CONTEXT_DEADLINE = "context deadline exceeded"
"""The request context's deadline (the webhook's timeoutSeconds, or the parent request's) expired."""
CLIENT_TIMEOUT = "context deadline exceeded (Client.Timeout exceeded while awaiting headers)"
"""http.Client.Timeout expired, as newer Go words it (older Go: CLIENT_TIMEOUT_OLD)."""
CLIENT_TIMEOUT_OLD = "net/http: request canceled (Client.Timeout exceeded while awaiting headers)"
TLS_HANDSHAKE_TIMEOUT = "net/http: TLS handshake timeout"
RESPONSE_HEADER_TIMEOUT = "net/http: timeout awaiting response headers"
"""Transport.ResponseHeaderTimeout expired (kube-apiserver sets none; custom clients may)."""
H2_GOAWAY = "http2: server sent GOAWAY and closed the connection; LastStreamID=..., ErrCode=..., debug=..."
"""Go's HTTP/2 transport when the server closes after a GOAWAY with the request open (GoAwayError;
the stream id, code and debug data are encrypted: '...')."""
H2_UNEXPECTED_EOF = "unexpected EOF"
"""Go's HTTP/2 transport when the connection ends with the request open and no GOAWAY came."""
