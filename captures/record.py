#!/usr/bin/env python3
"""Record small real captures of webhook calls for pcapdiag's tests.

Run as root:

    python3 captures/record.py                 # every case
    python3 captures/record.py --only refused dnat
    python3 captures/record.py --list

Each case builds three fresh network namespaces (client, router, server),
joined by two veth pairs, runs real peers in them (a Go net/http client shaped
like kube-apiserver's webhook client, Go net/http TLS servers, Python/OpenSSL
clients and servers), records the traffic at the client and at the server at
the same time in five encodings, and writes captures/<case>/ with the capture
files and a truth.json built from what the scenario did (never from pcapdiag).

Addresses come only from 198.18.0.0/15 and 2001:db8::/32; the namespaces have
no default route and no link-local IPv6 addresses.  Namespaces are named
pcd-<pid>-<case number>-{c,r,s} and are deleted on exit (finally, atexit,
SIGINT/SIGTERM/SIGHUP).  Every wait is bounded.

Throwaway CA and certificates are generated into a temporary directory at run
time; keys never land in captures/.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import datetime as dt
import ipaddress
import json
import os
import platform
import re
import shutil
import signal
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PEERS = HERE / "peers"

# --------------------------------------------------------------------------
# addresses: 198.18.0.0/15 and 2001:db8::/32 only
# --------------------------------------------------------------------------
ALLOWED = (ipaddress.ip_network("198.18.0.0/15"), ipaddress.ip_network("2001:db8::/32"))

CLIENT4, ROUTER4_C, ROUTER4_S = "198.18.0.2", "198.18.0.1", "198.19.0.1"
SERVER4 = ["198.19.0.2", "198.19.0.3", "198.19.0.4", "198.19.0.5", "198.19.0.6"]
SERVICE4 = "198.18.100.1"  # "ClusterIP" DNATed by the router
CLIENT6, ROUTER6_C, ROUTER6_S, SERVER6 = (
    "2001:db8:1::2", "2001:db8:1::1", "2001:db8:2::1", "2001:db8:2::2")
SERVICE6 = "2001:db8:100::1"  # the same Service's IPv6 ClusterIP
SVC_HOST = "webhook.pcd-system.svc"
WRONG_HOST = "other-webhook.pcd-other.svc"


def addr_ok(a: str) -> str:
    ip = ipaddress.ip_address(a.split("/")[0])
    if not any(ip in n for n in ALLOWED):
        raise ValueError(f"address {a} outside 198.18.0.0/15 and 2001:db8::/32")
    return a


for _a in [CLIENT4, ROUTER4_C, ROUTER4_S, *SERVER4, SERVICE4,
           CLIENT6, ROUTER6_C, ROUTER6_S, SERVER6, SERVICE6]:
    addr_ok(_a)

PREFIX = f"pcd-{os.getpid()}"
# Environment of every child. SSLKEYLOGFILE is honoured by all four peers, so it is
# dropped unless --keylog asks for it (TLS secrets never go into captures/).
CHILD_ENV = {k: v for k, v in os.environ.items()
             if k not in ("SSLKEYLOGFILE", "HTTP_PROXY", "HTTPS_PROXY", "http_proxy",
                          "https_proxy", "ALL_PROXY", "all_proxy")}
CLIENT_TIMEOUT = 10.0          # webhook timeoutSeconds
GO_CLIENT_TIMEOUT = 30.0       # goclient's default http.Client.Timeout
GO_TLS_HANDSHAKE_TIMEOUT = 10.0  # goclient's Transport.TLSHandshakeTimeout (fixed)
GO_DIAL_TIMEOUT = 30.0         # goclient's net.Dialer.Timeout (fixed)
SETTLE_AFTER = 0.8             # seconds of capture after the last client event
CAPTURE_READY_TIMEOUT = 10.0
MIDSTREAM_QUIET = 1.0          # idle time before a capture that starts mid-connection


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# --------------------------------------------------------------------------
# process / namespace registry and cleanup
# --------------------------------------------------------------------------
class Registry:
    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[Any]] = []
        self.netns: list[str] = []
        self.lock = threading.Lock()

    def cleanup(self) -> None:
        with self.lock:
            procs, self.procs = self.procs, []
            nss, self.netns = self.netns, []
        for p in procs:
            if p.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    p.terminate()
        deadline = time.monotonic() + 3
        for p in procs:
            try:
                p.wait(timeout=max(0.01, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                try:
                    p.kill()
                    p.wait(timeout=2)
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    pass
        for ns in reversed(nss):
            subprocess.run(["ip", "netns", "del", ns], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=10, check=False)


REG = Registry()
atexit.register(REG.cleanup)


def _on_signal(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


for _s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
    signal.signal(_s, _on_signal)


def run(argv: list[str], *, input: str | None = None, timeout: float = 20,
        check: bool = True) -> subprocess.CompletedProcess[str]:
    r = subprocess.run(argv, input=input, text=True, capture_output=True, timeout=timeout,
                       check=False)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({r.returncode}): {r.stderr.strip()}")
    return r


def nsrun(ns: str, argv: list[str], **kw: Any) -> subprocess.CompletedProcess[str]:
    return run(["ip", "netns", "exec", ns, *argv], **kw)


class Proc:
    """A child process inside a namespace; stdout JSON lines are collected by a thread."""

    def __init__(self, ns: str, argv: list[str], name: str, logdir: Path, *,
                 stdin: bool = False) -> None:
        self.name = name
        self.lines: list[dict[str, Any]] = []
        self.raw: list[str] = []
        self.cond = threading.Condition()
        self.stderr_path = logdir / f"{name}.stderr"
        self._stderr = open(self.stderr_path, "wb")  # noqa: SIM115
        self.p = subprocess.Popen(
            ["ip", "netns", "exec", ns, *argv],
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=self._stderr, start_new_session=True, env=CHILD_ENV,
        )
        with REG.lock:
            REG.procs.append(self.p)
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()

    def _read(self) -> None:
        assert self.p.stdout is not None
        for b in self.p.stdout:
            s = b.decode("utf-8", "replace").rstrip("\n")
            with self.cond:
                self.raw.append(s)
                try:
                    self.lines.append(json.loads(s))
                except json.JSONDecodeError:
                    self.lines.append({"text": s})
                self.cond.notify_all()
        with self.cond:
            self.cond.notify_all()

    def wait_line(self, pred: Callable[[dict[str, Any]], bool], timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for ln in self.lines:
                    if pred(ln):
                        return ln
                left = deadline - time.monotonic()
                if left <= 0 or (self.p.poll() is not None and not self.t.is_alive()):
                    raise TimeoutError(f"{self.name}: expected output not seen; got {self.raw}")
                self.cond.wait(min(left, 0.2))

    def send_line(self) -> None:
        assert self.p.stdin is not None
        self.p.stdin.write(b"go\n")
        self.p.stdin.flush()

    def wait(self, timeout: float) -> int:
        try:
            rc = self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            log(f"  ! {self.name} still running after {timeout:.0f}s: killing it")
            self.p.kill()
            rc = self.p.wait(timeout=5)
        self.t.join(timeout=5)
        return rc

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.p.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.p.send_signal(sig)
        try:
            self.p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait(timeout=5)
        self.t.join(timeout=5)

    def stderr_text(self) -> str:
        self._stderr.flush()
        return self.stderr_path.read_text("utf-8", "replace")


# --------------------------------------------------------------------------
# topology: client ns -- veth -- router ns -- veth -- server ns
# --------------------------------------------------------------------------
class Topo:
    """client ns -- veth -- router ns -- veth -- server ns, or with one_link the client and server
    namespaces joined by ONE veth pair (c0 <-> s0): no router, no hop, equal TTLs at both ends."""

    def __init__(self, tag: str, one_link: bool = False) -> None:
        self.c = f"{PREFIX}-{tag}-c"
        self.r = f"{PREFIX}-{tag}-r"
        self.s = f"{PREFIX}-{tag}-s"
        self.one_link = one_link
        self.names = (self.c, self.s) if one_link else (self.c, self.r, self.s)
        # (namespace, device) of every veth end
        self.links = ([(self.c, "c0"), (self.s, "s0")] if one_link else
                      [(self.c, "c0"), (self.r, "r0"), (self.r, "r1"), (self.s, "s0")])

    def ns(self, role: str) -> str:
        if role == "router" and self.one_link:
            raise ValueError("one-link topology has no router")
        return {"client": self.c, "router": self.r, "server": self.s}[role]

    def up(self) -> None:
        for ns in self.names:
            run(["ip", "netns", "add", ns])
            with REG.lock:
                REG.netns.append(ns)
            # no link-local IPv6, no DAD, no RA/RS: only 2001:db8::/32 on the wire
            nsrun(ns, ["sysctl", "-q", "-w",
                       "net.ipv6.conf.default.addr_gen_mode=1",
                       "net.ipv6.conf.all.addr_gen_mode=1",
                       "net.ipv6.conf.default.accept_dad=0",
                       "net.ipv6.conf.all.accept_dad=0",
                       "net.ipv6.conf.default.accept_ra=0",
                       "net.ipv6.conf.all.accept_ra=0",
                       "net.ipv6.conf.default.router_solicitations=0"])
        if self.one_link:
            run(["ip", "-n", self.c, "link", "add", "c0", "type", "veth",
                 "peer", "name", "s0", "netns", self.s])
        else:
            run(["ip", "-n", self.c, "link", "add", "c0", "type", "veth",
                 "peer", "name", "r0", "netns", self.r])
            run(["ip", "-n", self.s, "link", "add", "s0", "type", "veth",
                 "peer", "name", "r1", "netns", self.r])
        for ns, dev in self.links:
            run(["ip", "-n", ns, "link", "set", "dev", dev, "addrgenmode", "none"])
            nsrun(ns, ["sysctl", "-q", "-w", f"net.ipv6.conf.{dev}.accept_dad=0",
                       f"net.ipv6.conf.{dev}.accept_ra=0"])

        def addr(ns: str, dev: str, a: str) -> None:
            addr_ok(a)
            fam = "-6" if ":" in a else "-4"
            extra = ["nodad"] if ":" in a else []
            run(["ip", "-n", ns, fam, "addr", "add", a, "dev", dev, *extra])

        addr(self.c, "c0", f"{CLIENT4}/24")
        addr(self.c, "c0", f"{CLIENT6}/64")
        if not self.one_link:
            addr(self.r, "r0", f"{ROUTER4_C}/24")
            addr(self.r, "r0", f"{ROUTER6_C}/64")
            addr(self.r, "r1", f"{ROUTER4_S}/24")
            addr(self.r, "r1", f"{ROUTER6_S}/64")
        for a in SERVER4:
            addr(self.s, "s0", f"{a}/24")
        addr(self.s, "s0", f"{SERVER6}/64")
        for ns in self.names:
            run(["ip", "-n", ns, "link", "set", "lo", "up"])
        for ns, dev in self.links:
            run(["ip", "-n", ns, "link", "set", "dev", dev, "up"])
        if self.one_link:
            # the other end's subnet is on the link itself (device routes, no gateway): the
            # client ARPs for the server address and the server answers from s0
            run(["ip", "-n", self.c, "route", "add", "198.19.0.0/24", "dev", "c0"])
            run(["ip", "-n", self.c, "-6", "route", "add", "2001:db8:2::/64", "dev", "c0"])
            run(["ip", "-n", self.s, "route", "add", "198.18.0.0/24", "dev", "s0"])
            run(["ip", "-n", self.s, "-6", "route", "add", "2001:db8:1::/64", "dev", "s0"])
        else:
            nsrun(self.r, ["sysctl", "-q", "-w", "net.ipv4.ip_forward=1",
                           "net.ipv6.conf.all.forwarding=1",
                           "net.ipv4.conf.all.send_redirects=0",
                           "net.ipv4.conf.r0.send_redirects=0",
                           "net.ipv4.conf.r1.send_redirects=0"])
            # only the test ranges are routed; no default route anywhere
            run(["ip", "-n", self.c, "route", "add", "198.18.0.0/15", "via", ROUTER4_C])
            run(["ip", "-n", self.c, "-6", "route", "add", "2001:db8::/32", "via", ROUTER6_C])
            run(["ip", "-n", self.s, "route", "add", "198.18.0.0/15", "via", ROUTER4_S])
            run(["ip", "-n", self.s, "-6", "route", "add", "2001:db8::/32", "via", ROUTER6_S])
        # sanity: nothing but the allowed ranges is configured
        for ns in self.names:
            out = run(["ip", "-n", ns, "-j", "addr", "show"]).stdout
            for link in json.loads(out):
                for ai in link.get("addr_info", []):
                    if link["ifname"] == "lo":
                        continue
                    addr_ok(ai["local"])
        # Static IPv6 neighbours: without link-local addresses the router cannot send
        # neighbour solicitations for forwarded packets, so resolve them by hand.
        mac = {}
        for ns, dev in self.links:
            mac[dev] = json.loads(run(["ip", "-n", ns, "-j", "link", "show", "dev", dev])
                                  .stdout)[0]["address"]
        neigh = ([(self.c, SERVER6, "c0", "s0"), (self.s, CLIENT6, "s0", "c0")] if self.one_link
                 else [(self.c, ROUTER6_C, "c0", "r0"), (self.r, CLIENT6, "r0", "c0"),
                       (self.r, SERVER6, "r1", "s0"), (self.s, ROUTER6_S, "s0", "r1")])
        for ns, ip, dev, peer in neigh:
            run(["ip", "-n", ns, "-6", "neigh", "replace", ip, "lladdr", mac[peer],
                 "dev", dev, "nud", "permanent"])

    def no_gso(self, role: str, dev: str) -> None:
        """One MSS-sized segment per packet from this device (veth would otherwise hand
        GSO super-packets of up to 64 KB to tcpdump and to the router's nft rules)."""
        run(["ip", "-n", self.ns(role), "link", "set", "dev", dev, "gso_max_segs", "1"])

    def down(self) -> None:
        for ns in self.names:
            subprocess.run(["ip", "netns", "del", ns], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=10, check=False)
            with REG.lock:
                if ns in REG.netns:
                    REG.netns.remove(ns)


# --------------------------------------------------------------------------
# certificates (throwaway, generated per run, kept in the temp dir)
# --------------------------------------------------------------------------
BIGCHAIN_PAD_NAMES = 12   # extra SAN names on the big-chain leaf (tunes the flight's tail)
LEGACY_CN = "legacy-webhook.pcd-legacy.example"


def make_certs(d: Path) -> dict[str, Any]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.UTC)

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "pcapdiag test"),
                          x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    def ca(cn: str) -> tuple[Any, Any]:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (x509.CertificateBuilder().subject_name(name(cn)).issuer_name(name(cn))
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - dt.timedelta(days=1))
                .not_valid_after(now + dt.timedelta(days=30))
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .add_extension(x509.KeyUsage(False, False, False, False, False, True, True,
                                             False, False), critical=True)
                .sign(key, hashes.SHA256()))
        return cert, key

    def leaf(cn: str, sans: list[str], issuer: tuple[Any, Any], nb: dt.datetime,
             na: dt.datetime, client: bool = False, key: Any = None) -> tuple[Any, Any]:
        key = key or ec.generate_private_key(ec.SECP256R1())
        eku = ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH
        b = (x509.CertificateBuilder().subject_name(name(cn)).issuer_name(issuer[0].subject)
             .public_key(key.public_key()).serial_number(x509.random_serial_number())
             .not_valid_before(nb).not_valid_after(na)
             .add_extension(x509.ExtendedKeyUsage([eku]), critical=False))
        if sans:
            b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName(s) for s in sans]),
                                critical=False)
        return b.sign(issuer[1], hashes.SHA256()), key

    def write(stem: str, cert: Any, key: Any, chain: tuple[Any, ...] = ()) -> None:
        (d / f"{stem}.pem").write_bytes(b"".join(
            c.public_bytes(serialization.Encoding.PEM) for c in (cert, *chain)))
        if key is not None:
            kp = d / f"{stem}.key"
            kp.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                             serialization.PrivateFormat.PKCS8,
                                             serialization.NoEncryption()))
            kp.chmod(0o600)

    d.mkdir(parents=True, exist_ok=True)
    the_ca = ca("pcd test webhook CA")
    rogue = ca("pcd rogue CA (not in caBundle)")
    write("ca", the_ca[0], None)
    good_sans = [SVC_HOST, f"{SVC_HOST}.cluster.local"]
    valid = (now - dt.timedelta(hours=1), now + dt.timedelta(days=7))
    write("good", *leaf(SVC_HOST, good_sans, the_ca, *valid))
    write("wrongname", *leaf(WRONG_HOST, [WRONG_HOST], the_ca, *valid))
    write("unknownca", *leaf(SVC_HOST, good_sans, rogue, *valid))
    write("expired", *leaf(SVC_HOST, good_sans, the_ca, now - dt.timedelta(days=60),
                           now - dt.timedelta(days=30)))
    # bigchain: RSA-4096 leaf (with extra SAN names) + RSA-4096 intermediate under the test CA:
    # a TLS 1.3 server flight of a few KB, i.e. two full segments and a small tail
    ikey = rsa.generate_private_key(public_exponent=65537, key_size=4096)
    inter = (x509.CertificateBuilder().subject_name(name("pcd test webhook intermediate CA"))
             .issuer_name(the_ca[0].subject).public_key(ikey.public_key())
             .serial_number(x509.random_serial_number())
             .not_valid_before(now - dt.timedelta(days=1))
             .not_valid_after(now + dt.timedelta(days=30))
             .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
             .add_extension(x509.KeyUsage(False, False, False, False, False, True, True,
                                          False, False), critical=True)
             .sign(the_ca[1], hashes.SHA256()))
    pad = [f"pad{i:02d}.{SVC_HOST}" for i in range(BIGCHAIN_PAD_NAMES)]
    big_leaf, big_key = leaf(SVC_HOST, good_sans + pad, (inter, ikey), *valid,
                             key=rsa.generate_private_key(public_exponent=65537, key_size=4096))
    write("bigchain", big_leaf, big_key, chain=(inter,))
    # legacy: looks invalid on every count: expired, subject CN only (no subjectAltName), and
    # the CN is not the name the client asks for (SNI)
    lg_nb, lg_na = now - dt.timedelta(days=400), now - dt.timedelta(days=35)
    legacy, lkey = leaf(LEGACY_CN, [], the_ca, lg_nb, lg_na)
    write("legacy", legacy, lkey)
    der_len = {stem: len(c.public_bytes(serialization.Encoding.DER)) for stem, c in
               (("bigchain-leaf", big_leaf), ("bigchain-intermediate", inter))}
    facts = {
        "legacy": {
            "subject_cn": LEGACY_CN,
            "subject_alt_names": [],
            "cn_only": True,
            "sni": SVC_HOST,
            "name_matches_sni": False,
            "issuer_cn": "pcd test webhook CA",
            "not_before": lg_nb.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "not_after": lg_na.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "expired": True,
            "key": "ECDSA P-256",
        },
        "bigchain": {
            "chain": ["leaf RSA-4096 (signed by the intermediate)",
                      "intermediate RSA-4096 (signed by the test CA, ECDSA P-256)"],
            "der_bytes": der_len,
            "leaf_dns_names": len(good_sans) + len(pad),
        },
    }
    return {"ca": d / "ca.pem", "dir": d, "facts": facts}


