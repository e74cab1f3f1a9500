#!/usr/bin/env python3
"""h2cpeer: HTTP/2 in clear text (h2c, prior knowledge), client or server, built on the `h2` package.

Go 1.19's standard library speaks h2c neither way, so the h2c case uses this peer at both ends.

* `server`: accepts TCP, sends its SETTINGS, answers every request with 200 and a small
  AdmissionReview (mode `ok`), or reads it and never answers (mode `stall`); exits after
  --lifetime.
* `client`: POST /validate?timeout=10s over h2c from a fixed local port, one overall deadline
  (default 10 s); then GOAWAY and close.

Each write goes out as h2 produces it (TCP_NODELAY), as Go's h2 code does. One JSON line per event
on stdout.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import threading
import time

import h2.config
import h2.connection
import h2.events

BODY = (
    b'{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1",'
    b'"request":{"uid":"5b3c1a4e-8c1f-4c4a-9d2e-2f6c4c1d0a01",'
    b'"kind":{"group":"","version":"v1","kind":"ConfigMap"},'
    b'"resource":{"group":"","version":"v1","resource":"configmaps"},'
    b'"name":"pcd-demo","namespace":"default","operation":"CREATE",'
    b'"object":{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"pcd-demo"}}}}'
)
ANSWER = (
    b'{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1",'
    b'"response":{"uid":"5b3c1a4e-8c1f-4c4a-9d2e-2f6c4c1d0a01","allowed":true}}'
)


def emit(**kw: object) -> None:
    sys.stdout.write(json.dumps(kw) + "\n")
    sys.stdout.flush()


def flush(sock: socket.socket, conn: h2.connection.H2Connection) -> None:
    data = conn.data_to_send()
    if data:
        sock.sendall(data)


def serve_one(raw: socket.socket, peer: tuple[str, int], mode: str, hold: float) -> None:
    port = peer[1]
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
    conn.initiate_connection()
    flush(raw, conn)
    deadline = time.monotonic() + hold
    bodies: dict[int, bytes] = {}
    try:
        while time.monotonic() < deadline:
            raw.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                data = raw.recv(65536)
            except TimeoutError:
                break
            if not data:
                emit(event="client-closed", peer_port=port)
                break
            for ev in conn.receive_data(data):
                if isinstance(ev, h2.events.RequestReceived):
                    hdrs = {k.decode(): v.decode() for k, v in ev.headers}
                    emit(event="request", peer_port=port, stream=ev.stream_id,
                         line=f"{hdrs.get(':method')} {hdrs.get(':path')} HTTP/2")
                    bodies[ev.stream_id] = b""
                elif isinstance(ev, h2.events.DataReceived):
                    bodies[ev.stream_id] = bodies.get(ev.stream_id, b"") + ev.data
                    conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                elif isinstance(ev, h2.events.StreamEnded):
                    if mode == "ok":
                        conn.send_headers(ev.stream_id, [
                            (":status", "200"), ("content-type", "application/json"),
                            ("content-length", str(len(ANSWER)))])
                        conn.send_data(ev.stream_id, ANSWER, end_stream=True)
                        emit(event="answered", peer_port=port, stream=ev.stream_id)
                    else:
                        emit(event="stalling", peer_port=port, stream=ev.stream_id)
                elif isinstance(ev, h2.events.ConnectionTerminated):
                    emit(event="goaway", peer_port=port, error_code=int(ev.error_code))
            flush(raw, conn)
    except OSError as e:
        emit(event="read-error", peer_port=port, error=repr(e))
    finally:
        raw.close()


def server(args: argparse.Namespace) -> int:
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
        threading.Thread(target=serve_one, args=(raw, peer, args.mode, args.hold), daemon=True).start()
    return 0


def client(args: argparse.Namespace) -> int:
    family = socket.AF_INET6 if ":" in args.target else socket.AF_INET
    start = time.monotonic()
    t0 = time.time_ns()
    deadline = start + args.timeout
    url = f"http://{args.host}:{args.port}/validate?timeout={int(args.timeout)}s"
    res: dict[str, object] = {"event": "request", "req": 1, "local_port": args.lport,
                              "start_unix_ns": t0, "url": url, "proto": "h2c"}
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.laddr, args.lport))
    sock.settimeout(args.timeout)
    try:
        sock.connect((args.target, args.port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        conn.initiate_connection()
        flush(sock, conn)
        sid = conn.get_next_available_stream_id()
        conn.send_headers(sid, [
            (":method", "POST"), (":scheme", "http"), (":authority", f"{args.host}:{args.port}"),
            (":path", f"/validate?timeout={int(args.timeout)}s"),
            ("content-type", "application/json"), ("accept", "application/json, */*"),
            ("content-length", str(len(BODY))), ("user-agent", "kube-apiserver-admission")])
        flush(sock, conn)
        conn.send_data(sid, BODY, end_stream=True)
        flush(sock, conn)
        status = None
        body = b""
        done = False
        while not done:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("timed out")
            sock.settimeout(left)
            data = sock.recv(65536)
            if not data:
                raise ConnectionError("server closed the connection")
            for ev in conn.receive_data(data):
                if isinstance(ev, h2.events.ResponseReceived) and ev.stream_id == sid:
                    status = int(dict(ev.headers)[b":status"])
                elif isinstance(ev, h2.events.DataReceived) and ev.stream_id == sid:
                    body += ev.data
                    conn.acknowledge_received_data(ev.flow_controlled_length, sid)
                elif isinstance(ev, h2.events.StreamEnded) and ev.stream_id == sid:
                    done = True
            flush(sock, conn)
        res["status"] = status
        res["body_bytes"] = len(body)
        conn.close_connection()
        flush(sock, conn)
    except Exception as e:  # the call's outcome, whatever it is, goes in the result line
        res["error"] = f"{type(e).__name__}: {e}"
    finally:
        res["elapsed_ms"] = round((time.monotonic() - start) * 1000, 3)
        emit(**res)
        sock.close()
    return 0


def main() -> int:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="role", required=True)
    s = sub.add_parser("server")
    s.add_argument("--listen", required=True)
    s.add_argument("--port", type=int, default=80)
    s.add_argument("--mode", default="ok", choices=["ok", "stall"])
    s.add_argument("--hold", type=float, default=30.0, help="max seconds per connection")
    s.add_argument("--lifetime", type=float, default=90.0)
    c = sub.add_parser("client")
    c.add_argument("--target", required=True)
    c.add_argument("--port", type=int, default=80)
    c.add_argument("--laddr", required=True)
    c.add_argument("--lport", type=int, required=True)
    c.add_argument("--host", default="webhook.pcd-system.svc")
    c.add_argument("--timeout", type=float, default=10.0)
    args = ap.parse_args()
    return server(args) if args.role == "server" else client(args)


if __name__ == "__main__":
    sys.exit(main())
