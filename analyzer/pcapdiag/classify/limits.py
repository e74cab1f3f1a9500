"""Capture-quality limits of one connection that change what its verdict and timing can claim."""

from __future__ import annotations

from pcapdiag.flow import Connection


def capture_limits(conn: Connection, kernel_drops: int | None = None) -> tuple[str, ...]:
    """Short sentences, one per limit: mid-stream start, one direction only, snaplen cuts, kernel drops.

    ``kernel_drops`` is the capture's own drop count (pcapng isb_drop) when known.
    """
    c, s = conn.client_side, conn.server_side
    out: list[str] = []
    if conn.midstream or (not c.syn_count and s.synack_frame):
        out.append(
            "the capture began after the client's SYN: the connection's start, and any timer counted "
            "from it, are not in the capture"
        )
    if c.packets and not s.packets and c.acked_off >= 0:
        out.append(
            "only the client's packets were captured: it acknowledges server packets the capture never "
            "shows (one direction only)"
        )
    elif s.packets and not c.packets:
        out.append("only the server's packets were captured (one direction only)")
    if conn.snapped:
        n = conn.snapped
        out.append(
            f"{n} packet{'s' if n != 1 else ''} cut by the snaplen: TLS records and HTTP lines past the cut "
            "are unreadable (capture with tcpdump -s 0)"
        )
    if kernel_drops:
        out.append(
            f"the capture reports {kernel_drops} packets dropped by the kernel: packets of this connection "
            "may be missing"
        )
    return tuple(out)