# --------------------------------------------------------------------------
# peers
# --------------------------------------------------------------------------
def build_go(work: Path) -> dict[str, Path]:
    go = shutil.which("go") or "/usr/lib/go/bin/go"
    if not Path(go).exists():
        raise SystemExit("go not found: apt-get install golang-go")
    env = dict(os.environ)
    env.update(GOCACHE=str(work / "gocache"), GOPATH=str(work / "gopath"), GOPROXY="off",
               GOFLAGS="", GO111MODULE="off", CGO_ENABLED="0", GOTOOLCHAIN="local")
    out: dict[str, Path] = {}
    for prog in ("goclient", "goserver"):
        dst = work / "bin" / prog
        r = subprocess.run([go, "build", "-o", str(dst), str(PEERS / prog / "main.go")],
                           env=env, capture_output=True, text=True, timeout=300, check=False)
        if r.returncode != 0:
            raise SystemExit(f"go build {prog} failed:\n{r.stderr}")
        out[prog] = dst
    ver = subprocess.run([go, "version"], capture_output=True, text=True, timeout=30,
                         check=False).stdout.strip()
    out["version"] = Path(ver)
    return out


# --------------------------------------------------------------------------
# minimal pcap / pcapng reader for the self-check
# --------------------------------------------------------------------------
def _walk(linktype: int, pkt: bytes, ips: set[str], ports: set[int],
          rec: dict[str, Any] | None = None) -> None:
    """Collect the IP addresses and TCP ports of one frame (ICMP quotes included); with rec,
    also the outer header facts of the frame (addresses, TTL, TCP ports/flags/payload length,
    ICMP type/code and the quoted ports)."""
    if linktype == 1:
        if len(pkt) < 14:
            return
        etype, off = struct.unpack("!H", pkt[12:14])[0], 14
    elif linktype == 276:  # LINUX_SLL2
        if len(pkt) < 20:
            return
        etype, off = struct.unpack("!H", pkt[0:2])[0], 20
        if rec is not None:
            rec["ifindex"] = struct.unpack("!I", pkt[4:8])[0]
    else:
        return
    _walk_ip(etype, pkt[off:], ips, ports, 0, rec)


def _walk_ip(etype: int, ip: bytes, ips: set[str], ports: set[int], depth: int,
             rec: dict[str, Any] | None = None) -> None:
    if etype == 0x0800 and len(ip) >= 20:
        ihl = (ip[0] & 0x0F) * 4
        proto, l4 = ip[9], ip[ihl:]
        src, dst = str(ipaddress.IPv4Address(ip[12:16])), str(ipaddress.IPv4Address(ip[16:20]))
        ttl, l4len = ip[8], struct.unpack("!H", ip[2:4])[0] - ihl
    elif etype == 0x86DD and len(ip) >= 40:
        proto, l4 = ip[6], ip[40:]
        src, dst = str(ipaddress.IPv6Address(ip[8:24])), str(ipaddress.IPv6Address(ip[24:40]))
        ttl, l4len = ip[7], struct.unpack("!H", ip[4:6])[0]
    else:
        return
    ips.update((src, dst))
    if rec is not None and depth == 0:
        rec.update(src=src, dst=dst, ttl=ttl, proto=proto, ip_len=l4len + (ihl if etype == 0x0800
                                                                          else 40))
    if proto == 6 and len(l4) >= 4:
        sp, dp = struct.unpack("!HH", l4[:4])
        ports.update((sp, dp))
        if rec is not None and depth == 0:
            rec.update(sport=sp, dport=dp)
            if len(l4) >= 14:
                rec.update(seq=struct.unpack("!I", l4[4:8])[0], flags=l4[13],
                           payload=l4len - (l4[12] >> 4) * 4)
        elif rec is not None and depth == 1:
            rec.update(quoted_sport=sp, quoted_dport=dp)
    elif proto in (1, 58) and depth == 0 and len(l4) >= 8:
        if rec is not None:
            rec.update(icmp_type=l4[0], icmp_code=l4[1])
        _walk_ip(0x0800 if proto == 1 else 0x86DD, l4[8:], ips, ports, 1, rec)


def read_capture(path: Path) -> dict[str, Any]:
    """Packet count, link types, IDB count, the set of TCP ports seen, and one record per packet
    (captured and original length, interface, outer header facts) for the self-check."""
    data = path.read_bytes()
    info: dict[str, Any] = {"packets": 0, "linktypes": [], "ports": set(), "ips": set(),
                            "idbs": 0, "snaplens": [], "recs": []}
    if len(data) < 4:
        return info
    magic = data[:4]
    pcap_magics = {b"\xd4\xc3\xb2\xa1": ("<", "usec"), b"\x4d\x3c\xb2\xa1": ("<", "nsec"),
                   b"\xa1\xb2\xc3\xd4": (">", "usec"), b"\xa1\xb2\x3c\x4d": (">", "nsec")}
    if magic in pcap_magics:
        e, prec = pcap_magics[magic]
        snap, lt = struct.unpack(e + "II", data[16:24])
        info.update(format="pcap", precision=prec, linktypes=[lt], snaplens=[snap])
        off = 24
        while off + 16 <= len(data):
            ts, frac, incl, orig = struct.unpack(e + "IIII", data[off:off + 16])
            pkt = data[off + 16:off + 16 + incl]
            off += 16 + incl
            info["packets"] += 1
            rec: dict[str, Any] = {"t": ts + frac / (1e9 if prec == "nsec" else 1e6),
                                   "caplen": incl, "origlen": orig, "idb": 0}
            _walk(lt & 0xFFFF, pkt, info["ips"], info["ports"], rec)
            info["recs"].append(rec)
        return info
    if magic == b"\x0a\x0d\x0d\x0a":
        info["format"] = "pcapng"
        e = "<" if data[8:12] == b"\x4d\x3c\x2b\x1a" else ">"
        off, lts, snaps = 0, [], []
        while off + 12 <= len(data):
            btype, blen = struct.unpack(e + "II", data[off:off + 8])
            if blen < 12:
                break
            body = data[off + 8:off + blen - 4]
            if btype == 1:
                lt, _res, snap = struct.unpack(e + "HHI", body[:8])
                lts.append(lt)
                snaps.append(snap)
            elif btype == 6:
                ifid, th, tl, cap, orig = struct.unpack(e + "IIIII", body[:20])
                pkt = body[20:20 + cap]
                info["packets"] += 1
                rec = {"t": ((th << 32) | tl) / 1e6, "caplen": cap, "origlen": orig, "idb": ifid}
                _walk(lts[ifid], pkt, info["ips"], info["ports"], rec)
                info["recs"].append(rec)
            off += blen
        info["linktypes"] = lts
        info["snaplens"] = snaps
        info["idbs"] = len(lts)
        return info
    return info


def capture_drops(tool: str, stderr: str) -> int | None:
    """Packets the kernel dropped, as the capture tool reported it when it stopped."""
    if tool == "tcpdump":
        m = re.search(r"(\d+) packets? dropped by kernel", stderr)
        return int(m.group(1)) if m else None
    # dumpcap: "Packets received/dropped on interface 'c0': 47/0 (pcap:0/dumpcap:0/...)"
    found = re.findall(r"Packets received/dropped on interface '[^']*': \d+/(\d+)", stderr)
    return sum(int(x) for x in found) if found else None


# --------------------------------------------------------------------------
# captures
# --------------------------------------------------------------------------
@dataclass
class Capturer:
    proc: Proc
    file: Path
    point: str
    encoding: str
    tool: str
    interfaces: list[str]
    ready_marker: str
    snaplen: int = 0  # 0: full length (tcpdump -s 0 / dumpcap's default)


POINT_IF = {"client": "c0", "server": "s0"}
CUT_SNAPLENS = (96, 128)  # snapshot lengths of the cut captures (tcpdump -s / dumpcap -s)


def bpf(ports: list[int]) -> str:
    tcp = " or ".join(f"tcp port {p}" for p in sorted(set(ports)))
    # ICMPv6 errors only (types < 128): keeps NDP/MLD out of the files
    return f"({tcp}) or icmp or (icmp6 and ip6[40] < 128)"


HEALTHY_LABELS = {"ok", "incomplete", "partial"}
CUT_CONTROLS = {"ok-tls13", "ok-tls12", "h2-ok"}  # healthy cases also recorded cut, as controls


def _dev_packets(cap: Capturer, info: dict[str, Any]) -> int:
    """Packets of a file that passed the point's veth (not lo: ifindex 1 in every namespace,
    interface 0 of the multi-IDB files)."""
    if "any" in cap.interfaces:
        return sum(1 for r in info["recs"] if r.get("ifindex") != 1)
    if "lo" in cap.interfaces:
        return sum(1 for r in info["recs"] if r["idb"] != cap.interfaces.index("lo"))
    return info["packets"]


def _packet_keys(info: dict[str, Any]) -> list[tuple[Any, ...]]:
    keys = ("origlen", "ifindex", "idb", "src", "dst", "ttl", "sport", "dport", "seq", "flags",
            "icmp_type", "icmp_code")
    return sorted(tuple(str(r.get(k)) for k in keys) for r in info["recs"])


def timer_fired(impl: str, error: str | None) -> str | None:
    """Which of the client's timers ended the call, read from the client's own error text."""
    if not error:
        return None
    if impl == "python":
        return "overall_deadline" if "timed out" in error.lower() else None
    if "Client.Timeout exceeded" in error:
        return "client_timeout"
    if "timeout awaiting response headers" in error:
        return "response_header_timeout"
    if "TLS handshake timeout" in error:
        return "tls_handshake_timeout"
    if "context deadline exceeded" in error or ("dial tcp" in error and "i/o timeout" in error):
        # Go 1.19 reports the context's deadline during the dial as "i/o timeout" too (the
        # dialer's own 30 s timeout is longer)
        return "context"
    return None


# --------------------------------------------------------------------------
# one case run
# --------------------------------------------------------------------------
@dataclass
class Conn:
    proc: Proc
    impl: str
    laddr: str
    lport: int
    target: str
    tport: int
    # the client's timer settings as configured (seconds; see client_timers in the README)
    timers: dict[str, Any] = field(default_factory=dict)


