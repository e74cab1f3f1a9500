#!/usr/bin/env python3
"""pyclient: the same webhook call as goclient, made with Python's ssl (OpenSSL).

POST https://<svc>:443/validate?timeout=10s over TLS with SNI <svc>, ALPN
http/1.1 only, verification against the test CA, a fixed local port, and one
overall deadline (default 10 s) that also bounds the TCP connect and the TLS
handshake. One JSON line per event goes to stdout.
"""

from __future__ import annotations

import argparse
import json
import socket
import ssl
import sys
import time

BODY = (
    b'{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1",'
    b'"request":{"uid":"5b3c1a4e-8c1f-4c4a-9d2e-2f6c4c1d0a01",'
    b'"kind":{"group":"","version":"v1","kind":"ConfigMap"},'
    b'"resource":{"group":"","version":"v1","resource":"configmaps"},'
    b'"name":"pcd-demo","namespace":"default","operation":"CREATE",'
    b'"object":{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"pcd-demo"}}}}'
)


def emit(**kw: object) -> None:
    sys.stdout.write(json.dumps(kw) + "\n")
    sys.stdout.flush()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--target", required=True, help="IP to dial")
    ap.add_argument("--port", type=int, default=443)
    ap.add_argument("--laddr", required=True)
    ap.add_argument("--lport", type=int, required=True)
    ap.add_argument("--host", default="webhook.pcd-system.svc")
    ap.add_argument("--ca", required=True)
    ap.add_argument("--max-tls", default="1.3", choices=["1.2", "1.3"])
    ap.add_argument("--timeout", type=float, default=10.0)
    ap.add_argument("--hold", action="store_true",
                    help="after the response wait for a stdin line (max 60 s), then close")
    args = ap.parse_args()

    ctx = ssl.create_default_context(cafile=args.ca)
    ctx.set_alpn_protocols(["http/1.1"])
    if args.max_tls == "1.2":
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2

    family = socket.AF_INET6 if ":" in args.target else socket.AF_INET
    start = time.monotonic()
    t0 = time.time()
    deadline = start + args.timeout

    def left() -> float:
        return float(max(0.001, deadline - time.monotonic()))

    res: dict[str, object] = {"event": "request", "req": 1, "local_port": args.lport,
                              "start_unix_ns": int(t0 * 1e9)}
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.laddr, args.lport))
    conn: ssl.SSLSocket | None = None
    try:
        sock.settimeout(left())
        sock.connect((args.target, args.port))
        sock.settimeout(left())
        conn = ctx.wrap_socket(sock, server_hostname=args.host)
        res["tls_version"] = conn.version()
        res["alpn"] = conn.selected_alpn_protocol()
        secs = int(-(-args.timeout // 1))
        req = (
            f"POST /validate?timeout={secs}s HTTP/1.1\r\n"
            f"Host: {args.host}:{args.port}\r\n"
            "User-Agent: pcd-python-client\r\n"
            "Content-Type: application/json\r\nAccept: application/json, */*\r\n"
            f"Content-Length: {len(BODY)}\r\n\r\n"
        ).encode() + BODY
        conn.settimeout(left())
        conn.sendall(req)
        buf = b""
        while b"\r\n\r\n" not in buf:
            conn.settimeout(left())
            chunk = conn.recv(65536)
            if not chunk:
                raise ConnectionError("server closed the connection before the response")
            buf += chunk
        head, _, body = buf.partition(b"\r\n\r\n")
        res["status"] = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            k, _, v = line.partition(b":")
            if k.strip().lower() == b"content-length":
                length = int(v.strip())
        while len(body) < length:
            conn.settimeout(left())
            chunk = conn.recv(65536)
            if not chunk:
                break
            body += chunk
        res["body_bytes"] = len(body)
    except (OSError, ssl.SSLError, ValueError) as e:  # TimeoutError is an OSError
        res["error"] = f"{type(e).__name__}: {e}"
    res["elapsed_ms"] = round((time.monotonic() - start) * 1000, 3)
    emit(**res)
    if args.hold and "error" not in res:
        emit(event="waiting-hold", local_port=args.lport)
        import select
        select.select([sys.stdin], [], [], 60)
    # close without unwrap(): FIN only, no close_notify
    (conn or sock).close()
    emit(event="exit", local_port=args.lport)
    return 0


if __name__ == "__main__":
    sys.exit(main())
