"""What an HTTP/2 verdict says beyond HTTP/1.1's: how HTTP/2 was seen, which records were control frames."""

from __future__ import annotations

from pcapdiag.classify.diagnosis import Candidate
from pcapdiag.classify.errors import ECONNRESET, H2_GOAWAY, H2_UNEXPECTED_EOF, read_error
from pcapdiag.classify.facts import ConnectionFacts
from pcapdiag.classify.labels import Label
from pcapdiag.prose import Text, text
from pcapdiag.tls import Message
from pcapdiag.tls.h2 import Kind, Reading

NS = 1_000_000_000
SIZES = (
    "record length minus the AEAD overhead is the frames' size: a 9-byte frame header, nothing more "
    "for a SETTINGS ACK, 4 bytes for WINDOW_UPDATE and RST_STREAM, 8 for PING and GOAWAY; up to three "
    "share a record, and the HEADERS/DATA of an answer are larger"
)


def readings(items: tuple[Reading, ...], cleartext: bool) -> str:
    """'frame 11 (30 bytes, 13 of plaintext: WINDOW_UPDATE or RST_STREAM), ...' for explanations."""
    if cleartext:
        return ", ".join(f"{r.what} (frame {r.frame})" for r in items)
    return ", ".join(f"frame {r.frame} ({r.length} bytes, {r.size} of plaintext: {r.what})" for r in items)


def closed(
    facts: ConnectionFacts, pending: Message, server_close: int, close_frame: int, reset: bool
) -> tuple[Text, Text, tuple[int, ...], tuple[Candidate, ...]]:
    """(error, explanation, key frames, alternatives) when the server closed with the HTTP/2 request
    open: after a GOAWAY-sized record Go's transport reports the GOAWAY (GoAwayError), else the
    connection's end (unexpected EOF, or the reset)."""
    h2 = facts.app.h2
    assert h2 is not None
    reset_error = read_error(facts.dialled_client, facts.dialled_server, ECONNRESET)
    after = f"{(server_close - pending.ts_ns) / NS:.3f} s after the HTTP/2 request"
    how = "reset" if reset else "closed"
    goaway = h2.goaway
    if goaway is None:
        return (
            reset_error if reset else text(H2_UNEXPECTED_EOF),
            text(
                f"The server {how} the connection {after} without answering it (no GOAWAY-sized record "
                "before the close)."
            ),
            (pending.frame, close_frame),
            () if reset else (Candidate(text("EOF"), text("if the client spoke HTTP/1.1 after all")),),
        )
    size = (
        "a GOAWAY frame"
        if h2.cleartext
        else f"GOAWAY-sized ({goaway.length} bytes, {goaway.size} of plaintext: a 9-byte frame header and "
        "8 bytes of last stream id and error code)"
    )
    return (
        text(H2_GOAWAY),
        text(
            f"The server sent frame {goaway.frame}, {size}, and {how} the connection {after} without "
            "answering it: it announced that it takes no more streams (a graceful shutdown) and did not "
            "finish this one."
        ),
        (pending.frame, goaway.frame, close_frame),
        (
            Candidate(
                reset_error if reset else text(H2_UNEXPECTED_EOF),
                text(
                    "if that record was another control frame of the same size (a PING): Go's HTTP/2 "
                    "transport then reports the connection's end"
                ),
            ),
        ),
    )


def explain(facts: ConnectionFacts, label: Label) -> str:
    """The sentences an HTTP/2 connection's explanation adds: how HTTP/2 was recognised, and for a
    request left unanswered or answered, which server records were taken for what."""
    h2 = facts.app.h2
    assert h2 is not None
    app = facts.app
    parts = [f"It speaks HTTP/2: {h2.how}."]
    if label is Label.AWAITING_HEADERS and app.pending is not None:
        controls = h2.controls_after(app.pending.ts_ns)
        if controls:
            sizes = "" if h2.cleartext else f" ({SIZES})"
            parts.append(
                "The server's records after the request were taken as HTTP/2 control frames, none "
                f"answers it: {readings(controls, h2.cleartext)}{sizes}."
            )
        else:
            parts.append("The server sent no HTTP/2 frame after the request.")
    elif label is Label.OK and app.last_answer is not None:
        last = app.last_answer
        answer = next((r for r in h2.readings if r.frame == last.frame and r.kind is Kind.ANSWER), None)
        request = app.last_request
        controls = tuple(
            r
            for r in (h2.controls_after(request.ts_ns) if request is not None else ())
            if r.ts_ns <= last.ts_ns
        )
        if answer is None:
            said = f"answer, frame {last.frame},"
        elif h2.cleartext:
            said = f"{answer.what} frame (frame {answer.frame})"
        else:
            said = (
                f"answer-sized record, frame {answer.frame} ({answer.length} bytes, {answer.size} of "
                "plaintext),"
            )
        before = (
            f" (before it, taken as control frames: {readings(controls, h2.cleartext)})" if controls else ""
        )
        status = (
            "the HTTP status is in the HPACK-encoded HEADERS, which pcapdiag does not decode"
            if h2.cleartext
            else "the HTTP status is encrypted, so an error status (a 503 from an API server that is not "
            "ready) looks the same at the wire"
        )
        parts.append(f"The server's {said} followed the request{before}; {status}.")
    return " ".join(parts)
