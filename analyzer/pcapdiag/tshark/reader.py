"""Run tshark over a capture file through pyshark and yield what decode() would: (frame, time, decoded)."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

from pcapdiag.capture import TruncatedRecord
from pcapdiag.decode.packet import Decoded
from pcapdiag.tshark.dissection import decoded_packet

PREFERENCES = {
    "tcp.relative_sequence_numbers": "FALSE",  # absolute seq/ack, as on the wire
    "tcp.analyze_sequence_numbers": "FALSE",  # pcapdiag's flow machine does its own analysis
    "tcp.calculate_timestamps": "FALSE",
    "tcp.desegment_tcp_streams": "FALSE",  # every segment keeps its own tcp.payload
}
"""tshark preferences (-o) that give raw per-segment TCP fields and skip work pcapdiag does itself.
IP defragmentation stays on: tshark hands the reassembled datagram's TCP segment over at the last fragment."""
PROTOCOLS = "frame ip ipv6 tcp icmp icmpv6"
"""tshark -j: only these protocols' fields are written as JSON (an ICMP error's quoted IP and TCP are
nested in its layer); the link layers and tunnels are still dissected, just not written out."""
HEURISTICS = ("teredo_udp",)
"""tshark heuristics to turn on: Teredo between any UDP ports (relays do not use 3544), as decode() does."""
DECODE_AS = {"udp.port==8472": "vxlan"}
"""Linux's VXLAN port (flannel, Cilium), which decode() also reads as VXLAN; tshark knows 4789 only."""
NS = 1_000_000_000

ENCAPSULATIONS = {
    "null": 0,
    "ether": 1,
    "ppp": 9,
    "rawip": 101,
    "ieee-802-11": 105,
    "loop": 108,
    "linux-sll": 113,
    "ieee-802-11-radiotap": 127,
    "rawip4": 228,
    "rawip6": 229,
    "nflog": 239,
    "linux-sll2": 276,
}
"""capinfos' (wiretap's) encapsulation names and their LINKTYPE values, for the report's link types."""
FILE_TYPES = {"nsecpcap": "pcap-nsec"}
"""capinfos' file types that the native reader names differently."""

INSTALL = "pip install 'pcapdiag[tshark]' and tshark (apt-get install tshark)"


class TsharkUnavailable(Exception):
    """pyshark or the tshark program is not installed."""


class TsharkError(Exception):
    """tshark could not read the file; the message is tshark's own when it gave one."""


@dataclass(frozen=True, slots=True)
class FileInfo:
    """What capinfos says of the file: the fields a CaptureReport takes from its container."""

    format: str
    """capinfos' file type: pcap, nsecpcap, pcapng, snoop, erf, ..."""
    link_types: frozenset[int]
    truncated: TruncatedRecord | None = None
    drops: int | None = None
    end_ns: int | None = None
    """When the capture stopped (the native pcapng reader takes it from dumpcap's statistics block;
    capinfos does not give it): unknown."""
    snaplen: int | None = None
    """The snapshot length when it cuts packets (capinfos' limit is not read: unknown)."""


def _pyshark() -> tuple[Any, str]:
    """The pyshark module and capinfos' path (beside the tshark pyshark runs); TsharkUnavailable if not."""
    try:
        import pyshark
        from pyshark.tshark.tshark import TSharkNotFoundException, get_process_path
    except ImportError:
        raise TsharkUnavailable(f"--engine tshark needs pyshark: {INSTALL}") from None
    try:
        tshark = get_process_path()
    except TSharkNotFoundException:
        raise TsharkUnavailable(f"--engine tshark needs tshark: {INSTALL}") from None
    capinfos = os.path.join(os.path.dirname(tshark), "capinfos")
    found = capinfos if os.access(capinfos, os.X_OK) else shutil.which("capinfos")
    if found is None:
        raise TsharkUnavailable(f"--engine tshark needs capinfos (installed with tshark): {INSTALL}")
    return pyshark, found


def check_available() -> None:
    """Raise TsharkUnavailable unless pyshark, tshark and capinfos are installed."""
    _pyshark()