class CaseRun:
    def __init__(self, spec: CaseSpec, work: Path, certs: dict[str, Any],
                 bins: dict[str, Path]) -> None:
        self.spec = spec
        self.name = spec.name
        self.out = work / "out" / spec.name
        self.logs = work / "logs" / spec.name
        self.out.mkdir(parents=True)
        self.logs.mkdir(parents=True)
        self.certs = certs
        self.bins = bins
        self.topo = Topo(str(spec.number), one_link=spec.one_link)
        self.capturers: list[Capturer] = []
        self.servers: list[tuple[Proc, str, int, str]] = []
        self.clients: list[Conn] = []
        self.connections: list[dict[str, Any]] = []
        self.notes: list[str] = []
        self.capture_started = 0.0
        self.capture_stopped = 0.0
        # per-case checks of the real packets: per_file -> problems
        self.checks: list[Callable[[dict[str, dict[str, Any]]], list[str]]] = []
        # extra top-level truth keys of the case
        self.extra: dict[str, Any] = {}

    # ---- ports ----
    def port(self, k: int) -> int:
        """Deterministic client source port: 40000 + 10 * case number + k."""
        return 40000 + 10 * self.spec.number + k

    # ---- firewall / sysctl ----
    def nft(self, role: str, ruleset: str) -> None:
        nsrun(self.topo.ns(role), ["nft", "-f", "-"], input=ruleset)

    def ipt(self, role: str, argv: list[str]) -> None:
        nsrun(self.topo.ns(role), ["iptables", *argv])

    def sysctl(self, role: str, kv: str) -> None:
        nsrun(self.topo.ns(role), ["sysctl", "-q", "-w", kv])

    # ---- servers ----
    def _cert(self, which: str) -> list[str]:
        d = self.certs["dir"]
        return [str(d / f"{which}.pem"), str(d / f"{which}.key")]

    def go_server(self, ip: str, port: int, mode: str = "ok", cert: str = "good",
                  maxtls: str = "1.3", plain: bool = False, client_ca: bool = False,
                  delay: float | None = None, body_bytes: int | None = None,
                  h2: bool = False) -> Proc:
        addr_ok(ip)
        hp = f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"
        argv = [str(self.bins["goserver"]), "-listen", hp, "-mode", mode, "-maxtls", maxtls]
        if h2:
            argv.append("-h2")
        if delay is not None:
            argv += ["-delay", f"{delay}s"]
        if body_bytes is not None:
            argv += ["-body-bytes", str(body_bytes)]
        if plain:
            argv.append("-plain")
        else:
            c, k = self._cert(cert)
            argv += ["-cert", c, "-key", k]
        if client_ca:
            argv += ["-client-ca", str(self.certs["ca"])]
        p = Proc(self.topo.s, argv, f"goserver-{ip}-{port}", self.logs)
        p.wait_line(lambda ln: str(ln.get("text", "")).startswith("listening"), 10)
        self.servers.append((p, ip, port, "go"))
        return p

    def py_server(self, ip: str, port: int, mode: str = "ok", cert: str = "good",
                  min_tls: str = "1.2", max_tls: str = "1.3", client_ca: bool = False) -> Proc:
        addr_ok(ip)
        argv = [sys.executable, str(PEERS / "pyserver.py"), "--listen", ip, "--port", str(port),
                "--mode", mode, "--min-tls", min_tls, "--max-tls", max_tls]
        if mode in ("ok", "stall"):
            c, k = self._cert(cert)
            argv += ["--cert", c, "--key", k]
        if client_ca:
            argv += ["--client-ca", str(self.certs["ca"])]
        p = Proc(self.topo.s, argv, f"pyserver-{ip}-{port}", self.logs)
        p.wait_line(lambda ln: ln.get("event") == "listening", 10)
        self.servers.append((p, ip, port, "python"))
        return p

    def h2c_server(self, ip: str, port: int, mode: str = "ok") -> Proc:
        """The h2 package's HTTP/2 in clear text (prior knowledge): peers/h2cpeer.py."""
        addr_ok(ip)
        argv = [sys.executable, str(PEERS / "h2cpeer.py"), "server", "--listen", ip,
                "--port", str(port), "--mode", mode]
        p = Proc(self.topo.s, argv, f"h2cserver-{ip}-{port}", self.logs)
        p.wait_line(lambda ln: ln.get("event") == "listening", 10)
        self.servers.append((p, ip, port, "python"))
        return p

    # ---- clients ----
    def go_client(self, k: int, target: str, tport: int = 443, *, timeout: float = CLIENT_TIMEOUT,
                  maxtls: str = "1.3", n: int = 1, gate: bool = False, hold: bool = False,
                  plain: bool = False, host: str = SVC_HOST, path: str = "/validate",
                  url_port: int | None = None, client_timeout: float = GO_CLIENT_TIMEOUT,
                  response_header_timeout: float = 0.0, insecure: bool = False,
                  h2: bool = False, method: str = "POST", url_host: str | None = None) -> Conn:
        addr_ok(target)
        laddr = CLIENT6 if ":" in target else CLIENT4
        lport = self.port(k)
        hp = f"[{target}]:{tport}" if ":" in target else f"{target}:{tport}"
        argv = [str(self.bins["goclient"]), "-target", hp, "-laddr", laddr,
                "-lport", str(lport), "-host", host, "-ca", str(self.certs["ca"]),
                "-timeout", f"{timeout}s", "-maxtls", maxtls, "-n", str(n), "-path", path,
                "-url-port", str(url_port if url_port is not None else tport),
                "-client-timeout", f"{client_timeout}s",
                "-response-header-timeout", f"{response_header_timeout}s"]
        if insecure:
            argv.append("-insecure")
        if h2:
            argv.append("-h2")
        if method != "POST":
            argv += ["-method", method]
        if url_host is not None:
            argv += ["-url-host", url_host]
        if gate:
            argv.append("-gate")
        if hold:
            argv.append("-hold")
        if plain:
            argv.append("-plain")
        p = Proc(self.topo.c, argv, f"goclient-{lport}", self.logs, stdin=gate or hold)
        timers = {"context_timeout_s": float(timeout), "client_timeout_s": float(client_timeout),
                  "response_header_timeout_s": float(response_header_timeout),
                  "tls_handshake_timeout_s": None if plain else GO_TLS_HANDSHAKE_TIMEOUT,
                  "dial_timeout_s": GO_DIAL_TIMEOUT, "overall_deadline_s": None}
        c = Conn(p, "go", laddr, lport, target, tport, timers)
        self.clients.append(c)
        return c

    def py_client(self, k: int, target: str, tport: int = 443, *,
                  timeout: float = CLIENT_TIMEOUT, max_tls: str = "1.3",
                  hold: bool = False) -> Conn:
        addr_ok(target)
        laddr = CLIENT6 if ":" in target else CLIENT4
        lport = self.port(k)
        argv = [sys.executable, str(PEERS / "pyclient.py"), "--target", target,
                "--port", str(tport), "--laddr", laddr, "--lport", str(lport),
                "--host", SVC_HOST, "--ca", str(self.certs["ca"]), "--timeout", str(timeout),
                "--max-tls", max_tls]
        if hold:
            argv.append("--hold")
        p = Proc(self.topo.c, argv, f"pyclient-{lport}", self.logs, stdin=hold)
        # one socket timeout set to what is left of one deadline before every step
        timers = {"context_timeout_s": None, "client_timeout_s": None,
                  "response_header_timeout_s": None, "tls_handshake_timeout_s": None,
                  "dial_timeout_s": None, "overall_deadline_s": float(timeout)}
        c = Conn(p, "python", laddr, lport, target, tport, timers)
        self.clients.append(c)
        return c

    def h2c_client(self, k: int, target: str, tport: int, *,
                   timeout: float = CLIENT_TIMEOUT) -> Conn:
        """POST over h2c from the h2 package (peers/h2cpeer.py): one overall deadline."""
        addr_ok(target)
        laddr = CLIENT6 if ":" in target else CLIENT4
        lport = self.port(k)
        argv = [sys.executable, str(PEERS / "h2cpeer.py"), "client", "--target", target,
                "--port", str(tport), "--laddr", laddr, "--lport", str(lport),
                "--timeout", str(timeout)]
        p = Proc(self.topo.c, argv, f"h2cclient-{lport}", self.logs)
        timers = {"context_timeout_s": None, "client_timeout_s": None,
                  "response_header_timeout_s": None, "tls_handshake_timeout_s": None,
                  "dial_timeout_s": None, "overall_deadline_s": float(timeout)}
        c = Conn(p, "python", laddr, lport, target, tport, timers)
        self.clients.append(c)
        return c

    def wait_clients(self, conns: list[Conn], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for c in conns:
            c.proc.wait(max(0.1, deadline - time.monotonic()))

    # ---- captures ----
    def start_captures(self, ports: list[int], multi: bool = False, router: bool = False) -> None:
        """Start every capture process of the case at once: at the client and the server, each
        encoding at full length, and when the case is cut (CaseSpec.cut) the same encodings again
        at every snaplen in CUT_SNAPLENS, recorded by their own processes at the same time."""
        filt = bpf(ports)
        if router:
            # -i any in the router: each forwarded packet twice, as it came in and as it went out
            # (after the router's NAT); listed apart from the client/server points in truth.json
            path = self.out / "router-any.pcap"
            argv = ["tcpdump", "-U", "--immediate-mode", "-s", "0", "-Z", "root", "-n", "-i", "any",
                    "-y", "LINUX_SLL2", "-B", "65536", "-w", str(path), filt]
            self.capturers.append(Capturer(Proc(self.topo.r, argv, "cap-router-any.pcap", self.logs),
                                           path, "router", "sll2", "tcpdump", ["any"], "listening on"))
        snaplens = (0, *CUT_SNAPLENS) if self.spec.cut else (0,)
        for point in ("client", "server"):
            ns, dev = self.topo.ns(point), POINT_IF[point]
            for snap in snaplens:
                sfx = f"-s{snap}" if snap else ""
                # a 64 MiB ring for every capture: libpcap sizes ring frames by the snaplen (-i any)
                # or for 64 KB GSO packets (a veth with offloads), so the default 2 MiB holds only
                # a few dozen frames, too few for the 50 KB response of lost-segment
                td = ["tcpdump", "-U", "--immediate-mode", "-s", str(snap), "-Z", "root", "-n",
                      "-B", "65536"]
                # dumpcap: per-interface options, after their -i (-B in MiB)
                ds = ["-B", "64", *(["-s", str(snap)] if snap else [])]
                specs: list[tuple[str, str, list[str], str, list[str], str]] = [
                    (f"{point}-eth{sfx}.pcap", "ethernet-usec", [*td, "-i", dev], "tcpdump", [dev],
                     "listening on"),
                    (f"{point}-eth-nsec{sfx}.pcap", "ethernet-nsec",
                     [*td, "-i", dev, "--time-stamp-precision=nano"], "tcpdump", [dev],
                     "listening on"),
                    (f"{point}-any{sfx}.pcap", "sll2",
                     [*td, "-i", "any", "-y", "LINUX_SLL2"],
                     "tcpdump", ["any"], "listening on"),
                    (f"{point}{sfx}.pcapng", "pcapng",
                     ["dumpcap", "-q", "-i", dev, *ds, "-f", filt],
                     "dumpcap", [dev], "Capturing on"),
                ]
                if multi:
                    # two interfaces -> two IDBs; lo first so the real packets carry interface_id 1
                    specs.append((f"{point}-multi{sfx}.pcapng", "pcapng-multi-idb",
                                  ["dumpcap", "-q", "-i", "lo", *ds, "-f", filt,
                                   "-i", dev, *ds, "-f", filt],
                                  "dumpcap", ["lo", dev], "Capturing on"))
                for fname, enc, argv, tool, ifs, marker in specs:
                    path = self.out / fname
                    full = [*argv, "-w", str(path)]
                    if tool == "tcpdump":
                        full.append(filt)
                    proc = Proc(ns, full, f"cap-{fname}", self.logs)
                    self.capturers.append(Capturer(proc, path, point, enc, tool, ifs, marker, snap))
        deadline = time.monotonic() + CAPTURE_READY_TIMEOUT
        for cap in self.capturers:
            while True:
                txt = cap.proc.stderr_text()
                if cap.ready_marker in txt and cap.file.exists() and (
                        cap.tool == "tcpdump" or cap.file.stat().st_size > 0):
                    break
                if cap.proc.p.poll() is not None:
                    raise RuntimeError(f"capturer {cap.file.name} died: {txt}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"capturer {cap.file.name} not ready: {txt}")
                time.sleep(0.05)
        time.sleep(0.3)  # let the ring buffers settle
        self.capture_started = time.time()

    def stop_captures(self, settle: float = SETTLE_AFTER) -> None:
        time.sleep(settle)
        self.capture_stopped = time.time()
        for cap in self.capturers:
            if cap.proc.p.poll() is None:
                cap.proc.p.send_signal(signal.SIGINT)
        for cap in self.capturers:
            try:
                cap.proc.p.wait(timeout=8)
            except subprocess.TimeoutExpired:
                log(f"  ! {cap.file.name} ignored SIGINT; terminating")
                cap.proc.stop(signal.SIGTERM)
        for cap in self.capturers:
            cap.proc.t.join(timeout=5)

    # ---- truth ----
    def conn(self, c: Conn, label: str, points: list[str], what: str, server_impl: str,
             server_view: tuple[str, int] | None = None, *, where: str, where_why: str,
             interfaces_at: dict[str, list[str]] | None = None, **extra: Any) -> None:
        """Record one connection's truth.

        `where` says where the scenario made the connection fail (issue 5's vocabulary, see
        WHERE) and `where_why` which part of the scenario decides it: both come from what the
        case configured, never from the captures.  `interfaces_at` names, for each point, the
        interfaces its packets pass there (default: the point's veth); a connection whose
        packets pass only `lo` is in the `-i any` and multi-IDB files of that point only."""
        assert label in LABELS, label
        assert where in WHERE, where
        assert where_why, "where_why must say which part of the scenario decides `where`"
        d: dict[str, Any] = {
            "client_port": c.lport, "server_port": c.tport, "label": label, "points": points,
            "where": where, "where_why": where_why,
            "client_ip": c.laddr, "server_ip": c.target,
            "ip_version": 6 if ":" in c.target else 4,
            "client_impl": c.impl, "server_impl": server_impl, "what": what,
        }
        # address/port of the server as each capture point shows it (differs under DNAT)
        d["server_ip_at"] = {p: c.target for p in points}
        d["server_port_at"] = {p: c.tport for p in points}
        d["interfaces_at"] = {p: (interfaces_at or {}).get(p, [POINT_IF[p]]) for p in points}
        d["client_timers"] = dict(c.timers)
        if server_view:
            if "server" in points:
                d["server_ip_at"]["server"] = server_view[0]
                d["server_port_at"]["server"] = server_view[1]
            d["note"] = ("router DNAT: the client capture shows the service address/port, the "
                         "server capture the pod address/port")
        d.update(extra)
        d["_conn"] = c
        self.connections.append(d)

    def teardown(self) -> None:
        for c in self.clients:
            if c.proc.p.poll() is None:
                c.proc.stop(signal.SIGKILL)
        for p, *_ in self.servers:
            if p.p.poll() is None:
                p.stop(signal.SIGTERM)
        for cap in self.capturers:
            if cap.proc.p.poll() is None:
                cap.proc.stop(signal.SIGTERM)
        self.topo.down()

    def finish(self) -> dict[str, Any]:
        """Build truth.json content and self-check the files against it."""
        problems: list[str] = []
        caps = []
        routers: list[dict[str, Any]] = []
        per_file: dict[str, dict[str, Any]] = {}
        by_name: dict[str, Capturer] = {}
        cports = {d["_conn"].lport for d in self.connections}
        for cap in self.capturers:
            info = read_capture(cap.file)
            per_file[cap.file.name] = info
            by_name[cap.file.name] = cap
            for a in sorted(info["ips"]):
                try:
                    addr_ok(a)
                except ValueError as e:
                    problems.append(f"{cap.file.name}: {e}")
            drops = capture_drops(cap.tool, cap.proc.stderr_text())
            if drops != 0:
                problems.append(f"{cap.file.name}: kernel drops {drops} (tool said: "
                                f"{cap.proc.stderr_text().strip().splitlines()[-3:]})")
            problems += self._check_snaplen(cap, info)
            (routers if cap.point == "router" else caps).append(
                {"file": cap.file.name, "point": cap.point, "encoding": cap.encoding,
                 "tool": cap.tool, "interfaces": cap.interfaces,
                 "linktypes": info["linktypes"], "packets": info["packets"],
                 "client_ports_seen": sorted(cports & info["ports"]),
                 "snaplen": cap.snaplen, "dropped_by_kernel": drops,
                 "packets_cut": sum(1 for x in info["recs"] if x["caplen"] < x["origlen"])})
        # the same packets in every file of a point: count those that passed the point's veth
        # (an -i any or multi-IDB file also holds what passed lo); cut files hold the same
        # packets as their full-length twin (compared by original length and headers)
        for point in ("client", "server"):
            counts = {c["file"]: _dev_packets(by_name[c["file"]], per_file[c["file"]])
                      for c in caps if c["point"] == point}
            if len(set(counts.values())) > 1:
                problems.append(f"{point}: packet counts differ between encodings: {counts}")
            lo = {c["file"]: per_file[c["file"]]["packets"] - counts[c["file"]]
                  for c in caps if c["point"] == point and
                  ("any" in c["interfaces"] or "lo" in c["interfaces"])}
            if len(set(lo.values())) > 1:
                problems.append(f"{point}: lo packet counts differ: {lo}")
        for c in caps:
            cap = by_name[c["file"]]
            if cap.snaplen:
                twin = next(x for x in self.capturers if x.point == cap.point and
                            x.encoding == cap.encoding and x.snaplen == 0)
                if _packet_keys(per_file[cap.file.name]) != _packet_keys(per_file[twin.file.name]):
                    problems.append(f"{cap.file.name}: not the same packets as {twin.file.name}")
                # ports a cut file cannot show: the connection's only packets there are ICMP
                # errors whose quoted TCP header lies past the snaplen
                hidden = sorted((cports & per_file[twin.file.name]["ports"])
                                - per_file[cap.file.name]["ports"])
                if hidden:
                    c["client_ports_cut_off"] = hidden
        conns = []
        for d in self.connections:
            c: Conn = d.pop("_conn")
            results = [ln for ln in c.proc.lines if ln.get("event") == "request"]
            d["client_result"] = results
            cfg = next((ln for ln in c.proc.lines if ln.get("event") == "config"), None)
            if c.impl == "go":
                for k in ("context_timeout_s", "client_timeout_s", "response_header_timeout_s",
                          "dial_timeout_s"):
                    if cfg is None or abs(cfg[k] - d["client_timers"][k]) > 1e-6:
                        problems.append(f"port {c.lport}: client_timers.{k} "
                                        f"{d['client_timers'][k]} but the client said {cfg}")
            d["client_timers"]["fired"] = [timer_fired(c.impl, r.get("error")) for r in results]
            slog = self._server_log(c.lport)
            if slog:
                d["server_log"] = slog
            for point in ("client", "server"):
                for f, info in per_file.items():
                    cap = by_name[f]
                    if cap.point != point or cap.snaplen:
                        continue  # cut files: compared with their twin above
                    want = point in d["points"] and (
                        "any" in cap.interfaces or
                        bool(set(cap.interfaces) & set(d["interfaces_at"][point])))
                    seen = c.lport in info["ports"]
                    if want and not seen:
                        problems.append(f"port {c.lport} expected in {f} but missing")
                    if seen and not want:
                        problems.append(f"port {c.lport} not expected in {f} but present")
                    if want and "icmp_source" in d:
                        # who sent the ICMP errors, as the scenario says: check it on the wire
                        icmps = [(x["src"], x["icmp_type"], x["icmp_code"]) for x in info["recs"]
                                 if "icmp_type" in x and x.get("quoted_sport") == c.lport]
                        exp = (d["icmp_source"], d["icmp_type"], d["icmp_code"])
                        if point == "client" and not icmps:
                            problems.append(f"port {c.lport}: no ICMP error in {f}")
                        if any(i != exp for i in icmps):
                            problems.append(f"port {c.lport}: ICMP in {f} is {set(icmps)}, "
                                            f"truth says {exp}")
            conns.append(d)
        # what the case says the wire must show (per-case checks on the real packets)
        for chk in self.checks:
            problems += chk(per_file)
        failing = sorted({d["label"] for d in conns} - HEALTHY_LABELS)
        if bool(failing or self.name in CUT_CONTROLS) != self.spec.cut:
            problems.append(f"cut={self.spec.cut} but labels {failing}: every case with a failing "
                            f"label (and {sorted(CUT_CONTROLS)}) is also recorded cut")
        impls = sorted({d["client_impl"] for d in conns})
        simpls = sorted({d["server_impl"] for d in conns})
        truth = {
            "case": self.name,
            "description": self.spec.description,
            "topology": "one-link" if self.spec.one_link else "routed",
            "client_impl": "+".join(impls),
            "server_impl": "+".join(simpls),
            "captures": caps,
            "connections": conns,
            "capture_window": {
                "start_unix": round(self.capture_started, 6),
                "stop_unix": round(self.capture_stopped, 6),
            },
            "notes": self.notes,
        }
        truth.update(self.extra)
        if routers:
            truth["router_captures"] = routers
        if problems:
            truth["self_check_problems"] = problems
        return truth

    @staticmethod
    def _check_snaplen(cap: Capturer, info: dict[str, Any]) -> list[str]:
        """A full-length file holds whole packets; a cut one says its snaplen in its header,
        holds no packet longer than that, and cut every longer packet at exactly that."""
        out = []
        recs = info["recs"]
        if cap.snaplen == 0:
            short = [r for r in recs if r["caplen"] != r["origlen"]]
            if short:
                out.append(f"{cap.file.name}: {len(short)} packets cut in a full-length file")
            return out
        if any(sn != cap.snaplen for sn in info["snaplens"]):
            out.append(f"{cap.file.name}: header snaplen {info['snaplens']} != {cap.snaplen}")
        if any(r["caplen"] != min(r["origlen"], cap.snaplen) for r in recs):
            out.append(f"{cap.file.name}: a packet not cut at {cap.snaplen}")
        # a case whose packets are all short (SYN, RST, ACK: 54 to 94 bytes) has cut files
        # that cut nothing: they are still recordings at that snaplen (packets_cut says 0)
        return out

    def _server_log(self, lport: int) -> list[str]:
        out: list[str] = []
        for p, _ip, _port, impl in self.servers:
            if impl == "go":
                for line in p.stderr_text().splitlines():
                    if f":{lport}" in line:
                        out.append(line.split(" ", 2)[-1])
            else:
                for ln in p.lines:
                    if ln.get("peer_port") == lport:
                        e = {k: v for k, v in ln.items() if k not in ("t", "peer_port")}
                        out.append(json.dumps(e, sort_keys=True))
        return out


# --------------------------------------------------------------------------
# the cases
# --------------------------------------------------------------------------
LABELS = {"ok", "refused", "syn-timeout", "unreachable", "tls-handshake-timeout", "not-tls",
          "cert-rejected", "tls-failed", "awaiting-headers", "server-closed", "http-error",
          "incomplete", "partial"}
# Where a connection failed, from the scenario (issue 5): in-between (the client's packets
# never reached the server side), return-path (the server answered, the answer never reached
# the client side), server (the server host itself refused, reset, rejected, dropped or stayed
# silent), client (the client aborted), none (healthy), unknown (the scenario cannot say).
WHERE = {"in-between", "return-path", "server", "client", "none", "unknown"}
BOTH = ["client", "server"]
CLIENT_ONLY = ["client"]
S0, S1, S2, S3, S4 = SERVER4
WAIT = CLIENT_TIMEOUT + 8  # bound for a client that should finish by its 10 s deadline


@dataclass
class CaseSpec:
    number: int
    name: str
    description: str
    fn: Callable[[CaseRun], None]
    labels: list[str] = field(default_factory=list)
    impls: str = ""
    # also recorded at snaplen 96 and 128 (every case with a failing label, and the controls)
    cut: bool = False
    # client and server namespaces on one veth pair, no router
    one_link: bool = False


def case_ok_tls13(r: CaseRun) -> None:
    r.go_server(S0, 443, "ok")
    r.start_captures([443], multi=True)
    c = r.go_client(1, S0)
    r.wait_clients([c], WAIT)
    r.stop_captures()
    r.conn(c, "ok", BOTH, "POST answered 200 over TLS 1.3", "go",
           where="none",
           where_why="healthy: the server answered the POST")


def case_ok_tls12(r: CaseRun) -> None:
    r.go_server(S0, 443, "ok", maxtls="1.2")
    r.start_captures([443])
    c1 = r.go_client(1, S0)
    r.wait_clients([c1], WAIT)
    c2 = r.py_client(2, S0)
    r.wait_clients([c2], WAIT)
    r.stop_captures()
    r.conn(c1, "ok", BOTH, "Go client, server max TLS 1.2, 200", "go",
           where="none",
           where_why="healthy: the server answered the POST")
    r.conn(c2, "ok", BOTH, "Python client, server max TLS 1.2, 200", "go",
           where="none",
           where_why="healthy: the server answered the POST")


def case_ok_python(r: CaseRun) -> None:
    r.py_server(S0, 443, "ok")
    r.start_captures([443])
    c = r.py_client(1, S0)
    r.wait_clients([c], WAIT)
    r.stop_captures()
    r.conn(c, "ok", BOTH, "Python client, Python/OpenSSL server, TLS 1.3, 200 "
           "(server sends NewSessionTickets after the client Finished)", "python",
           where="none",
           where_why="healthy: the server answered the POST")


def case_refused(r: CaseRun) -> None:
    p2 = r.port(2)
    r.nft("router", f"""
table inet pcd {{
  chain pcdforward {{ type filter hook forward priority 0; policy accept;
    tcp sport {p2} tcp flags syn reject with tcp reset
  }}
}}""")
    r.start_captures([443])
    c1 = r.go_client(1, S0)
    r.wait_clients([c1], WAIT)
    c2 = r.go_client(2, S0)
    r.wait_clients([c2], WAIT)
    c3 = r.py_client(3, S0)
    r.wait_clients([c3], WAIT)
    r.stop_captures()
    r.conn(c1, "refused", BOTH, "nothing listens on the server: kernel answers SYN with RST,ACK",
           "none",
           where="server",
           where_why="nothing listens on the server host: its own kernel answers the SYN with RST")
    r.conn(c2, "refused", CLIENT_ONLY, "router nft 'reject with tcp reset' answers the SYN "
           "(RST,ACK from the server address); the server never sees it", "none",
           where="in-between",
           where_why="the router between client and server answers the SYN with a TCP RST; the SYN "
                     "never reaches the server side")
    r.conn(c3, "refused", BOTH, "Python client, nothing listening: RST,ACK", "none",
           where="server",
           where_why="nothing listens on the server host: its own kernel answers the SYN with RST")


def _syn_timeout(r: CaseRun, classic: bool) -> None:
    p1, p2 = r.port(1), r.port(2)
    if classic:
        r.sysctl("client", "net.ipv4.tcp_syn_linear_timeouts=0")
    sched = "classic (tcp_syn_linear_timeouts=0)" if classic else \
        "linear (kernel default tcp_syn_linear_timeouts=4)"
    r.notes.append(f"client SYN retransmission schedule: {sched}")
    r.go_server(S0, 443, "ok")
    r.nft("router", f"""
table inet pcd {{
  chain pcdforward {{ type filter hook forward priority 0; policy accept;
    tcp sport {p1} drop
  }}
}}""")
    r.nft("server", f"""
table inet pcd {{
  chain pcdinput {{ type filter hook input priority 0; policy accept;
    tcp sport {p2} drop
  }}
}}""")
    r.start_captures([443])
    c1 = r.go_client(1, S0)
    c2 = r.go_client(2, S0)
    r.wait_clients([c1, c2], WAIT)
    # keep capturing past the next scheduled SYN (11 s linear, 15 s classic) so the
    # capture shows that it never came: the client closed the SYN_SENT socket at 10 s
    nxt = 15.0 if classic else 11.0
    r.stop_captures(settle=nxt - CLIENT_TIMEOUT + 1.5)
    r.notes.append(f"capture kept running until about {nxt + 1.5:.1f} s after the first SYN: "
                   f"the SYN due at {nxt:.0f} s is absent")
    r.conn(c1, "syn-timeout", CLIENT_ONLY,
           f"router drops every packet of this connection; SYN schedule {sched}; "
           "Go client gives up at 10 s", "go",
           where="in-between",
           where_why="the router drops the client's packets; the SYNs never reach the server side")
    r.conn(c2, "syn-timeout", BOTH,
           f"server-side nft input drop (the server capture still sees the SYNs); "
           f"SYN schedule {sched}; Go client gives up at 10 s", "go",
           where="server",
           where_why="a firewall on the server host itself (nft input) drops the SYNs after they "
                     "reached the server side")


def case_syn_timeout(r: CaseRun) -> None:
    _syn_timeout(r, classic=False)


def case_syn_timeout_classic(r: CaseRun) -> None:
    _syn_timeout(r, classic=True)


def case_unreachable(r: CaseRun) -> None:
    p1, p2, p3 = r.port(1), r.port(2), r.port(3)
    r.go_server(S0, 443, "ok")
    r.go_server(SERVER6, 443, "ok")
    r.nft("router", f"""
table inet pcd {{
  chain pcdforward {{ type filter hook forward priority 0; policy accept;
    meta nfproto ipv4 tcp sport {p1} reject with icmp type host-unreachable
    meta nfproto ipv6 tcp sport {p3} reject with icmpv6 type admin-prohibited
  }}
}}""")
    r.ipt("router", ["-A", "FORWARD", "-p", "tcp", "--sport", str(p2), "-j", "REJECT",
                     "--reject-with", "icmp-admin-prohibited"])
    r.start_captures([443])
    c1 = r.go_client(1, S0)
    c2 = r.go_client(2, S0)
    c3 = r.go_client(3, SERVER6)
    r.wait_clients([c1, c2, c3], WAIT)
    r.stop_captures()
    r.conn(c1, "unreachable", CLIENT_ONLY,
           "router (nft) answers the SYN with ICMP host-unreachable (type 3 code 1)", "go",
           where="in-between",
           where_why="the router between client and server rejects the SYN with ICMP; the SYN never "
                     "reaches the server side",
           icmp_from="router", icmp_source=ROUTER4_C, icmp_type=3, icmp_code=1)
    r.conn(c2, "unreachable", CLIENT_ONLY,
           "router (iptables REJECT) answers the SYN with ICMP admin-prohibited "
           "(type 3 code 13)", "go",
           where="in-between",
           where_why="the router between client and server rejects the SYN with ICMP; the SYN never "
                     "reaches the server side",
           icmp_from="router", icmp_source=ROUTER4_C, icmp_type=3, icmp_code=13)
    r.conn(c3, "unreachable", CLIENT_ONLY,
           "IPv6: router (nft) answers the SYN with ICMPv6 admin-prohibited (type 1 code 1); "
           "as recorded here connect() failed (EACCES) only on the second ICMPv6 error, "
           "after the SYN retransmission at ~1 s", "go",
           where="in-between",
           where_why="the router between client and server rejects the SYN with ICMPv6; the SYN never "
                     "reaches the server side",
           icmp_from="router", icmp_source=ROUTER6_C, icmp_type=1, icmp_code=1)


def case_tls_handshake_timeout(r: CaseRun) -> None:
    r.py_server(S0, 443, "silent")
    r.start_captures([443])
    c1 = r.go_client(1, S0)
    c2 = r.go_client(2, S0, timeout=15)
    c3 = r.py_client(3, S0)
    r.wait_clients([c1, c2, c3], 15 + 8)
    r.stop_captures()
    what = "server accepts TCP but never reads or answers the ClientHello; "
    r.conn(c1, "tls-handshake-timeout", BOTH,
           what + "Go client, webhook timeout 10 s (context and 10 s TLSHandshakeTimeout race)",
           "python-silent",
           where="server",
           where_why="the server accepted TCP and stalls the TLS handshake (never reads the "
                     "ClientHello)")
    r.conn(c2, "tls-handshake-timeout", BOTH,
           what + "Go client, webhook timeout 15 s: the 10 s TLSHandshakeTimeout fires first",
           "python-silent",
           where="server",
           where_why="the server accepted TCP and stalls the TLS handshake (never reads the "
                     "ClientHello)")
    r.conn(c3, "tls-handshake-timeout", BOTH, what + "Python client, 10 s deadline",
           "python-silent",
           where="server",
           where_why="the server accepted TCP and stalls the TLS handshake (never reads the "
                     "ClientHello)")


def case_not_tls(r: CaseRun) -> None:
    r.go_server(S0, 443, "ok", plain=True)
    r.start_captures([443])
    c1 = r.go_client(1, S0)
    r.wait_clients([c1], WAIT)
    c2 = r.py_client(2, S0)
    r.wait_clients([c2], WAIT)
    r.stop_captures()
    r.conn(c1, "not-tls", BOTH, "plain-HTTP Go server on 443 answers the ClientHello with "
           "'HTTP/1.1 400 Bad Request'", "go-plain-http",
           where="server",
           where_why="the server speaks plain HTTP on the TLS port and answers with an HTTP 400")
    r.conn(c2, "not-tls", BOTH, "same with the Python/OpenSSL client", "go-plain-http",
           where="server",
           where_why="the server speaks plain HTTP on the TLS port and answers with an HTTP 400")


def case_cert_rejected_tls13(r: CaseRun) -> None:
    r.go_server(S0, 443, "ok", cert="wrongname")
    r.go_server(S1, 443, "ok", cert="unknownca")
    r.go_server(S2, 443, "ok", cert="expired")
    r.start_captures([443])
    cs = [r.go_client(1, S0), r.go_client(2, S1), r.go_client(3, S2)]
    r.wait_clients(cs, WAIT)
    r.stop_captures()
    r.conn(cs[0], "cert-rejected", BOTH,
           f"TLS 1.3, server cert is for {WRONG_HOST} (SNI {SVC_HOST})", "go",
           where="client",
           where_why="the server's certificate flight reached the client, which rejected the "
                     "certificate (wrong name) and aborted")
    r.conn(cs[1], "cert-rejected", BOTH, "TLS 1.3, server cert signed by an unknown CA", "go",
           where="client",
           where_why="the server's certificate flight reached the client, which rejected the "
                     "certificate (unknown CA) and aborted")
    r.conn(cs[2], "cert-rejected", BOTH, "TLS 1.3, server cert expired", "go",
           where="client",
           where_why="the server's certificate flight reached the client, which rejected the "
                     "certificate (expired) and aborted")


def case_cert_rejected_tls12(r: CaseRun) -> None:
    r.go_server(S0, 443, "ok", cert="expired", maxtls="1.2")
    r.go_server(S1, 443, "ok", cert="unknownca", maxtls="1.2")
    r.go_server(S2, 443, "ok", cert="wrongname", maxtls="1.2")
    r.start_captures([443])
    cs = [r.go_client(1, S0), r.py_client(2, S0), r.go_client(3, S1), r.py_client(4, S1),
          r.go_client(5, S2), r.py_client(6, S2)]
    r.wait_clients(cs, WAIT)
    r.stop_captures()
    for c, what in zip(cs, ["expired", "expired", "unknown CA", "unknown CA", "wrong name",
                            "wrong name"], strict=True):
        r.conn(c, "cert-rejected", BOTH,
               f"TLS 1.2 server, cert {what}; {c.impl} client sends a cleartext alert", "go",
               where="client",
               where_why="the server's certificate flight reached the client, which rejected the "
                         "certificate and aborted with an alert")


def case_cert_rejected_python(r: CaseRun) -> None:
    r.go_server(S0, 443, "ok", cert="wrongname")
    r.py_server(S1, 443, "ok", cert="unknownca")
    r.go_server(S2, 443, "ok", cert="expired")
    r.start_captures([443])
    cs = [r.py_client(1, S0), r.py_client(2, S1), r.py_client(3, S2)]
    r.wait_clients(cs, WAIT)
    r.stop_captures()
    r.conn(cs[0], "cert-rejected", BOTH, "Python client, TLS 1.3 Go server, wrong-name cert",
           "go",
           where="client",
           where_why="the server's certificate flight reached the client, which rejected the "
                     "certificate (wrong name) and aborted")
    r.conn(cs[1], "cert-rejected", BOTH, "Python client, TLS 1.3 Python server, unknown-CA cert",
           "python",
           where="client",
           where_why="the server's certificate flight reached the client, which rejected the "
                     "certificate (unknown CA) and aborted")
    r.conn(cs[2], "cert-rejected", BOTH, "Python client, TLS 1.3 Go server, expired cert", "go",
           where="client",
           where_why="the server's certificate flight reached the client, which rejected the "
                     "certificate (expired) and aborted")


def case_tls_failed(r: CaseRun) -> None:
    r.py_server(S0, 443, "ok", min_tls="1.3")
    r.go_server(S1, 443, "ok", maxtls="1.2", client_ca=True)
    r.go_server(S2, 443, "ok", client_ca=True)
    r.py_server(S3, 443, "close-after-hello")
    r.start_captures([443])
    c1 = r.go_client(1, S0, maxtls="1.2")
    c2 = r.go_client(2, S1)
    c3 = r.go_client(3, S2)
    c4 = r.go_client(4, S3)
    c5 = r.py_client(5, S0, max_tls="1.2")
    r.wait_clients([c1, c2, c3, c4, c5], WAIT)
    r.stop_captures()
    r.conn(c1, "tls-failed", BOTH, "client offers at most TLS 1.2, Python/OpenSSL server "
           "is TLS 1.3-only: server answers the ClientHello with a protocol_version alert",
           "python",
           where="server",
           where_why="the server rejects the handshake (TLS 1.3 only; protocol_version alert)")
    r.conn(c2, "tls-failed", BOTH, "TLS 1.2 Go server requires a client certificate, client "
           "has none: cleartext alert from the server after the client's second flight", "go",
           where="server",
           where_why="the server rejects the handshake (requires a client certificate; alert)")
    r.conn(c3, "tls-failed", BOTH, "TLS 1.3 Go server requires a client certificate, client "
           "has none: the client sends CCS + empty Certificate + Finished, the server answers "
           "with an encrypted alert (one 24-byte record) and FIN", "go",
           where="server",
           where_why="the server rejects the handshake (requires a client certificate; alert)")
    r.conn(c4, "tls-failed", BOTH, "server reads the ClientHello and, 0.2 s later, closes "
           "the connection (FIN) without sending a byte", "python-raw",
           where="server",
           where_why="the server closes the connection after reading the ClientHello")
    r.conn(c5, "tls-failed", BOTH, "Python client max TLS 1.2 vs TLS 1.3-only Python server: "
           "protocol_version alert", "python",
           where="server",
           where_why="the server rejects the handshake (TLS 1.3 only; protocol_version alert)")


def case_awaiting_headers(r: CaseRun) -> None:
    r.go_server(S0, 443, "sleep")
    r.py_server(S1, 443, "stall")
    r.start_captures([443])
    c1 = r.go_client(1, S0)
    c2 = r.go_client(2, S1)
    c3 = r.py_client(3, S1)
    r.wait_clients([c1, c2, c3], WAIT)
    r.stop_captures()
    r.conn(c1, "awaiting-headers", BOTH, "Go server handler reads the POST and sleeps 30 s; "
           "Go client gives up at 10 s (close_notify + FIN; the server only ACKs)", "go",
           where="server",
           where_why="the server read the request and stalls instead of answering")
    r.conn(c2, "awaiting-headers", BOTH, "Python/OpenSSL TLS 1.3 server reads the POST and never "
           "answers, but sends two NewSessionTicket records (266 bytes each) after the client "
           "Finished; Go client gives up at 10 s (close_notify + FIN)", "python",
           where="server",
           where_why="the server read the request and stalls instead of answering")
    r.conn(c3, "awaiting-headers", BOTH, "same with the Python client: the second "
           "NewSessionTicket record can follow the POST; at 10 s the client FINs, the OpenSSL "
           "server answers the unexpected EOF with an encrypted decode_error alert", "python",
           where="server",
           where_why="the server read the request and stalls instead of answering")


def case_server_closed(r: CaseRun) -> None:
    r.go_server(S0, 443, "close-fin")
    r.go_server(S1, 443, "close-rst")
    r.go_server(S2, 443, "panic")
    r.start_captures([443])
    cs = [r.go_client(1, S0), r.go_client(2, S1), r.go_client(3, S2)]
    r.wait_clients(cs, WAIT)
    r.stop_captures()
    r.conn(cs[0], "server-closed", BOTH, "Go server reads the POST, hijacks and closes the TCP "
           "socket: FIN, no close_notify, no response", "go",
           where="server",
           where_why="the server read the request and closed the connection (FIN) without answering")
    r.conn(cs[1], "server-closed", BOTH, "Go server reads the POST, hijacks, SO_LINGER 0 and "
           "closes: RST, no response", "go",
           where="server",
           where_why="the server read the request and reset the connection (RST) without answering")
    r.conn(cs[2], "server-closed", BOTH, "Go handler panics: net/http closes the connection "
           "(encrypted close_notify then FIN), no response", "go",
           where="server",
           where_why="the server's handler panicked; it closed the connection without answering")


def case_http_error(r: CaseRun) -> None:
    r.go_server(S0, 8080, "probe", plain=True)
    r.start_captures([8080])
    c = r.go_client(1, S0, 8080, plain=True, host=S0, path="/healthz", timeout=1)
    r.wait_clients([c], WAIT)
    r.stop_captures()
    r.conn(c, "http-error", BOTH, "kubelet-style readiness probe GET /healthz over plain HTTP "
           "answered 500", "go-plain-http",
           where="server",
           where_why="the server answered the probe, with HTTP 500")


def case_keepalive(r: CaseRun) -> None:
    r.go_server(S0, 443, "ok")
    r.go_server(S1, 443, "firstonly")
    # two connections set up (handshake + first POST) before the capture starts
    late_ok = r.go_client(2, S0, n=2, gate=True)
    late_stall = r.go_client(3, S1, n=2, gate=True)
    for c in (late_ok, late_stall):
        c.proc.wait_line(lambda ln: ln.get("event") == "waiting-gate", WAIT)
    time.sleep(MIDSTREAM_QUIET)  # let delayed ACKs of the first exchanges go by
    r.start_captures([443])
    full = r.go_client(1, S0, n=2)
    for c in (late_ok, late_stall):
        c.proc.send_line()
    r.wait_clients([full, late_ok, late_stall], WAIT)
    r.stop_captures()
    r.notes.append(f"connections {late_ok.lport} and {late_stall.lport} had completed their TLS "
                   "handshake and first POST before the capture started; only their second POST "
                   "is on the wire")
    r.conn(full, "ok", BOTH, "one TLS 1.3 connection carries two POSTs; both answered 200 "
           "(the second reuses the idle connection)", "go",
           where="none",
           where_why="healthy: the server answered both POSTs")
    r.conn(late_ok, "ok", BOTH, "capture starts on an established idle keep-alive "
           "connection (no SYN, no handshake); the next POST is answered 200", "go",
           where="none",
           where_why="healthy: the server answered the POST")
    r.conn(late_stall, "awaiting-headers", BOTH, "capture starts on an established idle "
           "keep-alive connection; the next POST gets no answer (the server answers only the "
           "first request of a connection); client gives up at 10 s", "go",
           where="server",
           where_why="the server read the second request on the connection and never answers it")


def case_incomplete(r: CaseRun) -> None:
    r.py_server(S0, 443, "silent")
    r.start_captures([443])
    c1 = r.go_client(1, S0)
    c2 = r.py_client(2, S0)
    time.sleep(2.0)
    r.stop_captures(settle=0.0)
    r.notes.append("capture stopped about 2 s after the connections started, before any "
                   "client timer fired; the clients were then killed")
    r.conn(c1, "incomplete", BOTH, "stalled TLS handshake (no ServerHello) seen for only 2 s",
           "python-silent",
           where="server",
           where_why="the server accepted TCP and stalls the TLS handshake (never reads the "
                     "ClientHello); the capture ends before any client timer fires")
    r.conn(c2, "incomplete", BOTH, "same with the Python client", "python-silent",
           where="server",
           where_why="the server accepted TCP and stalls the TLS handshake (never reads the "
                     "ClientHello); the capture ends before any client timer fires")


def case_partial(r: CaseRun) -> None:
    r.go_server(S0, 443, "ok")
    r.py_server(S1, 443, "ok")
    c1 = r.go_client(1, S0, hold=True)
    c2 = r.py_client(2, S1, hold=True)
    for c in (c1, c2):
        c.proc.wait_line(lambda ln: ln.get("event") == "waiting-hold", WAIT)
    time.sleep(MIDSTREAM_QUIET)  # let delayed ACKs of the exchange go by
    r.start_captures([443])
    for c in (c1, c2):
        c.proc.send_line()
    r.wait_clients([c1, c2], WAIT)
    r.stop_captures()
    r.notes.append("capture started after both requests had been answered; only the "
                   "connection teardown is on the wire")
    r.conn(c1, "partial", BOTH, "capture starts on an idle connection; the Go client closes "
           "it (close_notify + FIN), the server closes too (close_notify + FIN): nothing "
           "decisive", "go",
           where="none",
           where_why="healthy: the request was answered before the capture; both sides close an idle "
                     "connection")
    r.conn(c2, "partial", BOTH, "capture starts on an idle connection; the Python client closes "
           "it (bare FIN, no close_notify), the OpenSSL server answers with one encrypted record "
           "(decode_error alert on unexpected EOF), the client RSTs", "python",
           where="none",
           where_why="healthy: the request was answered before the capture; both sides close an idle "
                     "connection")


def case_dnat(r: CaseRun) -> None:
    r.go_server(S0, 10250, "ok")
    r.nft("router", f"""
table ip pcdnat {{
  chain pre {{ type nat hook prerouting priority -100; policy accept;
    ip daddr {SERVICE4} tcp dport 443 dnat to {S0}:10250
  }}
}}""")
    r.start_captures([443, 10250], router=True)
    c = r.go_client(1, SERVICE4, 443)
    r.wait_clients([c], WAIT)
    r.stop_captures()
    r.conn(c, "ok", BOTH, f"client dials the service address {SERVICE4}:443; router DNATs to "
           f"the pod {S0}:10250; 200", "go", server_view=(S0, 10250),
           where="none",
           where_why="healthy: the server (behind the router's DNAT) answered the POST")


def case_ipv6(r: CaseRun) -> None:
    r.go_server(SERVER6, 443, "ok")
    r.start_captures([443], multi=True)
    c1 = r.go_client(1, SERVER6)
    r.wait_clients([c1], WAIT)
    c2 = r.py_client(2, SERVER6)
    r.wait_clients([c2], WAIT)
    r.stop_captures()
    r.conn(c1, "ok", BOTH, "IPv6, Go client and server, TLS 1.3, 200", "go",
           where="none",
           where_why="healthy: the server answered the POST")
    r.conn(c2, "ok", BOTH, "IPv6, Python client, Go server, TLS 1.3, 200", "go",
           where="none",
           where_why="healthy: the server answered the POST")


def case_return_path(r: CaseRun) -> None:
    p1, p2 = r.port(1), r.port(2)
    r.go_server(S0, 443, "ok")
    # p1: every server->client packet of the connection dies at the router (the SYN-ACKs);
    # p2: server->client segments that carry payload die at the router, so the handshake,
    # pure ACKs and FINs pass but the server's TLS flight never reaches the client.  A
    # segment carries payload when its IP total length exceeds the IP header (20: Linux sends
    # no IP options) plus the TCP header (4 * data offset); nft has no arithmetic, so one
    # rule per data offset.
    payload = "\n    ".join(
        f"ip saddr {S0} tcp sport 443 tcp dport {p2} ip hdrlength 5 tcp doff {doff} "
        f"ip length > {20 + 4 * doff} drop" for doff in range(5, 16))
    r.nft("router", f"""
table inet pcd {{
  chain pcdforward {{ type filter hook forward priority 0; policy accept;
    ip saddr {S0} tcp sport 443 tcp dport {p1} drop
    {payload}
  }}
}}""")
    r.notes.append("client SYN retransmission schedule: linear (kernel default "
                   "tcp_syn_linear_timeouts=4)")
    r.start_captures([443])
    c1 = r.go_client(1, S0)
    c2 = r.go_client(2, S0)
    r.wait_clients([c1, c2], WAIT)
    # as in syn-timeout: run past the SYN that would be due at 11 s
    r.stop_captures(settle=11.0 - CLIENT_TIMEOUT + 1.5)
    r.notes.append("capture kept running until about 12.5 s after the first SYN: the SYN due "
                   "at 11 s is absent")
    r.conn(c1, "syn-timeout", BOTH,
           "Go server listens and answers every SYN with a SYN-ACK; the router drops every "
           "server->client packet of this connection, so the client sees only its own SYNs "
           "(linear schedule) and the server sees SYNs answered by SYN-ACKs, retransmitted; "
           "Go client gives up at 10 s", "go",
           where="return-path",
           where_why="the server answered the SYNs; the router drops the SYN-ACKs on their "
                     "way back to the client")
    r.conn(c2, "tls-handshake-timeout", BOTH,
           "TCP handshake completes; the router drops server->client segments that carry "
           "payload, so the server's TLS flight (ServerHello..Finished) never reaches the "
           "client: the client sees the handshake and ACKs but no ServerHello, the server "
           "sees its flight retransmitted; Go client gives up at 10 s", "go",
           where="return-path",
           where_why="the server answered the ClientHello; the router drops the server's "
                     "TLS flight on its way back to the client")


def case_dnat_refused(r: CaseRun) -> None:
    r.nft("router", f"""
table ip pcdnat {{
  chain pre {{ type nat hook prerouting priority -100; policy accept;
    ip daddr {SERVICE4} tcp dport 443 dnat to {S0}:10250
  }}
}}""")
    r.start_captures([443, 10250], router=True)
    c1 = r.go_client(1, SERVICE4, 443)
    r.wait_clients([c1], WAIT)
    c2 = r.py_client(2, SERVICE4, 443)
    r.wait_clients([c2], WAIT)
    r.stop_captures()
    what = (f"client dials the service address {SERVICE4}:443; router DNATs to the pod "
            f"{S0}:10250, where nothing listens: the pod's kernel answers with RST,ACK")
    why = ("nothing listens on the pod's port behind the router's DNAT: the server host's "
           "own kernel answers the SYN with RST")
    r.conn(c1, "refused", BOTH, what + " (Go client)", "none", server_view=(S0, 10250),
           where="server", where_why=why)
    r.conn(c2, "refused", BOTH, what + " (Python client)", "none", server_view=(S0, 10250),
           where="server", where_why=why)


# ---- helpers for the per-case checks of the real packets (full-length Ethernet files) ----
def _tcp(per_file: dict[str, dict[str, Any]], fname: str, lport: int) -> list[dict[str, Any]]:
    return [x for x in per_file[fname]["recs"] if lport in (x.get("sport"), x.get("dport"))
            and "icmp_type" not in x]


def _from_server(recs: list[dict[str, Any]], lport: int) -> list[dict[str, Any]]:
    return [x for x in recs if x.get("dport") == lport]


def check_ttls(expected: int) -> Callable[[dict[str, dict[str, Any]]], list[str]]:
    """Every packet at every point carries the sender's own TTL / hop limit: nothing forwarded
    it."""
    def chk(per_file: dict[str, dict[str, Any]]) -> list[str]:
        out = []
        for f, info in per_file.items():
            ttls = {x["ttl"] for x in info["recs"] if "ttl" in x}
            if ttls - {expected}:
                out.append(f"{f}: TTLs {sorted(ttls)}, expected only {expected} (no hop)")
        return out
    return chk


def case_one_link(r: CaseRun) -> None:
    p2 = r.port(2)
    r.go_server(S0, 443, "ok")                       # 2 (SYNs dropped before it), 6 (healthy)
    r.py_server(S1, 443, "silent")                   # 3: stalls the TLS handshake
    r.go_server(S2, 443, "sleep")                    # 4: reads the POST, never answers
    r.go_server(S3, 443, "ok", cert="wrongname")     # 5: certificate for another name
    # 1: nothing listens on S4 (198.19.0.6)
    r.nft("server", f"""
table inet pcd {{
  chain pcdinput {{ type filter hook input priority 0; policy accept;
    tcp sport {p2} drop
  }}
}}""")
    r.notes.append("one veth pair between the client and server namespaces, no router: every "
                   "packet has its sender's TTL (64) at both capture points")
    r.notes.append("client SYN retransmission schedule: linear (kernel default "
                   "tcp_syn_linear_timeouts=4)")
    r.checks.append(check_ttls(64))
    r.start_captures([443])
    cs = [r.go_client(1, S4), r.go_client(2, S0), r.go_client(3, S1), r.go_client(4, S2),
          r.go_client(5, S3), r.go_client(6, S0)]
    r.wait_clients(cs, WAIT)
    # as in syn-timeout: run past the SYN that would be due at 11 s
    r.stop_captures(settle=11.0 - CLIENT_TIMEOUT + 1.5)
    one = "one link, no router: "
    r.conn(cs[0], "refused", BOTH, one + "nothing listens on the server: its kernel answers the "
           "SYN with RST,ACK", "none",
           where="server",
           where_why="nothing listens on the server host: its own kernel answers the SYN with RST")
    r.conn(cs[1], "syn-timeout", BOTH, one + "server-side nft input drop (the server capture "
           "still sees the SYNs arrive); linear SYN schedule; Go client gives up at 10 s", "go",
           where="server",
           where_why="a firewall on the server host itself (nft input) drops the SYNs after they "
                     "reached the server side")
    r.conn(cs[2], "tls-handshake-timeout", BOTH, one + "server accepts TCP but never reads or "
           "answers the ClientHello; Go client gives up at 10 s", "python-silent",
           where="server",
           where_why="the server accepted TCP and stalls the TLS handshake (never reads the "
                     "ClientHello)")
    r.conn(cs[3], "awaiting-headers", BOTH, one + "Go server reads the POST and sleeps 30 s; "
           "Go client gives up at 10 s (close_notify + FIN)", "go",
           where="server",
           where_why="the server read the request and stalls instead of answering")
    r.conn(cs[4], "cert-rejected", BOTH, one + f"TLS 1.3, server cert is for {WRONG_HOST} "
           f"(SNI {SVC_HOST})", "go",
           where="client",
           where_why="the server's certificate flight reached the client, which rejected the "
                     "certificate (wrong name) and aborted")
    r.conn(cs[5], "ok", BOTH, one + "POST answered 200 over TLS 1.3", "go",
           where="none",
           where_why="healthy: the server answered the POST")


KUBE_SVC_COMMENT = "pcd-system/webhook:https has no endpoints"


def case_icmp_port_unreachable(r: CaseRun) -> None:
    # (a) the server host's own firewall rejects with ICMP port-unreachable; a server listens
    # behind it, so the ICMP (not a RST) is the firewall's doing
    r.go_server(S1, 443, "ok")
    r.go_server(SERVER6, 443, "ok")
    r.nft("server", f"""
table inet pcd {{
  chain pcdinput {{ type filter hook input priority 0; policy accept;
    meta nfproto ipv4 ip daddr {S1} tcp dport 443 reject with icmp type port-unreachable
    meta nfproto ipv6 ip6 daddr {SERVER6} tcp dport 443 reject with icmpv6 type port-unreachable
  }}
}}""")
    # (b) kube-proxy (iptables mode) on the client's own node, for a Service with no ready
    # endpoints: filter table, OUTPUT -> KUBE-SERVICES -> REJECT icmp-port-unreachable for
    # ClusterIP:port. The SYN is rejected before it leaves; the ICMP goes over lo.
    for tool, vip, rej in (("iptables", f"{SERVICE4}/32", "icmp-port-unreachable"),
                           ("ip6tables", f"{SERVICE6}/128", "icmp6-port-unreachable")):
        nsrun(r.topo.c, [tool, "-N", "KUBE-SERVICES"])
        nsrun(r.topo.c, [tool, "-A", "OUTPUT", "-m", "conntrack", "--ctstate", "NEW", "-m",
                         "comment", "--comment", "kubernetes service portals", "-j",
                         "KUBE-SERVICES"])
        nsrun(r.topo.c, [tool, "-A", "KUBE-SERVICES", "-d", vip, "-p", "tcp", "-m", "comment",
                         "--comment", KUBE_SVC_COMMENT, "-m", "tcp", "--dport", "443", "-j",
                         "REJECT", "--reject-with", rej])
    r.notes.append("client namespace rules, as kube-proxy (iptables mode) writes them for a "
                   "Service without endpoints: " + "; ".join(
                       nsrun(r.topo.c, [t, "-S"]).stdout.strip().replace("\n", "; ")
                       for t in ("iptables", "ip6tables")))
    r.start_captures([443], multi=True)
    cs = [r.go_client(1, S1), r.go_client(2, SERVER6), r.py_client(3, S1),
          r.go_client(4, SERVICE4), r.go_client(5, SERVICE6), r.py_client(6, SERVICE4)]
    r.wait_clients(cs, WAIT)
    r.stop_captures()
    srv = ("a firewall on the server host itself (nft input) answers the SYN with ICMP "
           "port-unreachable after it reached the server side")
    node = ("kube-proxy's REJECT in the client host's own OUTPUT path (Service without "
            "endpoints): the SYN never leaves the client host")
    lo = {"client": ["lo"]}
    r.conn(cs[0], "unreachable", BOTH, "server host nft 'reject with icmp type "
           "port-unreachable' (type 3 code 3) for tcp dport 443, a server listening behind it",
           "go", where="server", where_why=srv,
           icmp_from="server", icmp_source=S1, icmp_type=3, icmp_code=3)
    r.conn(cs[1], "unreachable", BOTH, "IPv6: server host nft 'reject with icmpv6 type "
           "port-unreachable' (type 1 code 4)", "go", where="server", where_why=srv,
           icmp_from="server", icmp_source=SERVER6, icmp_type=1, icmp_code=4)
    r.conn(cs[2], "unreachable", BOTH, "same as the first with the Python client", "go",
           where="server", where_why=srv,
           icmp_from="server", icmp_source=S1, icmp_type=3, icmp_code=3)
    r.conn(cs[3], "unreachable", CLIENT_ONLY, f"client dials the ClusterIP {SERVICE4}:443 of a "
           "Service without endpoints; kube-proxy's iptables REJECT (icmp-port-unreachable) in "
           "the client namespace's OUTPUT path rejects the SYN before it leaves: no SYN on any "
           "interface, the ICMP goes over lo (only the -i any and lo+c0 files show it)",
           "none", where="client", where_why=node, interfaces_at=lo,
           icmp_from="client-node", icmp_source=CLIENT4, icmp_type=3, icmp_code=3)
    r.conn(cs[4], "unreachable", CLIENT_ONLY, f"IPv6: client dials the ClusterIP "
           f"[{SERVICE6}]:443; ip6tables REJECT (icmp6-port-unreachable) in the client "
           "namespace's OUTPUT path; the ICMPv6 goes over lo", "none", where="client",
           where_why=node, interfaces_at=lo,
           icmp_from="client-node", icmp_source=CLIENT6, icmp_type=1, icmp_code=4)
    r.conn(cs[5], "unreachable", CLIENT_ONLY, "same as the first ClusterIP connection with the "
           "Python client", "none", where="client", where_why=node, interfaces_at=lo,
           icmp_from="client-node", icmp_source=CLIENT4, icmp_type=3, icmp_code=3)


def case_client_timers(r: CaseRun) -> None:
    r.go_server(S0, 443, "sleep")
    r.start_captures([443])
    c1 = r.go_client(1, S0, client_timeout=5)
    c2 = r.go_client(2, S0, response_header_timeout=5)
    r.wait_clients([c1, c2], WAIT)
    r.stop_captures()
    r.notes.append(f"the stalled TLS handshake with the context at 10 s (both timers race) and "
                   f"at 15 s (the 10 s TLSHandshakeTimeout fires first) are "
                   f"tls-handshake-timeout's {40000 + 10 * 8 + 1} and {40000 + 10 * 8 + 2}")
    why = "the server read the request and stalls instead of answering"
    r.conn(c1, "awaiting-headers", BOTH, "Go server reads the POST and sleeps 30 s; Go client "
           "with http.Client.Timeout 5 s (context 10 s) gives up at 5 s", "go",
           where="server", where_why=why)
    r.conn(c2, "awaiting-headers", BOTH, "Go server reads the POST and sleeps 30 s; Go client "
           "with Transport.ResponseHeaderTimeout 5 s (context 10 s) gives up at 5 s", "go",
           where="server", where_why=why)


BLACKHOLE_LEN = 1000  # the router drops server->client packets longer than this (IP length)


def case_mtu_blackhole(r: CaseRun) -> None:
    p1 = r.port(1)
    r.topo.no_gso("server", "s0")
    r.go_server(S0, 443, "ok", cert="bigchain")
    r.nft("router", f"""
table inet pcd {{
  chain pcdforward {{ type filter hook forward priority 0; policy accept;
    ip saddr {S0} tcp sport 443 ip length > {BLACKHOLE_LEN} drop
  }}
}}""")
    r.notes.append(f"router forward chain drops server->client packets longer than "
                   f"{BLACKHOLE_LEN} bytes (IP length) and sends no ICMP: a path-MTU black hole")
    r.notes.append("server s0: gso_max_segs 1, so every segment is its own packet (as on a "
                   "NIC) and the router judges segments, not GSO super-packets")
    r.notes.append(f"server certificate chain: {r.certs['facts']['bigchain']}")

    def chk(per_file: dict[str, dict[str, Any]]) -> list[str]:
        out = []
        cl = _from_server(_tcp(per_file, "client-eth.pcap", p1), p1)
        sv = _from_server(_tcp(per_file, "server-eth.pcap", p1), p1)
        if any(x["ip_len"] > BLACKHOLE_LEN for x in cl):
            out.append("a large server segment reached the client")
        tail = [x["payload"] for x in cl if x.get("payload")]
        if not tail:
            out.append("no part of the server's flight reached the client")
        seqs: dict[int, int] = {}
        for x in sv:
            if x.get("payload"):
                seqs[x["seq"]] = seqs.get(x["seq"], 0) + 1
        first = sorted({(x["seq"], x["payload"]) for x in sv if x.get("payload")})
        if not any(n > 1 for n in seqs.values()):
            out.append("the server never retransmitted its flight")
        r.notes.append(f"as recorded: the server's flight left in segments of "
                       f"{[pl for _, pl in first]} payload bytes (server capture, "
                       f"{sum(seqs.values())} data segments with retransmissions); the client "
                       f"received only {tail} payload bytes of it")
        return out
    r.checks.append(chk)
    r.start_captures([443])
    c1 = r.go_client(1, S0)
    r.wait_clients([c1], WAIT)
    r.stop_captures(settle=1.5)
    r.conn(c1, "tls-handshake-timeout", BOTH,
           "TLS 1.3 server flight of a few KB (RSA-4096 leaf + intermediate): the router drops "
           f"server->client packets over {BLACKHOLE_LEN} bytes (path-MTU black hole, no ICMP), "
           "so only the flight's small last segment reaches the client, out of order; the client "
           "answers with duplicate ACKs carrying SACK, the server retransmits the lost segments "
           "in vain; Go client gives up at 10 s", "go",
           where="return-path",
           where_why="the server answered the ClientHello; the router drops the large segments of "
                     "its flight on their way back to the client")


LOSS_PASS_BYTES = 15000  # server->client bytes in packets > 1000 bytes let through before the drop


def case_lost_segment(r: CaseRun) -> None:
    p1 = r.port(1)
    r.topo.no_gso("server", "s0")
    r.go_server(S0, 443, "big", body_bytes=50000)
    # Deterministic loss of exactly one segment, first transmission only: two nft quotas on
    # the connection's large server->client packets. The first rule accepts them until
    # LOSS_PASS_BYTES have been counted; the packet that reaches that total falls through to
    # the second rule, whose 1-packet quota drops it; every later packet (the retransmission
    # included) exceeds both quotas and is accepted by the chain's policy.
    r.nft("router", f"""
table inet pcd {{
  chain pcdforward {{ type filter hook forward priority 0; policy accept;
    ip saddr {S0} tcp sport 443 tcp dport {p1} ip length > 1000 quota until {LOSS_PASS_BYTES + 1} bytes accept
    ip saddr {S0} tcp sport 443 tcp dport {p1} ip length > 1000 quota until 1501 bytes drop
  }}
}}""")
    r.notes.append("server s0: gso_max_segs 1, so every segment is its own packet and the "
                   "router's quotas count segments")

    def chk(per_file: dict[str, dict[str, Any]]) -> list[str]:
        out = []
        sv = [(x["seq"], x["payload"]) for x in
              _from_server(_tcp(per_file, "server-eth.pcap", p1), p1) if x.get("payload")]
        cl = [(x["seq"], x["payload"]) for x in
              _from_server(_tcp(per_file, "client-eth.pcap", p1), p1) if x.get("payload")]
        missing = list(sv)
        for x in cl:
            if x in missing:
                missing.remove(x)
        if len(missing) != 1:
            out.append(f"expected exactly one server segment lost on the way, got {missing}")
            return out
        seq, plen = missing[0]
        if sv.count((seq, plen)) != 2 or cl.count((seq, plen)) != 1:
            out.append(f"segment seq {seq} not sent twice / received once")
        recs = _tcp(per_file, "server-eth.pcap", p1)
        isn = next(x["seq"] for x in recs if x.get("sport") == 443 and x.get("flags", 0) & 0x02)
        firsts: list[tuple[int, int]] = []
        for x in _from_server(recs, p1):
            if x["ip_len"] > 1000 and (x["seq"], x["payload"]) not in firsts:
                firsts.append((x["seq"], x["payload"]))
        times = [x["t"] for x in _from_server(recs, p1) if x.get("seq") == seq
                 and x.get("payload") == plen]
        r.extra["network_loss"]["observed"] = {
            "lost_large_segment_number": firsts.index((seq, plen)) + 1,
            "lost_stream_offset": (seq - isn - 1) % 2**32,
            "lost_payload_bytes": plen,
            "server_stream_bytes": max((x["seq"] - isn - 1) % 2**32 + x["payload"]
                                       for x in _from_server(recs, p1) if x.get("payload")),
            "retransmitted_after_s": round(times[1] - times[0], 6) if len(times) == 2 else None,
        }
        return out
    r.checks.append(chk)
    r.extra["network_loss"] = {
        "where": "router",
        "what": "the first transmission of one mid-response server->client segment is dropped "
                "(the server's retransmission passes)",
        "how": f"nft forward chain, two quota rules on the connection's server->client packets "
               f"longer than 1000 bytes: 'quota until {LOSS_PASS_BYTES + 1} bytes accept' then "
               f"'quota until 1501 bytes drop'",
        "dropped": f"the first server->client packet longer than 1000 bytes at which the "
                   f"running total of such packets' IP lengths reaches {LOSS_PASS_BYTES + 1} "
                   f"bytes (observed: which one, where in the stream; the server capture's "
                   f"view)",
    }
    r.start_captures([443])
    c1 = r.go_client(1, S0)
    r.wait_clients([c1], WAIT)
    r.stop_captures()
    r.conn(c1, "ok", BOTH, "POST answered 200 with a 50 KB AdmissionReview (a JSON patch); the "
           "router drops the first transmission of one mid-response segment, the client's "
           "duplicate ACKs / SACK get it retransmitted, the call succeeds", "go",
           where="none",
           where_why="healthy: the server answered the POST; one segment lost in the network "
                     "and retransmitted by TCP")


LATE_DELAY = 11.0


def case_late_answer(r: CaseRun) -> None:
    p1 = r.port(1)
    r.go_server(S0, 443, "late", delay=LATE_DELAY)

    def chk(per_file: dict[str, dict[str, Any]]) -> list[str]:
        recs = _tcp(per_file, "client-eth.pcap", p1)
        fin = next((i for i, x in enumerate(recs) if x.get("sport") == p1
                    and x.get("flags", 0) & 0x01), None)
        if fin is None:
            return ["the client never sent FIN"]
        late = next((i for i, x in enumerate(recs) if i > fin and x.get("dport") == p1
                     and x.get("payload")), None)
        if late is None:
            return ["no server data after the client's FIN"]
        rst = [x for x in recs[late:] if x.get("sport") == p1 and x.get("flags", 0) & 0x04]
        if not rst:
            return ["the client's kernel did not answer the late data with RST"]
        r.notes.append(f"as recorded: the server's answer reached the client "
                       f"{recs[late]['t'] - recs[0]['t']:.2f} s after the SYN, "
                       f"{recs[late]['t'] - recs[fin]['t']:.2f} s after the client's FIN")
        return []
    r.checks.append(chk)
    r.start_captures([443])
    c1 = r.go_client(1, S0)
    r.wait_clients([c1], WAIT)
    r.stop_captures(settle=LATE_DELAY - CLIENT_TIMEOUT + 1.5)
    r.conn(c1, "awaiting-headers", BOTH, f"Go server reads the POST and answers 200 "
           f"{LATE_DELAY:.0f} s later; the Go client's context (10 s) expired first: it closed "
           "(close_notify + FIN), the late response arrives after and the client's kernel "
           "answers it with RST", "go",
           where="server",
           where_why="the server answered after the client's deadline (11 s > 10 s)")


def case_insecure_cert(r: CaseRun) -> None:
    p1 = r.port(1)
    r.go_server(S0, 443, "ok", cert="legacy", maxtls="1.2")

    def chk(per_file: dict[str, dict[str, Any]]) -> list[str]:
        syns = [x for x in _tcp(per_file, "client-eth.pcap", p1)
                if x.get("sport") == p1 and x.get("flags", 0) & 0x02]
        return [] if len(syns) == 1 else [f"expected one connection (one SYN), saw {len(syns)}"]
    r.checks.append(chk)
    r.start_captures([443])
    c1 = r.go_client(1, S0, n=3, insecure=True)
    r.wait_clients([c1], WAIT)
    r.stop_captures()
    r.conn(c1, "ok", BOTH, "TLS 1.2; the server's certificate is expired, has only a Common "
           f"Name (no subjectAltName) and that name ({LEGACY_CN}) is not the SNI; the Go client "
           "skips verification (InsecureSkipVerify) and sends three POSTs on one connection, "
           "all answered 200, then closes it (close_notify + FIN); the server's own "
           "close_notify arrives after the client closed its socket and draws the client "
           "kernel's RST, as in ok-tls13", "go",
           where="none",
           where_why="healthy: the server answered all three POSTs; the client does not verify "
                     "the certificate",
           server_certificate=r.certs["facts"]["legacy"])


H2_WHAT = "HTTP/2 (ALPN h2, Go's net/http server)"
METRICS_HOST = "metrics-server.kube-system.svc"
METRICS_PORT = 4443
AGGREGATOR_TIMEOUT = 5.0  # the availability controller's discovery client: http.Client{Timeout: 5 s}


def case_h2_ok(r: CaseRun) -> None:
    r.go_server(S0, 443, "ok", h2=True)
    r.go_server(S1, 443, "ok", maxtls="1.2", h2=True)
    r.go_server(S2, 443, "unavailable", h2=True)
    r.start_captures([443])
    c1 = r.go_client(1, S0, h2=True)
    c2 = r.go_client(2, S1, h2=True)
    c3 = r.go_client(3, S2, h2=True)
    r.wait_clients([c1, c2, c3], WAIT)
    r.stop_captures()
    r.conn(c1, "ok", BOTH, "HTTP/2 over TLS 1.3 (ALPN h2 offered with http/1.1, chosen inside the "
           "encrypted EncryptedExtensions): POST answered 200", "go",
           where="none", where_why="healthy: the server answered the POST")
    r.conn(c2, "ok", BOTH, "HTTP/2 over TLS 1.2 (the ServerHello's ALPN says h2 in clear): POST "
           "answered 200", "go",
           where="none", where_why="healthy: the server answered the POST")
    r.conn(c3, "ok", BOTH, "HTTP/2 over TLS 1.3: the server reads the POST and answers 503 at once "
           "(an aggregated API server that is not ready); the status is encrypted, the wire shows "
           "an answer", "go",
           where="none", where_why="the server answered (with 503): at the wire the call was "
                                   "answered; only the client knows the status")


def case_h2_awaiting_headers(r: CaseRun) -> None:
    r.go_server(S0, 443, "sleep", h2=True)
    r.start_captures([443])
    c1 = r.go_client(1, S0, h2=True)
    r.wait_clients([c1], WAIT)
    r.stop_captures()
    r.conn(c1, "awaiting-headers", BOTH, "HTTP/2 over TLS 1.3: the Go server sends its SETTINGS, "
           "acknowledges the client's, reads the POST (WINDOW_UPDATE frames as the body arrives) "
           "and its handler sleeps 30 s; the Go client gives up at 10 s", "go",
           where="server",
           where_why="the server read the request and stalls instead of answering")


def case_h2_server_closed(r: CaseRun) -> None:
    r.go_server(S0, 443, "goaway", h2=True)
    r.start_captures([443])
    c1 = r.go_client(1, S0, h2=True)
    r.wait_clients([c1], WAIT)
    r.stop_captures()
    r.conn(c1, "server-closed", BOTH, "HTTP/2 over TLS 1.3: the Go server reads the POST, starts a "
           "graceful shutdown (GOAWAY) and closes the connection 0.2 s later without answering",
           "go", where="server",
           where_why="the server read the request, sent GOAWAY and closed without answering")


def case_h2c(r: CaseRun) -> None:
    r.h2c_server(S0, 80, "ok")
    r.h2c_server(S1, 80, "stall")
    r.start_captures([80])
    c1 = r.h2c_client(1, S0, 80)
    c2 = r.h2c_client(2, S1, 80)
    r.wait_clients([c1, c2], WAIT)
    r.stop_captures()
    r.conn(c1, "ok", BOTH, "h2c (HTTP/2 in clear text, prior knowledge, the h2 package at both "
           "ends): POST answered 200", "python-h2c",
           where="none", where_why="healthy: the server answered the POST")
    r.conn(c2, "awaiting-headers", BOTH, "h2c: the server sends its SETTINGS, acknowledges the "
           "client's, reads the POST and never answers; the client gives up at 10 s (FIN)",
           "python-h2c", where="server",
           where_why="the server read the request and stalls instead of answering")


def case_aggregated_api(r: CaseRun) -> None:
    r.go_server(S1, METRICS_PORT, "sleep", h2=True)
    r.start_captures([METRICS_PORT])
    c1 = r.go_client(1, S1, METRICS_PORT, h2=True, method="GET", host=METRICS_HOST,
                     url_host=S1, path="/apis/metrics.k8s.io/v1beta1", timeout=30.0,
                     client_timeout=AGGREGATOR_TIMEOUT, insecure=True)
    r.wait_clients([c1], WAIT)
    r.stop_captures()
    r.conn(c1, "awaiting-headers", BOTH, "the aggregator's availability check, as kube-aggregator "
           f"makes it: GET https://{S1}:{METRICS_PORT}/apis/metrics.k8s.io/v1beta1 over HTTP/2 "
           "(TLS 1.3, no certificate check, http.Client.Timeout 5 s) to a backend (the "
           "APIService's endpoint) that reads it and never answers; the client gives up at 5 s",
           "go", where="server",
           where_why="the backend read the request and stalls instead of answering")


CASES: list[CaseSpec] = [
    CaseSpec(1, "ok-tls13", "Go client POSTs to a Go TLS 1.3 webhook, answered 200",
             case_ok_tls13, cut=True),
    CaseSpec(2, "ok-tls12", "Go and Python clients POST to a Go webhook capped at TLS 1.2, "
             "answered 200", case_ok_tls12, cut=True),
    CaseSpec(3, "ok-python", "Python client to a Python/OpenSSL TLS 1.3 server, answered 200",
             case_ok_python),
    CaseSpec(4, "refused", "SYN answered by RST: nothing listening on the server, and a router "
             "'reject with tcp reset'", case_refused, cut=True),
    CaseSpec(5, "syn-timeout", "SYNs dropped (router and server-side), kernel default linear SYN "
             "schedule; Go client gives up at 10 s", case_syn_timeout, cut=True),
    CaseSpec(6, "syn-timeout-classic", "SYNs dropped (router and server-side), classic SYN "
             "schedule (tcp_syn_linear_timeouts=0); Go client gives up at 10 s",
             case_syn_timeout_classic, cut=True),
    CaseSpec(7, "unreachable", "router rejects the SYN with ICMP host-unreachable / "
             "admin-prohibited and ICMPv6 admin-prohibited", case_unreachable, cut=True),
    CaseSpec(8, "tls-handshake-timeout", "server accepts TCP but never answers the ClientHello; "
             "clients give up at 10 s", case_tls_handshake_timeout, cut=True),
    CaseSpec(9, "not-tls", "plain HTTP server on 443 answers the ClientHello with "
             "HTTP/1.1 400 Bad Request", case_not_tls, cut=True),
    CaseSpec(10, "cert-rejected-tls13", "Go client rejects a TLS 1.3 Go server certificate "
             "(wrong name, unknown CA, expired)", case_cert_rejected_tls13, cut=True),
    CaseSpec(11, "cert-rejected-tls12", "Go and Python clients reject a TLS 1.2 server "
             "certificate with a cleartext alert (expired, unknown CA, wrong name)",
             case_cert_rejected_tls12, cut=True),
    CaseSpec(12, "cert-rejected-python", "Python/OpenSSL client rejects TLS 1.3 server "
             "certificates (Go and Python servers)", case_cert_rejected_python, cut=True),
    CaseSpec(13, "tls-failed", "handshake fails on the server side: protocol_version alert, "
             "client certificate required (TLS 1.2 and 1.3), server closes after the ClientHello",
             case_tls_failed, cut=True),
    CaseSpec(14, "awaiting-headers", "TLS up, POST sent and ACKed, no response; clients give up "
             "at 10 s (Go server that sleeps, Python/OpenSSL server that stalls)",
             case_awaiting_headers, cut=True),
    CaseSpec(15, "server-closed", "server reads the POST and closes without answering: FIN, "
             "RST (SO_LINGER 0), handler panic", case_server_closed, cut=True),
    CaseSpec(16, "http-error", "plain-HTTP readiness probe GET /healthz answered 500",
             case_http_error, cut=True),
    CaseSpec(17, "keepalive", "keep-alive: one TLS connection carries two POSTs, both answered; "
             "and the capture starts on two established connections: one next POST answered, "
             "one never answered", case_keepalive, cut=True),
    CaseSpec(19, "incomplete", "capture stopped 2 s into stalled TLS handshakes, before any "
             "timer fired", case_incomplete),
    CaseSpec(20, "partial", "capture starts on idle connections and sees only their teardown",
             case_partial),
    CaseSpec(21, "dnat", f"router DNATs the service {SERVICE4}:443 to the pod {S0}:10250; 200",
             case_dnat),
    CaseSpec(22, "ipv6", "IPv6 (2001:db8::/32) Go and Python clients to a Go TLS 1.3 server, 200",
             case_ipv6),
    CaseSpec(23, "return-path", "the server answers but the router drops the answer: the "
             "SYN-ACKs of one connection, the TLS flight (segments with payload) of another",
             case_return_path, cut=True),
    CaseSpec(24, "dnat-refused", f"router DNATs the service {SERVICE4}:443 to the pod "
             f"{S0}:10250 where nothing listens: the pod's kernel answers RST", case_dnat_refused, cut=True),
    CaseSpec(25, "one-link", "client and server namespaces on ONE veth pair, no router: "
             "refused, SYN dropped by the server's firewall, stalled TLS handshake, no answer, "
             "certificate rejected, and a healthy call; equal TTLs at both ends",
             case_one_link, cut=True, one_link=True),
    CaseSpec(26, "icmp-port-unreachable", "ICMP port-unreachable from two senders: the server "
             "host's firewall (IPv4 and IPv6), and kube-proxy's REJECT for a Service without "
             "endpoints in the client's own namespace (the ICMP never crosses the network)",
             case_icmp_port_unreachable, cut=True),
    CaseSpec(27, "client-timers", "the server never answers; Go clients whose own timers are "
             "shorter than the webhook's 10 s: http.Client.Timeout 5 s, "
             "Transport.ResponseHeaderTimeout 5 s", case_client_timers, cut=True),
    CaseSpec(28, "mtu-blackhole", "path-MTU black hole: the router drops the server's large "
             "segments, only the TLS flight's small tail reaches the client; the handshake "
             "never completes", case_mtu_blackhole, cut=True),
    CaseSpec(29, "lost-segment", "a 50 KB response loses one mid-response segment at the "
             "router (first transmission only); TCP retransmits it and the call succeeds",
             case_lost_segment),
    CaseSpec(30, "late-answer", "the server answers 11 s after the request, the client gave "
             "up at 10 s: close_notify + FIN, then the late answer, answered by RST",
             case_late_answer, cut=True),
    CaseSpec(31, "insecure-cert", "TLS 1.2 server with an expired, CN-only, wrong-name "
             "certificate; the client skips verification: three POSTs on one connection, all "
             "200", case_insecure_cert),
    CaseSpec(32, "h2-ok", "HTTP/2 (ALPN h2) Go client and server: POSTs answered 200 over TLS 1.3 "
             "and TLS 1.2, and one answered 503 at once", case_h2_ok, cut=True),
    CaseSpec(33, "h2-awaiting-headers", "HTTP/2 over TLS 1.3: the server sends only control "
             "frames (SETTINGS, SETTINGS ACK, WINDOW_UPDATE) and never answers; the client gives "
             "up at 10 s", case_h2_awaiting_headers, cut=True),
    CaseSpec(34, "h2-server-closed", "HTTP/2 over TLS 1.3: the server reads the POST, sends GOAWAY "
             "and closes without answering", case_h2_server_closed, cut=True),
    CaseSpec(35, "h2c", "HTTP/2 in clear text (h2c, prior knowledge; the h2 package at both ends): "
             "one POST answered 200, one never answered", case_h2c, cut=True),
    CaseSpec(36, "aggregated-api", "the aggregator's discovery GET of /apis/metrics.k8s.io/v1beta1 "
             "over HTTP/2 to a backend that never answers; the 5 s http.Client.Timeout fires",
             case_aggregated_api, cut=True),
]


# --------------------------------------------------------------------------
# README
# --------------------------------------------------------------------------
def write_readme(truths: dict[str, dict[str, Any]], elapsed: float | None) -> None:
    rows = []
    for spec in CASES:
        t = truths.get(spec.name)
        if t is None:
            p = HERE / spec.name / "truth.json"
            if not p.exists():
                continue
            t = json.loads(p.read_text())
        for i, c in enumerate(t["connections"]):
            sip = f"[{c['server_ip']}]" if ":" in c["server_ip"] else c["server_ip"]
            rows.append("| {} | {} | {} | `{}` | `{}` | {}/{} | {} | {} |".format(
                f"`{spec.name}`" if i == 0 else "", c["client_port"],
                f"{sip}:{c['server_port']}", c["label"], c.get("where", "?"), c["client_impl"],
                c["server_impl"], ", ".join(c["points"]), c["what"].replace("|", "/")))
    if elapsed is None:  # partial re-record: keep the figure of the last full run
        old = (HERE / "README.md").read_text() if (HERE / "README.md").exists() else ""
        m = re.search(r"the last full run took (\d+) s", old)
        elapsed = float(m.group(1)) if m else None
    took = f" (the last full run took {elapsed:.0f} s)" if elapsed else ""
    text = f"""# captures/: real recordings of webhook calls

Small packet captures of real kernel TCP and real TLS, recorded inside network
namespaces by `record.py`, with a `truth.json` per case written from what the
scenario did (never by running pcapdiag). They are test fixtures for pcapdiag.

## Re-recording

As root on Linux with `ip`, `nft`, `iptables`, `tcpdump`, `dumpcap`, Go (std lib
only; `apt-get install golang-go`) and Python 3.11 with `cryptography` and, for
the h2c case, the `h2` package (`pip install -e '.[record]'`; run record.py with
that Python):

```sh
sudo python3 captures/record.py                      # all cases{took}
sudo python3 captures/record.py --only refused dnat  # some cases
python3 captures/record.py --list                    # case names
```

The Go peers in `peers/goclient` and `peers/goserver` are built at run time into
a temporary directory (`GOCACHE`/`GOPATH` there, `GOPROXY=off`). A throwaway CA
and server certificates (good, wrong name, unknown CA, expired; ECDSA P-256; a
big RSA-4096 leaf + intermediate chain for `mtu-blackhole`; an expired CN-only
`legacy` one for `insecure-cert`) are generated at run time in the same
temporary directory: no key is written under `captures/`. Re-recording
overwrites `captures/<case>/`; timestamps, ephemeral keys, sequence numbers and
sizes of random fields differ between recordings, the shapes and the truth do
not.

## Topology

```
 client ns                router ns                          server ns
 c0 198.18.0.2/24  ==veth== r0 198.18.0.1/24   r1 198.19.0.1/24 ==veth== s0 198.19.0.2-.6/24
    2001:db8:1::2/64           2001:db8:1::1/64   2001:db8:2::1/64          2001:db8:2::2/64
```

* The router forwards, and is where SYNs are dropped or rejected (nft, and one
  iptables rule), where answers are dropped on their way back (`return-path`),
  and where the "service" {SERVICE4}:443 is DNATed to the "pod" {S0}:10250.
* Addresses are only from **198.18.0.0/15** (IPv4) and **2001:db8::/32** (IPv6).
  No namespace has a default route; IPv6 link-local addresses, DAD and router
  solicitations are disabled, so no other address appears in any file.
* Namespaces are `pcd-<pid>-<case number>-{{c,r,s}}`, fresh for every case and
  deleted on exit (also on SIGINT/SIGTERM/SIGHUP).
* `one-link` (`"topology": "one-link"` in its truth; every other case is
  `"routed"`) has no router namespace: the client and server namespaces are
  joined by ONE veth pair, with the same addresses, the other side's subnet as a
  device route (`198.19.0.0/24 dev c0`, `198.18.0.0/24 dev s0`, static IPv6
  neighbours), so nothing forwards a packet and both capture points see the same
  TTL (64) on every packet. Its namespaces are `pcd-<pid>-25-{{c,s}}`.

```
 client ns                                  server ns
 c0 198.18.0.2/24, 2001:db8:1::2/64 ==veth== s0 198.19.0.2-.6/24, 2001:db8:2::2/64
```
* Client source ports are fixed: `40000 + 10 * case number + k`, so
  `truth.json` names every connection exactly.

## Kubernetes context (`k8s/`)

`k8s/cluster.json` (`kubectl get svc,endpoints,endpointslices,pods -A -o json`) and
`k8s/webhooks.json` (`kubectl get validatingwebhookconfigurations,mutatingwebhookconfigurations -o json`)
describe this topology as a cluster would: Service `pcd-system/webhook` (198.18.100.1 and
2001:db8:100::1, port 443 -> targetPort `https`) backed by pod `pcd-system/webhook-7d9f8b6c4-x2x9q`
(198.19.0.2 and 2001:db8:2::2, containerPort `https` 10250, readiness probe on `healthcheck` 8080) on
`node-b` (198.19.0.1), the API server pod `kube-system/kube-apiserver-node-a` on the host network of
`node-a` (198.18.0.2), and ValidatingWebhookConfiguration `pcd-webhook` whose webhook
`validate.pcd.example.com` calls the service on 443 at `/validate` (timeoutSeconds 10, failurePolicy Fail).
`k8s/aggregation.json` (`kubectl get apiservices,customresourcedefinitions -o json` plus the
metrics-server Service, EndpointSlice and Pod) describes the `aggregated-api` case: APIService
`v1beta1.metrics.k8s.io` served by `kube-system/metrics-server` (198.18.100.2, port 443 -> targetPort
`https`) backed by pod `kube-system/metrics-server-6f8d9c7b5-k2m4n` (198.19.0.3, containerPort 4443),
`insecureSkipTLSVerify`, Available False (FailedDiscoveryCheck) with the message the aggregator writes for
the recorded failure; and CRD `widgets.pcd.example.com` whose conversion webhook calls
`pcd-system/webhook` at `/convert`.
They are written by hand in kubectl's shape (not read from a live cluster).

## Peers

* `go` client (`peers/goclient`): Go net/http shaped like kube-apiserver's webhook
  client: `POST https://{SVC_HOST}:443/validate?timeout=10s`, SNI
  `{SVC_HOST}`, ALPN `http/1.1` only, `TLSHandshakeTimeout` 10 s,
  `context.WithTimeout` 10 s per call, dialer 30 s / keep-alive 30 s,
  `Client.Timeout` 30 s, RootCAs = the test CA, fixed local port.
  `-plain` makes it a kubelet-style probe (`GET /healthz`, 1 s).
  `-client-timeout D` sets `http.Client.Timeout` (default 30 s),
  `-response-header-timeout D` sets `Transport.ResponseHeaderTimeout` (default 0:
  unset), `-timeout D` the per-call context; `-insecure` sets
  `InsecureSkipVerify` (and reports the unverified certificate's CN, DNS names
  and notAfter with each answered request). It prints its timers first
  (`{{"event": "config", ...}}`). `-h2` offers ALPN `h2, http/1.1` with
  `ForceAttemptHTTP2` (what the authentication, authorization and audit webhook
  clients and the aggregator do); `-method GET -url-host IP` makes the
  aggregator's discovery check (`GET https://IP:PORT/apis/GROUP/VERSION`, SNI
  still `-host`, no ?timeout=).
* `python` client (`peers/pyclient.py`): the same call over Python `ssl` (OpenSSL),
  one 10 s deadline over connect + handshake + response.
* `go` server (`peers/goserver`): net/http + crypto/tls webhook server (modes
  ok, sleep, firstonly, close-fin, close-rst, panic, probe; `-plain` for HTTP;
  `late`: reads the request and answers 200 after `-delay` (default 11 s)
  whether or not the client is still there; `big`: answers 200 with an
  AdmissionReview of about `-body-bytes` (default 50,000) bytes, a JSON patch;
  `unavailable`: reads the request, answers 503 at once; `goaway`: reads the
  request, starts a graceful shutdown (HTTP/2: GOAWAY) and closes every
  connection 0.2 s later). `-h2` offers ALPN `h2, http/1.1` and serves HTTP/2
  with net/http's own h2 server.
* `python` server (`peers/pyserver.py`): OpenSSL server (ok, stall), or raw TCP
  (`silent`: accepts and never reads; `close-after-hello`).
* `python-h2c` client and server (`peers/h2cpeer.py`, the `h2` package): HTTP/2
  in clear text with prior knowledge (Go 1.19 speaks h2c neither way). The
  server sends its SETTINGS, answers every request with 200 (`ok`) or reads it
  and never answers (`stall`); the client POSTs once with one 10 s deadline,
  then sends GOAWAY and closes.

## Capture files

Every case is recorded at two points at the same time, the client namespace
and the server namespace, each in these encodings, all running during the
same single scenario run, with `-U`/immediate mode, a 64 MiB ring buffer
(`tcpdump -B 65536`, `dumpcap -B 64`) and the filter
`(tcp port <server ports>) or icmp or (icmp6 and ip6[40] < 128)`:

| file | encoding (`truth.json`) | how |
|---|---|---|
| `<point>-eth.pcap` | `ethernet-usec` | `tcpdump -i <veth> -w` (pcap, microseconds, EN10MB) |
| `<point>-eth-nsec.pcap` | `ethernet-nsec` | `tcpdump --time-stamp-precision=nano` |
| `<point>-any.pcap` | `sll2` | `tcpdump -i any -y LINUX_SLL2` |
| `<point>.pcapng` | `pcapng` | `dumpcap -i <veth>` |
| `<point>-multi.pcapng` | `pcapng-multi-idb` | `dumpcap -i lo -i <veth>` (2 IDBs, data on IDB 1) |

The multi-IDB files exist for `ok-tls13`, `ipv6` and `icmp-port-unreachable`
(where IDB 0, `lo`, carries the ICMP errors of kube-proxy's REJECT).

### Cut captures (snapshot length 96 and 128)

Every case with a connection labelled other than ok/incomplete/partial, and the
healthy controls `ok-tls13`, `ok-tls12` and `h2-ok`, is also recorded with a snapshot
length of 96 and of 128 bytes, in every encoding the case uses, at both
points: `<point>-eth-s96.pcap`, `<point>-eth-nsec-s96.pcap`,
`<point>-any-s96.pcap`, `<point>-s96.pcapng`, `<point>-multi-s96.pcapng`, and
the same with `-s128`. They are recorded for real, by their own `tcpdump -s 96`
/ `dumpcap -s 96` processes running at the same time as the full-length ones on
the same interfaces (not by cutting files afterwards). Every capture in
`truth.json` carries `"snaplen"`: `0` for full length (`tcpdump -s 0`,
dumpcap's default: whole packets), `96` or `128` for the cut ones; the key is
always present. The self-check holds each cut file to the same packets as its
full-length twin (same count, original lengths and headers), to its snaplen in
the file header, and to every longer packet cut at exactly the snaplen;
`packets_cut` says how many were (0 in the cut files of `refused`,
`syn-timeout`, `syn-timeout-classic` and `dnat-refused`, whose packets are all
SYNs, RSTs and ACKs of 54 to 94 bytes: recorded at 96 and 128 all the same). A cut
file can hide a connection's port: an ICMPv6 error on Ethernet (or `lo`) at
snaplen 96 holds its quoted IPv6 header but not the quoted TCP ports (14 + 40 +
8 + 40 > 96); such ports are listed per capture in `client_ports_cut_off` (in
`icmp-port-unreachable`, 40265's only packets are such errors).

Every capture also records `dropped_by_kernel`, as tcpdump (`N packets dropped
by kernel`) or dumpcap (`Packets received/dropped on interface`) reported it when
stopped; the self-check requires 0 everywhere. With up to 30 capture processes
per case nothing was dropped once every capture had a 64 MiB ring: with
libpcap's default 2 MiB a veth with offloads gets ring frames sized for 64 KB
GSO packets (about 32 of them), and the plain-interface captures of
`lost-segment`'s 50 KB response lost 18 to 19 packets each; the `-i any` ones,
which already had `-B 65536`, lost none. Starting them all at once needed no
staggering.

`dnat` and `dnat-refused` also have `router-any.pcap`: `tcpdump -i any -y LINUX_SLL2` in the
router namespace, which DNATs the service address: every packet twice, as it came in (service
address) and as it went out (pod address). `truth.json` lists it under `router_captures`, apart from
the client and server points; `tests/test_translated.py` holds pcapdiag to linking the two views.

`truth.json` lists the files with their point, encoding, link types and
packet counts and the client ports seen in each, and every connection with:

* `client_port`, `server_port`, `client_ip`, `server_ip`, `ip_version`: the
  connection as the client dialed it.
* `label`: the outcome, one of ok, refused, syn-timeout, unreachable,
  tls-handshake-timeout, not-tls, cert-rejected, tls-failed, awaiting-headers,
  server-closed, http-error, incomplete, partial; the same at every point that
  sees the connection.
* `points`: the capture points where the connection is visible (a SYN dropped
  or rejected at the router is seen only at the client).
* `server_ip_at`, `server_port_at`: the server address and port as each point
  in `points` shows them (they differ under DNAT; `note` says so).
* `where`: where the scenario made the connection fail (issue 5's vocabulary):
  * `in-between`: the client's packets never reached the server side (the
    router drops them, or rejects them with a RST or ICMP);
  * `return-path`: the server answered; the answer never reached the client
    side;
  * `server`: the server host itself refused (its kernel's RST: nothing
    listens), dropped (its own firewall), rejected the handshake, stalled TLS
    or HTTP, closed, or answered with an error;
  * `client`: the client aborted (rejected the server's certificate), or the
    client host itself rejected the connection before it left (kube-proxy's
    REJECT for a Service without endpoints, in the client's own namespace);
  * `none`: healthy;
  * `unknown`: the scenario itself cannot say (no case needs it yet).
* `where_why`: which part of the scenario decides `where`, in words.
* `client_impl`, `server_impl`, `what`: the implementations and what was done.
* `client_result`: what the client itself reported: status, or the exact
  Go/Python error string, and the elapsed time; `server_log`: the matching
  server log lines.
* `client_timers`: the client's timer settings in seconds: `context_timeout_s`
  (the per-call `context.WithTimeout`, the webhook's timeoutSeconds),
  `client_timeout_s` (`http.Client.Timeout`), `response_header_timeout_s`
  (`Transport.ResponseHeaderTimeout`; `0` = unset, Go's zero value),
  `tls_handshake_timeout_s` (`Transport.TLSHandshakeTimeout`; null for the
  plain-HTTP probe), `dial_timeout_s` (`net.Dialer.Timeout`) for the Go client;
  `overall_deadline_s` for the Python client (one deadline over connect,
  handshake and response), whose Go timers are null. `fired` lists, per entry
  of `client_result`, which timer ended that call, read from the client's own
  error text (`context`, `client_timeout`, `response_header_timeout`,
  `tls_handshake_timeout`, `overall_deadline`) or null (no timer: refused,
  certificate, answered, ...). Go 1.19's `dial tcp ...: i/o timeout` during the
  dial counts as `context` (the dialer takes the context's deadline; its own
  30 s is longer).
* `interfaces_at`: for each point in `points`, the interfaces the connection's
  packets pass there: the point's veth (`c0`, `s0`), or `lo` for a connection
  rejected inside the client host (kube-proxy's REJECT: the SYN never reaches
  an interface, the ICMP error goes over `lo`). A file holds the connection
  when its `interfaces` include `any` or one of these; `client-eth.pcap`,
  `client-eth-nsec.pcap` and `client.pcapng` of `icmp-port-unreachable` do not
  hold its ClusterIP connections at all.
* `icmp_from`, `icmp_source`, `icmp_type`, `icmp_code` (connections answered by
  ICMP): who sent the error (`router`, `server`: the server host's own
  firewall, `client-node`: the client's own namespace, as kube-proxy), from
  which address, and which error; the self-check holds every ICMP error quoting
  the connection to them.
* `server_certificate` (`insecure-cert`): the served certificate's facts as
  generated (CN, subjectAltNames, validity, expired, whether the name matches
  the SNI).
* `topology` (per case): `routed` or `one-link`. `network_loss` (per case,
  `lost-segment`): where and how a packet was lost in the network, and what the
  captures showed of it (`observed`).

`label`, `points` and `where` are written from what the case configured (the
`r.conn(...)` call next to the scenario), never from the captures or pcapdiag.
Where the scenario decides `where` although the capture does not decide the
label: `incomplete` connections (a stalled server, capture stopped at 2 s) are
`server`, `partial` ones (answered before the capture began) are `none`.

## What the recordings showed (Go 1.19, OpenSSL 3.0, Linux 6.18)

* HTTP/2 over TLS 1.3 between Go peers: the client's first record after its
  Finished is 81 bytes (24-byte preface + SETTINGS with 3 parameters + a
  WINDOW_UPDATE, 64 bytes of plaintext), the server's 50 (SETTINGS with 4
  parameters, 33); either can come first. Then the server's WINDOW_UPDATE (30)
  and SETTINGS ACK (26), or both in one record (39); the request is a HEADERS
  record (126) and, for the POST, a DATA record (401); the server's WINDOW_UPDATE
  after the body (30); the answer a HEADERS record (69 for a 200, 86 for the
  503) then DATA. Every record is its own segment. A Go client whose context
  ends sends RST_STREAM(CANCEL) (30 bytes) and, 0.1 s later, a bare FIN. A Go
  server's graceful shutdown sends GOAWAY (34 bytes: 17 of plaintext, no debug
  data); closing the connection then sends close_notify and FIN; the Go client
  reports `http2: server sent GOAWAY and closed the connection; LastStreamID=1,
  ErrCode=NO_ERROR, debug=""`. Under TLS 1.2 (AES-GCM) every record is 7 bytes
  longer (24 bytes of overhead instead of 17) and the ServerHello's ALPN says h2.
* h2c with the h2 package: the client's preface and SETTINGS (7 parameters) in
  one segment, HEADERS and DATA in one each; the server's SETTINGS ACK, HEADERS
  and DATA in one segment.

* Go client rejecting a TLS 1.3 certificate: one 30-byte segment (CCS 6 bytes +
  a 24-byte encrypted alert record) right after the server flight, then FIN;
  the Go server may FIN first (it reacts to the alert before the client's
  close). Python/OpenSSL client rejecting a TLS 1.3 certificate: one **7-byte
  cleartext** Alert record (42 wrong name, 45 expired, 48 unknown CA), no CCS,
  then RST; a Go server reports it as `local error: tls: bad record MAC` and
  answers with its own 24-byte encrypted alert.
* TLS 1.2: Go always sends alert 42; OpenSSL sends 42/45/48.
* OpenSSL TLS 1.3 servers send two NewSessionTicket records (266 bytes here)
  after the client Finished; the second can arrive after the POST (Nagle +
  delayed ACK), so "server application data after the request" is not a
  response. On a bare client FIN (no close_notify) OpenSSL 3 answers with an
  encrypted decode_error alert (24-byte record).
* Go clients send close_notify (24-byte record) before FIN when they close an
  established TLS connection (at the 10 s timeout, when closing idle ones).
* SYN schedules: linear (default, `tcp_syn_linear_timeouts=4`) SYNs at
  0, 1, 2, 3, 4, 5, 7 s; classic SYNs at 0, 1, 3, 7 s. The Go client closes the
  SYN_SENT socket at 10 s without sending anything; the captures run on past the
  next scheduled SYN (11 s / 15 s) so its absence is visible.
* Go 1.19 reports a webhook deadline during the dial either as
  `context deadline exceeded` or as `dial tcp ...: i/o timeout` (a race).
* Return path, SYN-ACKs dropped (`return-path`, first connection): the client
  capture is the same as a SYN dropped on the way in (SYNs at 0, 1, 2, 3, 4,
  5, 7 s, nothing back); the server capture shows every SYN answered by a
  SYN-ACK with the same sequence number, SYN-ACKs retransmitted on the server's
  own timer too (at ~1, 7 and 11 s, the last after the client has given up),
  and never the handshake's final ACK.
* Return path, server flight dropped (`return-path`, second connection): the
  TCP handshake completes and the client sees the server's pure ACK of the
  ClientHello, then nothing; the server capture shows its flight (ServerHello
  .. Finished, one 840-byte segment) retransmitted with exponential backoff
  (at ~0.2, 0.4, 0.9, 1.7, 3.4, 6.7 s), then the client's FIN at 10 s, which it
  ACKs; the server's own FIN stays queued behind the unacknowledged flight.

* ICMP port-unreachable (`icmp-port-unreachable`): every client reports
  `connect: connection refused` (Go `dial tcp ...: connect: connection
  refused`, Python `ConnectionRefusedError: [Errno 111] Connection refused`),
  whoever sent it. IPv4: at once, on the first ICMP error. IPv6 (server
  host's ICMPv6 port-unreachable, and the client node's): only on the second
  error, after the SYN retransmission at ~1 s, as with the router's ICMPv6
  admin-prohibited in `unreachable`. The server host's firewall answers from the
  address the client dialled (198.19.0.3, 2001:db8:2::2; TTL 63 at the client);
  kube-proxy's REJECT in the client namespace answers from the client's own
  address to itself (198.18.0.2 -> 198.18.0.2, 2001:db8:1::2 -> itself, TTL
  64) over `lo`, quoting a SYN to the ClusterIP that no interface ever carried.
* Go client timers shorter than the webhook's (`client-timers`):
  `http.Client.Timeout` 5 s gives `Post "...": context deadline exceeded
  (Client.Timeout exceeded while awaiting headers)`,
  `Transport.ResponseHeaderTimeout` 5 s gives `Post "...": net/http: timeout
  awaiting response headers`, both at 5.0 s, both closing with close_notify +
  FIN as at the 10 s context deadline. The stalled TLS handshake with both
  timers at 10 s (`tls-handshake-timeout` 40081) reports `context deadline
  exceeded` (the context starts before the dial, the handshake timer after
  it); with the context at 15 s (40082) `net/http: TLS handshake timeout`.
* Path-MTU black hole (`mtu-blackhole`): the TLS 1.3 flight of the big chain
  leaves the server as 1448 + 1448 + ~560 payload bytes; only the last segment
  reaches the client, which SACKs it (`ack 1, sack 2897:3457`) and waits; the
  server retransmits the first segment (fast retransmit, then RTO at ~0.2, 0.4,
  0.8, 1.7, 3.3 s), in vain. At 10 s the Go client sends a bare FIN (no
  close_notify: the handshake never finished) and reports `context deadline
  exceeded`.
* Late answer (`late-answer`): close_notify + FIN at 10.0 s, the server ACKs;
  the 200 (one 265-byte record) leaves the server at 11.0 s and the client's
  kernel answers it with RST. The Go server logs the request's context as
  canceled when it answers.
* Go-to-Go healthy connections closed by the client (`ok-tls13`,
  `insecure-cert`, ...): close_notify + FIN from the client; the server's own
  close_notify arrives after the client closed its socket and draws the client
  kernel's RST.

## Lost packets made deterministic

`mtu-blackhole` drops by size: the router's forward chain drops every
server->client packet whose IP length exceeds 1000 bytes (`ip saddr
198.19.0.2 tcp sport 443 ip length > 1000 drop`) and sends no ICMP. The big
chain's extra SAN names (`BIGCHAIN_PAD_NAMES` in `record.py`) put the flight's
last segment at about 560 bytes, well inside (0, 948]; the self-check requires
that no large segment reached the client, that some of the flight did, and that
the server retransmitted.

`lost-segment` drops exactly one segment, once: two nft quota rules on the
connection's server->client packets longer than 1000 bytes,

```
ip saddr 198.19.0.2 tcp sport 443 tcp dport 40291 ip length > 1000 quota until 15001 bytes accept
ip saddr 198.19.0.2 tcp sport 443 tcp dport 40291 ip length > 1000 quota until 1501 bytes drop
```

The first accepts them until their IP lengths add up to 15,001 bytes; the
packet that reaches that total falls through to the second, whose quota (1,501
bytes) it is the first and only packet to fit in, and is dropped; every later
packet, the retransmission included, has overrun both quotas and is accepted by
the chain's policy. Quotas count bytes in the kernel, not time, so the same
segment (the 11th large one, about 17 KB into the server's 51 KB of TLS
stream) is dropped
in every recording. The self-check requires the server capture to hold exactly
one data segment more than the client capture, sent twice at the server and
received once at the client; `network_loss.observed` says which it was.

In both cases the server's veth has `gso_max_segs 1` (`ip link set dev s0
gso_max_segs 1`): a veth otherwise hands the router (and tcpdump) GSO
super-packets of up to 64 KB, and a size rule would drop the whole flight, tail
included.

## Cases

| case | client port | server | label | where | client/server | points | what was done |
|---|---|---|---|---|---|---|---|
{chr(10).join(rows)}
"""
    (HERE / "README.md").write_text(text)


# --------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------
def json_default(o: Any) -> Any:
    if isinstance(o, set):
        return sorted(o)
    return str(o)


def run_case(spec: CaseSpec, work: Path, certs: dict[str, Any],
             bins: dict[str, Path], meta: dict[str, Any]) -> dict[str, Any]:
    r = CaseRun(spec, work, certs, bins)
    t0 = time.monotonic()
    try:
        r.topo.up()
        spec.fn(r)
    finally:
        r.teardown()
    truth = r.finish()
    truth["recorded"] = meta
    truth["duration_s"] = round(time.monotonic() - t0, 1)
    dst = HERE / spec.name
    if dst.exists():
        shutil.rmtree(dst)
    dst.mkdir()
    for cap in r.capturers:
        shutil.copyfile(cap.file, dst / cap.file.name)
        (dst / cap.file.name).chmod(0o644)
    (dst / "truth.json").write_text(json.dumps(truth, indent=2, default=json_default) + "\n")
    return truth


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", nargs="+", metavar="CASE", help="record only these cases")
    ap.add_argument("--list", action="store_true", help="list the cases and exit")
    ap.add_argument("--keylog", metavar="FILE",
                    help="let the peers append TLS session secrets to FILE (NSS key log "
                         "format, for decrypting the captures with Wireshark); must be "
                         "outside captures/")
    ap.add_argument("--keep-work", action="store_true",
                    help="keep the temporary directory (logs, certificates)")
    args = ap.parse_args()
    if args.list:
        for s in CASES:
            print(f"{s.name:24} {s.description}")
        return 0
    names = {s.name for s in CASES}
    if args.only:
        bad = [n for n in args.only if n not in names]
        if bad:
            print(f"unknown case(s): {bad}; see --list", file=sys.stderr)
            return 2
    if args.keylog:
        kl = Path(args.keylog).resolve()
        if kl.is_relative_to(HERE):
            print("--keylog FILE must be outside captures/", file=sys.stderr)
            return 2
        CHILD_ENV["SSLKEYLOGFILE"] = str(kl)
    if os.geteuid() != 0:
        print("record.py needs root (network namespaces, tcpdump)", file=sys.stderr)
        return 2
    for tool in ("ip", "nft", "iptables", "tcpdump", "dumpcap", "sysctl"):
        if not shutil.which(tool):
            print(f"missing tool: {tool}", file=sys.stderr)
            return 2
    stale = [ln.split()[0] for ln in run(["ip", "netns", "list"]).stdout.splitlines()
             if ln.startswith("pcd-")]
    if stale:
        log(f"note: namespaces from an earlier run exist (not touched): {stale}")

    t_start = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="pcd-record-"))
    failures: list[str] = []
    truths: dict[str, dict[str, Any]] = {}
    try:
        certs = make_certs(work / "certs")
        bins = build_go(work)
        meta = {
            "by": "captures/record.py",
            "at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "kernel": platform.release(),
            "go": str(bins.pop("version")),
            "openssl": ssl.OPENSSL_VERSION,
            "python": platform.python_version(),
            "tcpdump": run(["tcpdump", "--version"]).stdout.splitlines()[0],
            "dumpcap": run(["dumpcap", "--version"]).stdout.splitlines()[0],
        }
        todo = [s for s in CASES if not args.only or s.name in args.only]
        for spec in todo:
            log(f"case {spec.number:2} {spec.name}")
            try:
                truth = run_case(spec, work, certs, bins, meta)
            except Exception as e:
                log(f"  ! {spec.name} FAILED: {e!r}")
                failures.append(spec.name)
                continue
            truths[spec.name] = truth
            for c in truth["connections"]:
                res = c["client_result"]
                summ = "; ".join(
                    (f"{x.get('status')}" if x.get("status") else str(x.get("error")))
                    + f" @{x.get('elapsed_ms', 0) / 1000:.2f}s" for x in res) or "(no result)"
                log(f"  {c['client_port']} {c['label']:22} {summ}")
            for p in truth.get("self_check_problems", []):
                log(f"  ! self-check: {p}")
            if truth.get("self_check_problems"):
                failures.append(spec.name)
    finally:
        REG.cleanup()
        if args.keep_work:
            log(f"work dir kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    elapsed = time.monotonic() - t_start
    write_readme(truths, elapsed if not args.only else None)
    left = [ln for ln in run(["ip", "netns", "list"]).stdout.splitlines()
            if ln.startswith(PREFIX + "-")]
    if left:
        log(f"! namespaces left behind: {left}")
        failures.append("netns-cleanup")
    log(f"done in {elapsed:.1f} s; failures: {failures or 'none'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
