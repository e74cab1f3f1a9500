"""Break pcapdiag's memory down with tracemalloc: by allocation site, and per connection by attribute."""

from __future__ import annotations

import argparse
import enum
import gc
import os
import sys
import tracemalloc
import types
from collections.abc import Iterator
from pathlib import Path

from pcapdiag.capture import open_capture
from pcapdiag.flow.table import HalfOpen, Tracked
from pcapdiag.pipeline import Engine, Options
from pcapdiag.report import FlowReport
from pcapdiag.report.stream import JsonStream

"""Frames read between two looks at the connection table (the CLI's batch size)."""
_SHARED = (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType, bool, type(None), enum.Enum)
SNAPSHOT_GROWTH = 1.25
"""Without --frames, a new snapshot is taken when the open connections grew by this factor."""
SOURCE: dict[str, list[str]] = {}
"""pcapdiag's source as imported (other people edit it while benchmarks run): sites print this text."""
for _name, _module in list(sys.modules.items()):
    if _name.startswith("pcapdiag") and _module.__file__:
        SOURCE[_module.__file__] = Path(_module.__file__).read_text().splitlines()


def source_line(filename: str, lineno: int) -> str:
    """The text of a line of pcapdiag's code as it was imported."""
    lines = SOURCE.get(filename)
    return lines[lineno - 1].strip() if lines and 0 < lineno <= len(lines) else ""


def deep_size(obj: object, seen: set[int]) -> int:
    """Bytes of ``obj`` and everything it alone reaches (objects already in ``seen`` count once)."""
    total = 0
    stack = [obj]
    while stack:
        o = stack.pop()
        if id(o) in seen or isinstance(o, _SHARED) or (type(o) is int and -5 <= o <= 256):
            continue
        if isinstance(o, str | bytes) and len(o) <= 1:
            continue  # interned singletons
        seen.add(id(o))
        total += sys.getsizeof(o)
        if isinstance(o, int | float | str | bytes | bytearray):
            continue
        stack.extend(r for r in gc.get_referents(o) if not isinstance(r, type))
    return total


def attributes(obj: object) -> Iterator[tuple[str, object]]:
    """An object's instance attributes (``__dict__`` or ``__slots__``)."""
    if hasattr(obj, "__dict__"):
        yield from vars(obj).items()
    for cls in type(obj).__mro__:
        for name in getattr(cls, "__slots__", ()):
            if hasattr(obj, name):
                yield name, getattr(obj, name)


def breakdown(
    obj: object, seen: set[int], depth: int, indent: str = "", skip: frozenset[str] = frozenset()
) -> list[str]:
    """Lines giving the bytes behind each attribute of ``obj`` (recursing ``depth`` levels)."""
    lines = []
    own = sys.getsizeof(obj) + (sys.getsizeof(vars(obj)) if hasattr(obj, "__dict__") else 0)
    seen.add(id(obj))
    if hasattr(obj, "__dict__"):
        seen.add(id(vars(obj)))
    lines.append(f"{indent}{type(obj).__name__}: object itself {own} B")
    for name, value in attributes(obj):
        if name in skip:
            continue
        children = list(value) if isinstance(value, tuple | list) and depth > 0 else []
        if children and all(hasattr(c, "__slots__") or hasattr(c, "__dict__") for c in children):
            container = sys.getsizeof(value)
            seen.add(id(value))
            lines.append(f"{indent}  .{name}: {type(value).__name__} of {len(children)} ({container} B)")
            for child in children[:2]:
                lines.extend(breakdown(child, seen, depth - 1, indent + "    "))
            continue
        size = deep_size(value, seen)
        if size:
            lines.append(f"{indent}  .{name}: {size} B ({type(value).__name__})")
    return lines


