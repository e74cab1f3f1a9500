"""Coverage-guided atheris fuzzer of the whole pcapdiag pipeline (open_capture, then the engine's driver)."""

from __future__ import annotations

import argparse
import gzip
import hashlib
import pathlib
import shutil
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from types import ModuleType

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
CAPTURES = ROOT / "captures"
WORK = pathlib.Path("/tmp/pcapdiag-fuzz")
DEFAULT_SECONDS = 60
DEFAULT_MAX_LEN = 32 * 1024
"""Largest input tried (bytes): every seed fits (the largest is 13 kB) with room to grow."""
DEFAULT_TIMEOUT_S = 10
"""An input that runs longer than this is a hang (libFuzzer -timeout)."""
DEFAULT_RSS_MB = 1024
"""Memory ceiling of the fuzzing process (libFuzzer -rss_limit_mb)."""
GZIP_SEEDS = 8
"""Seeds also added gzip-compressed, so the gzip path is fuzzed from a valid start too."""


def _load_contract(instrument: bool) -> ModuleType:
    """Import fuzz/contract.py (and with it pcapdiag), under atheris instrumentation if asked."""
    sys.path.insert(0, str(HERE))
    if not instrument:
        import contract

        return contract
    import atheris  # type: ignore[import-untyped,import-not-found,unused-ignore]

    with atheris.instrument_imports(include=["pcapdiag"]):
        import contract
    return contract


def seed_files() -> list[pathlib.Path]:
    """Every capture the repository ships: captures/*/*.pcap*."""
    return sorted(CAPTURES.glob("*/*.pcap*"))


def prepare_corpus(corpus: pathlib.Path, fresh: bool) -> int:
    """Copy the seeds (and gzip copies of the smallest) into ``corpus``; returns how many it holds."""
    if fresh and corpus.exists():
        shutil.rmtree(corpus)
    corpus.mkdir(parents=True, exist_ok=True)
    seeds = seed_files()
    for path in seeds:
        shutil.copyfile(path, corpus / f"seed-{path.parent.name}-{path.name}")
    small = sorted((p for p in seeds if p.stat().st_size > 24), key=lambda p: (p.stat().st_size, p))
    for path in small[:GZIP_SEEDS]:
        (corpus / f"seed-{path.parent.name}-{path.name}.gz").write_bytes(
            gzip.compress(path.read_bytes(), mtime=0)
        )
    return sum(1 for _ in corpus.iterdir())


class Target:
    """The fuzz target: one input through the contract; unexpected exceptions are crashes."""

    def __init__(self, contract: ModuleType, crashes: pathlib.Path, keep_going: bool, render: bool) -> None:
        self._check: Callable[..., object] = contract.check
        self._crashes = crashes
        self._keep_going = keep_going
        self._render = render
        self.signatures: dict[str, int] = {}
        """Distinct crash signatures seen (keep-going mode), with how often each was hit."""
        self.runs = 0

    def __call__(self, data: bytes) -> None:
        self.runs += 1
        try:
            self._check(data, render=self._render)
        except Exception as exc:
            if not self._keep_going:
                raise
            self._save(data, exc)

    def _save(self, data: bytes, exc: Exception) -> None:
        sig = signature(exc)
        hits = self.signatures.get(sig, 0) + 1
        self.signatures[sig] = hits
        if hits > 1:
            if hits % 500 == 0:
                self._write_counts()
            return
        self._crashes.mkdir(parents=True, exist_ok=True)
        name = "crash-" + hashlib.sha1(data).hexdigest()
        (self._crashes / name).write_bytes(data)
        text = "".join(traceback.format_exception(exc))
        (self._crashes / (name + ".txt")).write_text(f"signature: {sig}\n\n{text}")
        print(f"\n#### NEW CRASH {sig}: saved {self._crashes / name}\n{text}", file=sys.stderr, flush=True)
        self._write_counts()

    def _write_counts(self) -> None:
        """libFuzzer ends the process with exit(): the counts live in a file, not in a final print."""
        lines = [f"{hits}\t{sig}" for sig, hits in sorted(self.signatures.items())]
        (self._crashes / "signatures.txt").write_text("\n".join([f"# after {self.runs} runs", *lines]) + "\n")


