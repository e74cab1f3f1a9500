#!/usr/bin/env python3
"""pyserver: Python/OpenSSL webhook-ish servers for captures/record.py.

Modes (--mode):
  ok                 TLS; read the request, answer 200 with an AdmissionReview
  stall              TLS; read the request, never answer; close (FIN) when the client closes
  silent             accept TCP, never read, never answer (ClientHello sits in the buffer)
  close-after-hello  accept TCP, read the ClientHello, close the socket (FIN)

TLS options: --min-tls/--max-tls (1.2|1.3), --client-ca (require a client certificate).
One JSON line per event goes to stdout; the process exits by itself after --lifetime.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import ssl
import sys
import threading
import time

RESPONSE_BODY = (
    b'{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1",'
    b'"response":{"uid":"5b3c1a4e-8c1f-4c4a-9d2e-2f6c4c1d0a01","allowed":true}}'
)
VERSIONS = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}


def emit(**kw: object) -> None:
    kw.setdefault("t", time.time())
    sys.stdout.write(json.dumps(kw) + "\n")
    sys.stdout.flush()


def read_request(conn: ssl.SSLSocket | socket.socket, deadline: float) -> bytes:
    """Read one HTTP/1.1 request (headers + Content-Length body); bounded by deadline."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        conn.settimeout(max(0.05, deadline - time.monotonic()))
        chunk = conn.recv(65536)
        if not chunk:
            return buf
        buf += chunk
    head, _, body = buf.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v.strip())
    while len(body) < length:
        conn.settimeout(max(0.05, deadline - time.monotonic()))
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


def handle(raw: socket.socket, peer: tuple[str, int], args: argparse.Namespace,
           ctx: ssl.SSLContext | None) -> None:
    deadline = time.monotonic() + args.hold
    port = peer[1]
    try:
        if args.mode == "silent":
            emit(event="accepted-silent", peer_port=port)
            time.sleep(max(0.0, deadline - time.monotonic()))
            return
        if args.mode == "close-after-hello":
            raw.settimeout(5)
            data = raw.recv(65536)
            # the ClientHello can arrive in more than one segment: drain what is there
            raw.settimeout(0.2)
            try:
                while True:
                    more = raw.recv(65536)
                    if not more:
                        break
                    data += more
            except (TimeoutError, BlockingIOError):
                pass
            emit(event="closed-after-hello", peer_port=port, bytes=len(data))
            return
        assert ctx is not None
        raw.settimeout(10)
        try:
            conn = ctx.wrap_socket(raw, server_side=True)
        except (ssl.SSLError, OSError) as e:
            emit(event="handshake-error", peer_port=port, error=repr(e))
            return
        emit(event="handshake-done", peer_port=port, version=conn.version(),
             alpn=conn.selected_alpn_protocol())
        try:
            req = read_request(conn, deadline)
        except (ssl.SSLError, OSError) as e:
            emit(event="read-error", peer_port=port, error=repr(e))
            conn.close()
            return
        emit(event="request", peer_port=port, bytes=len(req),
             line=req.split(b"\r\n", 1)[0].decode("latin-1"))
        if args.mode == "ok":
            conn.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                + b"Content-Length: " + str(len(RESPONSE_BODY)).encode() + b"\r\n\r\n"
                + RESPONSE_BODY
            )
            emit(event="answered", peer_port=port)
            # keep the connection open (keep-alive) until the client closes it
        else:
            emit(event="stalling", peer_port=port)
        while time.monotonic() < deadline:
            conn.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                more = conn.recv(65536)
            except TimeoutError:
                break
            except (ssl.SSLError, OSError) as e:
                emit(event="read-error", peer_port=port, error=repr(e))
                break
            if not more:
                emit(event="client-closed", peer_port=port)
                break
        conn.close()  # no unwrap(): plain FIN, no close_notify
    finally:
        with contextlib.suppress(OSError):
            raw.close()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", required=True)
    ap.add_argument("--port", type=int, default=443)
    ap.add_argument("--mode", default="ok",
                    choices=["ok", "stall", "silent", "close-after-hello"])
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--min-tls", default="1.2", choices=sorted(VERSIONS))
    ap.add_argument("--max-tls", default="1.3", choices=sorted(VERSIONS))
    ap.add_argument("--client-ca")
    ap.add_argument("--hold", type=float, default=30.0, help="max seconds per connection")
    ap.add_argument("--lifetime", type=float, default=90.0)
    args = ap.parse_args()

    ctx = None
    if args.mode in ("ok", "stall"):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.cert, args.key)
        ctx.minimum_version = VERSIONS[args.min_tls]
        ctx.maximum_version = VERSIONS[args.max_tls]
        ctx.set_alpn_protocols(["http/1.1"])
        if os.environ.get("SSLKEYLOGFILE"):
            ctx.keylog_filename = os.environ["SSLKEYLOGFILE"]
        if args.client_ca:
            ctx.load_verify_locations(args.client_ca)
            ctx.verify_mode = ssl.CERT_REQUIRED

    family = socket.AF_INET6 if ":" in args.listen else socket.AF_INET
    ls = socket.socket(family, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((args.listen, args.port))
    ls.listen(16)
    ls.settimeout(0.5)
    end = time.monotonic() + args.lifetime
    emit(event="listening", addr=args.listen, port=args.port)
    while time.monotonic() < end:
        try:
            raw, peer = ls.accept()
        except TimeoutError:
            continue
        threading.Thread(target=handle, args=(raw, peer, args, ctx), daemon=True).start()
    return 0


if __name__ == "__main__":
    sys.exit(main())