def main(argv: list[str] | None = None) -> int:
    """Command line: python bench/tracemem.py CAPTURE [--frames N] [--max-flows N] [--top N]."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("capture", type=Path)
    ap.add_argument("--frames", type=int, help="stop reading after this many frames (default: all)")
    ap.add_argument("--max-flows", type=int, default=Options().max_flows)
    ap.add_argument("--top", type=int, default=20, help="allocation sites to list")
    ap.add_argument(
        "--render", action="store_true", help="render each flow as JSON (slow; off: flows counted)"
    )
    args = ap.parse_args(argv)

    renderer = JsonStream()
    sink = open(os.devnull, "w")  # noqa: SIM115
    flows = 0

    def emit(flow: FlowReport) -> None:
        nonlocal flows
        flows += 1
        if args.render:
            sink.write(renderer.flow(flow))

    tracemalloc.start(1)
    options = Options(max_flows=args.max_flows)
    engine = Engine(str(args.capture), options)
    table = engine.table
    with open(args.capture, "rb") as stream:
        capture = open_capture(stream, str(args.capture))
        most = -1
        snapshot = None
        sample: Tracked | None = None
        read = 0
        for block in capture.blocks():
            if args.frames is not None:
                block = block.head(args.frames - read)
            for d in engine.feed(block):
                emit(d.flow)
            read += len(block)
            del block
            open_now = len(table.open)
            at_end = args.frames is not None and read >= args.frames
            if at_end or (args.frames is None and open_now > max(most * SNAPSHOT_GROWTH, 50)):
                most = open_now
                snapshot = (tracemalloc.take_snapshot(), tracemalloc.get_traced_memory()[0], read)
                conns = list(table.open.values())
                sample = conns[len(conns) // 2] if conns else None
                del conns
            if at_end:
                break
        traced_before_end = tracemalloc.get_traced_memory()[0]
        for d in engine.close(capture)[0]:
            emit(d.flow)
    current, peak = tracemalloc.get_traced_memory()
    print(f"{args.capture}: {read} frames read, {flows} connections reported")
    print(f"traced memory: peak {peak / 1e6:.1f} MB, before end() {traced_before_end / 1e6:.1f} MB, "
          f"after end() {current / 1e6:.1f} MB")  # fmt: skip
    print(f"untracked connections {table.untracked_flows}, tombstones {len(table._tombstones)}")
    if snapshot is None:
        return 0
    snap, traced, at = snapshot
    snap = snap.filter_traces([tracemalloc.Filter(False, tracemalloc.__file__)])
    print(f"\nat frame {at}: {most} connections open, {traced / 1e6:.1f} MB traced, "
          f"{traced / max(most, 1):,.0f} B per open connection")  # fmt: skip
    print(f"\ntop {args.top} allocation sites (live at that point):")
    for stat in snap.statistics("lineno")[: args.top]:
        frame = stat.traceback[0]
        where = f"{Path(frame.filename).parent.name}/{Path(frame.filename).name}:{frame.lineno}"
        per = stat.size / max(most, 1)
        text = source_line(frame.filename, frame.lineno)[:60]
        print(f"  {stat.size / 1e6:7.1f} MB {stat.count:9,} blocks {per:6.0f} B/conn  {where:24} {text}")
    print("\nby file:")
    for stat in snap.statistics("filename")[:10]:
        print(f"  {stat.size / 1e6:8.1f} MB  {Path(stat.traceback[0].filename).name}")
    if isinstance(sample, HalfOpen):
        print(f"\none open connection then, a lone SYN held as a HalfOpen: {deep_size(sample, set())} B")
        for line in breakdown(sample, set(), depth=1):
            print("  " + line)
    elif sample is not None:
        conn = sample
        print(f"\none open connection then, history {conn.history_string!r}, {conn.packets} packets: "
              f"{deep_size(conn, set())} B in all (its observer included)")  # fmt: skip
        seen: set[int] = set()
        for line in breakdown(conn, seen, depth=2, skip=frozenset({"observer"})):
            print("  " + line)
        app = conn.observer
        if app is not None:
            print(f"  .observer: {deep_size(app, set(seen))} B")
            for line in breakdown(app, seen, depth=1):
                print("    " + line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