def signature(exc: BaseException) -> str:
    """Exception type plus the innermost pcapdiag frame: one bug, one signature."""
    where = "?"
    for frame in traceback.extract_tb(exc.__traceback__):
        if "pcapdiag" in frame.filename or "contract" in frame.filename:
            where = f"{pathlib.Path(frame.filename).name}:{frame.lineno}"
    return f"{type(exc).__name__}@{where}"


def replay(paths: Sequence[pathlib.Path], render: bool) -> int:
    """Run each file through the contract once (no atheris needed); 1 if any breaks it."""
    contract = _load_contract(instrument=False)
    failed = 0
    for path in paths:
        data = path.read_bytes()
        start = time.monotonic()
        try:
            outcome = contract.check(data, render=render)
        except Exception as exc:
            failed += 1
            print(f"FAIL {path}: {signature(exc)}")
            traceback.print_exception(exc)
            continue
        took = time.monotonic() - start
        what = f"refused: {outcome.open_error}" if outcome.open_error else f"report, {outcome.flows} flows"
        print(f"ok   {path} ({len(data)} bytes, {took:.3f} s): {what}")
    print(f"{len(paths) - failed} passed, {failed} failed")
    return 1 if failed else 0


def parse_args(argv: Sequence[str]) -> tuple[argparse.Namespace, list[str]]:
    """Our options; anything else is passed to libFuzzer (e.g. -use_value_profile=1)."""
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--seconds", type=int, default=DEFAULT_SECONDS, help="run time in seconds")
    p.add_argument("--max-len", type=int, default=DEFAULT_MAX_LEN, help="largest input in bytes")
    p.add_argument("--timeout", type=int, default=DEFAULT_TIMEOUT_S, help="seconds before an input is a hang")
    p.add_argument("--rss-mb", type=int, default=DEFAULT_RSS_MB, help="memory ceiling in MB")
    p.add_argument("--corpus", type=pathlib.Path, default=WORK / "corpus", help="working corpus directory")
    p.add_argument("--crashes", type=pathlib.Path, default=WORK / "crashes", help="where crashes are saved")
    p.add_argument("--fresh", action="store_true", help="empty the corpus directory first")
    p.add_argument(
        "--keep-going",
        action="store_true",
        help="save each distinct crash and go on (default: stop at the first, as libFuzzer does)",
    )
    p.add_argument("--render", action="store_true", help="also render text and JSON (beyond the contract)")
    p.add_argument("--replay", type=pathlib.Path, nargs="+", help="run these files once and exit")
    return p.parse_known_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Fuzz for --seconds (or replay files); returns the process exit status."""
    args, libfuzzer_args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.replay:
        return replay(args.replay, args.render)
    contract = _load_contract(instrument=True)
    import atheris  # type: ignore[import-untyped,import-not-found,unused-ignore]

    held = prepare_corpus(args.corpus, args.fresh)
    args.crashes.mkdir(parents=True, exist_ok=True)
    print(f"corpus {args.corpus}: {held} inputs; crashes -> {args.crashes}", file=sys.stderr, flush=True)
    target = Target(contract, args.crashes, args.keep_going, args.render)
    fuzzer_argv = [
        sys.argv[0],
        f"-max_total_time={args.seconds}",
        f"-max_len={args.max_len}",
        f"-timeout={args.timeout}",
        f"-rss_limit_mb={args.rss_mb}",
        f"-malloc_limit_mb={args.rss_mb}",
        f"-artifact_prefix={args.crashes}/",
        "-print_final_stats=1",
        *libfuzzer_args,
        str(args.corpus),
    ]
    atheris.Setup(fuzzer_argv, target)
    atheris.Fuzz()  # libFuzzer ends the process itself (exit status 0 at -max_total_time)
    return 0


if __name__ == "__main__":
    sys.exit(main())
