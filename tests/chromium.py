"""Headless Chromium driven over the DevTools protocol on a pipe, and a PNG reader to judge screenshots."""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import pathlib
import select
import struct
import subprocess
import tempfile
import time
import zlib
from collections.abc import Iterator
from typing import Any

import pytest

CHROMIUM = pathlib.Path("/usr/bin/chromium")


def need_chromium() -> None:
    """Skip (or, as root in CI, fail) when Chromium is not installed."""
    if CHROMIUM.exists():
        return
    if os.environ.get("CI") == "true" and os.geteuid() == 0:
        pytest.fail("/usr/bin/chromium is missing: setup.sh installs it (apt-get install chromium)")
    pytest.skip("/usr/bin/chromium is not installed (apt-get install -y chromium)")


class Browser:
    """Headless Chromium driven over the DevTools protocol on a pipe (fds 3 and 4): no websocket, no port."""

    def __init__(self, width: int = 1200, height: int = 2000) -> None:
        self.width, self.height = width, height
        self.profile = tempfile.TemporaryDirectory()
        to_chrome = os.pipe()
        from_chrome = os.pipe()
        # Above 4 so that placing them on 3 and 4 in the child cannot overwrite one another.
        (self._c_read, self._write, self._read, self._c_write) = (
            fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in (*to_chrome, *from_chrome)
        )
        for fd in (*to_chrome, *from_chrome):
            os.close(fd)
        child_in, child_out = self._c_read, self._c_write

        def fds() -> None:
            os.dup2(child_in, 3)
            os.dup2(child_out, 4)

        self.stderr = tempfile.TemporaryFile()  # noqa: SIM115 - closed in close()
        self.proc = subprocess.Popen(
            [
                str(CHROMIUM),
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-extensions",
                "--host-resolver-rules=MAP * ~NOTFOUND",
                f"--user-data-dir={self.profile.name}",
                f"--window-size={width},{height}",
                "--remote-debugging-pipe",
                "about:blank",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self.stderr,
            close_fds=False,
            preexec_fn=fds,
        )
        os.close(self._c_read)
        os.close(self._c_write)
        self._buf = b""
        self._id = 0
        self.events: list[dict[str, Any]] = []
        page = next(t for t in self.call("Target.getTargets")["targetInfos"] if t["type"] == "page")
        self.session = self.call("Target.attachToTarget", {"targetId": page["targetId"], "flatten": True})[
            "sessionId"
        ]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable", session=True)
        self.call(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
            session=True,
        )

    def _recv(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buf:
            ready, _, _ = select.select([self._read], [], [], max(deadline - time.monotonic(), 0))
            if not ready:
                raise TimeoutError("no answer from Chromium")
            chunk = os.read(self._read, 1 << 20)
            if not chunk:
                self.stderr.seek(0)
                raise EOFError("Chromium exited: " + self.stderr.read().decode(errors="replace")[-2000:])
            self._buf += chunk
        raw, self._buf = self._buf.split(b"\0", 1)
        message: dict[str, Any] = json.loads(raw)
        return message

    def call(self, method: str, params: dict[str, Any] | None = None, session: bool = False) -> Any:
        self._id += 1
        message: dict[str, Any] = {"id": self._id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = self.session
        os.write(self._write, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + 60
        while True:
            answer = self._recv(deadline)
            if answer.get("id") == self._id:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return answer["result"]
            self.events.append(answer)

    def wait(self, event: str) -> None:
        deadline = time.monotonic() + 60
        while not any(e.get("method") == event for e in self.events):
            self.events.append(self._recv(deadline))

    def load(self, url: str) -> None:
        self.events.clear()
        self.call("Page.navigate", {"url": url}, session=True)
        self.wait("Page.loadEventFired")
        self.call("Runtime.evaluate", {"expression": "1"}, session=True)  # let queued events arrive

    def screenshot(self, scale: float = 1.0, full_page: bool = False) -> bytes:
        size = self.call("Page.getLayoutMetrics", session=True)["cssContentSize"]
        height = size["height"] if full_page else self.height
        clip = {"x": 0, "y": 0, "width": self.width, "height": height, "scale": scale}
        shot = self.call(
            "Page.captureScreenshot",
            {"format": "png", "clip": clip, "captureBeyondViewport": full_page},
            session=True,
        )
        return base64.b64decode(shot["data"])

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.call("Browser.close")
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for fd in (self._read, self._write):
            os.close(fd)
        self.stderr.close()
        self.profile.cleanup()


@contextlib.contextmanager
def browser(width: int = 1200, height: int = 2000) -> Iterator[Browser]:
    b = Browser(width, height)
    try:
        yield b
    finally:
        b.close()


def png_pixels(data: bytes) -> tuple[int, int, list[bytes], int]:
    """Width, height, unfiltered rows and bytes per pixel of an 8-bit RGB/RGBA PNG (no Pillow needed)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat = 8, b""
    width = height = bpp = 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        chunk = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", chunk[:10])
            assert depth == 8 and colour in (2, 6), (depth, colour)
            bpp = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows: list[bytes] = []
    prev = bytearray(stride)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], (prev[i - bpp] if i >= bpp else 0)
            if kind == 1:
                line[i] = (line[i] + a) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + b) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        rows.append(bytes(line))
        prev = line
    return width, height, rows, bpp


def assert_not_blank(png: bytes) -> None:
    width, _, rows, bpp = png_pixels(png)
    grey = [sum(row[i : i + 3]) / 3 for row in rows for i in range(0, width * bpp, bpp)]
    mean = sum(grey) / len(grey)
    variance = sum((g - mean) ** 2 for g in grey) / len(grey)
    dark = sum(g < 128 for g in grey) / len(grey)
    colours = {row[i : i + 3] for row in rows for i in range(0, width * bpp, bpp)}
    assert variance > 100 and dark > 0.005 and len(colours) > 32, (variance, dark, len(colours))