def _file_info(capinfos: str, path: str) -> FileInfo:
    """capinfos -t -E: the file type and its encapsulation; TsharkError if it is not a capture."""
    try:
        run = subprocess.run(
            [capinfos, "-t", "-E", "-T", "-r", "-M", path],
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError as exc:
        raise TsharkError(f"capinfos: {exc.strerror or exc}") from None
    fields = run.stdout.rstrip("\n").split("\t")
    if run.returncode not in (0, 1) or len(fields) != 3:
        lines = [line for line in run.stderr.splitlines() if line.startswith("capinfos:")]
        raise TsharkError(lines[-1] if lines else f"capinfos exited with status {run.returncode}")
    _, file_type, encapsulation = fields
    file_type = FILE_TYPES.get(file_type, file_type)
    linktype = ENCAPSULATIONS.get(encapsulation)
    return FileInfo(file_type, frozenset() if linktype is None else frozenset({linktype}))


def _timestamp_ns(epoch: str) -> int:
    """frame.time_epoch ('1795823241.653679000') in integer nanoseconds, without a float's rounding."""
    seconds, _, fraction = epoch.partition(".")
    return int(seconds) * NS + int((fraction + "000000000")[:9])


def _crash_line(exc: BaseException) -> str | None:
    """tshark's own error line from pyshark's TSharkCrashException message, if it has one."""
    for line in str(exc).splitlines():
        if line.startswith("Last error line:"):
            return line.removeprefix("Last error line:").strip() or None
    return None


class TsharkCapture:
    """A capture file as tshark dissects it: its FileInfo and its decoded packets, read once."""

    def __init__(self, path: str) -> None:
        """Check the file and tshark; TsharkUnavailable or TsharkError (with a one-line reason) if not."""
        self._pyshark, capinfos = _pyshark()
        self.path = path
        try:
            st = os.stat(path)
        except OSError as exc:
            raise TsharkError(exc.strerror or str(exc)) from None
        if stat.S_ISDIR(st.st_mode):
            raise TsharkError("is a directory")
        if not stat.S_ISREG(st.st_mode):
            raise TsharkError("--engine tshark reads regular files only, not a pipe or device")
        if st.st_size == 0:
            raise TsharkError("empty file (no capture header)")
        self.info = _file_info(capinfos, path)

    def packets(self) -> Generator[tuple[int, int, Decoded], None, None]:
        """(frame number, timestamp in ns, decoded) for every frame; TsharkError if tshark fails.

        Closing the generator early (--count, an interrupt) stops tshark. A tshark that fails
        before its first packet without saying why (pyshark reports its last stderr line, often
        only the warning about running as root: seen on a loaded machine) is started once more;
        a real failure fails again, and is reported.
        """
        for attempt in (1, 2):
            yielded = 0
            run = self._packets()
            try:
                for packet in run:
                    yielded += 1
                    yield packet
                return
            except TsharkError as exc:
                if yielded or attempt == 2 or str(exc).startswith("tshark:"):
                    raise
            finally:
                run.close()  # stopping early stops tshark

    def _packets(self) -> Generator[tuple[int, int, Decoded], None, None]:
        """One run of tshark over the file (packets())."""
        cap = self._pyshark.FileCapture(
            self.path,
            use_json=True,
            keep_packets=False,
            override_prefs=PREFERENCES,
            decode_as=DECODE_AS,
            custom_parameters=["-j", PROTOCOLS, *(f"--enable-heuristic={h}" for h in HEURISTICS)],
        )
        try:
            for packet in cap:
                yield int(packet.number), _timestamp_ns(str(packet.sniff_timestamp)), decoded_packet(packet)
        except GeneratorExit:
            self._close(cap)
            raise
        except Exception as exc:  # pyshark raises its own types, and KeyError on output it cannot parse
            self._close(cap)
            line = _crash_line(exc)
            raise TsharkError(
                line or f"pyshark could not read tshark's output: {type(exc).__name__}: {exc}"
            ) from None
        error = self._close(cap)
        if error is not None:
            raise TsharkError(error)

    @staticmethod
    def _close(cap: Any) -> str | None:
        """Stop tshark and say what it wrote to stderr if it failed ('tshark: ...'), else None.

        pyshark raises from close() for a tshark that exited with an error, and again from __del__ (a
        traceback on stderr) unless its record of the process is emptied; a tshark that ended with an
        error it had not been reaped for when pyshark killed it shows only in its last stderr line.
        """
        error = None
        try:
            cap.close()
        except Exception as exc:
            line = _crash_line(exc)
            # pyshark stops a tshark that has not exited yet once its output ended, then reports the
            # stopped process as crashed, with its last stderr line: on a loaded machine that is often
            # only the warning about running as root. Only a line tshark wrote as an error is one.
            if line is None or line.startswith("tshark:"):
                error = line or f"tshark failed: {exc}"
        cap._running_processes.clear()
        last = str(getattr(cap, "_last_error_line", "") or "")
        if error is None and last.startswith("tshark:"):
            error = last
        return error
