"""Capture-quality limits of one connection that change what its verdict and timing can claim."""

from __future__ import annotations

from pcapdiag.classify.facts import ConnectionFacts
from pcapdiag.prose import Text, text


def capture_limits(
    facts: ConnectionFacts, kernel_drops: int | None = None, snaplen: int | None = None
) -> tuple[Text, ...]:
    """Short sentences, one per limit: mid-stream start, one direction only, snaplen cuts, kernel drops.

    ``kernel_drops`` is the capture's own drop count (pcapng isb_drop) when known; ``snaplen`` its
    snapshot length when it cuts packets.
    """
    c, s = facts.client_side, facts.server_side
    out: list[Text] = []
    if facts.midstream or (not c.syn_count and s.synack_frame):
        out.append(
            text(
                "the capture began after the client's SYN: the connection's start, and any timer counted "
                "from it, are not in the capture"
            )
        )
    if c.packets and not s.packets and c.acked >= 0:
        out.append(
            text(
                "only the client's packets were captured: it acknowledges server packets the capture never "
                "shows (one direction only)"
            )
        )
    elif s.packets and not c.packets:
        out.append(text("only the server's packets were captured (one direction only)"))
    if facts.snapped:
        n = facts.snapped
        at = f" at {snaplen} bytes" if snaplen else ""
        out.append(
            text(
                f"{n} packet{'s' if n != 1 else ''} cut by the snaplen{at}: what lies past the cut (TLS "
                "record contents, HTTP lines) is unreadable, and only record headers and sizes are used "
                "(capture with tcpdump -s 0 for whole packets)"
            )
        )
    h2 = facts.app.h2
    if h2 is not None and h2.overlaps:
        frames = ", ".join(str(f) for f in h2.overlaps)
        out.append(
            text(
                f"requests overlap on this HTTP/2 connection (a request began in frame {frames} while an "
                "earlier one the server had read was unanswered): concurrent streams cannot be told apart "
                + ("" if h2.cleartext else "inside TLS ")
                + "by sizes and order alone, so the verdict is decided from the last request"
            )
        )
    if facts.app.h2_doubt:
        out.append(text(facts.app.h2_doubt))
    if kernel_drops:
        out.append(
            text(
                f"the capture reports {kernel_drops} packet{'s' * (kernel_drops != 1)} "
                "dropped by the kernel: "
                "packets of this connection "
                "may be missing"
            )
        )
    return tuple(out)
