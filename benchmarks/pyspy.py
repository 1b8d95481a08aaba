"""py-spy on a running server's processes for the length of a benchmark, and what its samples say.

:func:`recording` runs ``py-spy record`` on each given process (Granian's backend workers, for ``benchmarks/load.py
--profile DIR``) while the block runs and stops it with SIGINT, so that it writes its file: collapsed stacks
(``--format raw``, one ``frame;frame;... count`` line per distinct stack), which speedscope (https://speedscope.app)
opens as they are and ``flamegraph.pl`` / ``inferno-flamegraph`` turn into an SVG. :func:`summarize` reads those files:
the functions of this repository that the most samples pass through (inclusive), the functions the most samples are
in (self), and self samples by package.

py-spy reads the processes' memory through ptrace (root, or ``CAP_SYS_PTRACE``); it samples without pausing them
(``--nonblocking``) so that the figures measured beside a profile are disturbed as little as possible. Only the thread
that holds the worker's GIL is sampled (``--gil``): one worker runs Python on one core at most, whatever its threads
(the event loop, the handlers' thread pool, the background jobs), so what holds the GIL is what a request queues
behind; a thread waiting on PostgreSQL, Redis or a socket releases it and is not counted.
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")
OWN_CODE = tuple(f"{ROOT}/{room}/" for room in ("oo_app", "agents"))


def py_spy() -> str:
    """The py-spy program: beside this Python (the project's environment), else on PATH."""
    found = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if found is None:
        raise RuntimeError("py-spy is not installed: it is a dev dependency (requirements.lock)")
    return found


@contextmanager
def recording(pids: list[int], directory: Path, rate: int = 100) -> Iterator[list[Path]]:
    """``py-spy record`` on every process of ``pids`` until the block ends; yields the files it writes there
    (``worker-PID.txt``, collapsed stacks), complete once the block has ended."""
    directory.mkdir(parents=True, exist_ok=True)
    program = py_spy()
    spies: list[tuple[subprocess.Popen, Path]] = []
    try:
        for pid in pids:
            output = directory / f"worker-{pid}.txt"
            command = [program, "record", "--pid", str(pid), "--rate", str(rate), "--nonblocking", "--gil"]
            command += ["--format", "raw", "--full-filenames", "--output", str(output)]
            log = (directory / f"py-spy-{pid}.log").open("w")
            spies.append((subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT), output))
        yield [output for _, output in spies]
    finally:
        for spy, _ in spies:
            if spy.poll() is None:
                spy.send_signal(signal.SIGINT)
        for spy, _ in spies:
            try:
                spy.wait(timeout=60)
            except subprocess.TimeoutExpired:
                spy.kill()
                spy.wait()


@dataclass(frozen=True)
class Profile:
    """What the samples of one recording say; shares are of all samples."""

    files: list[Path]
    samples: int
    inclusive: list[tuple[str, float]]  # this repository's functions by the share of samples that pass through them
    self_time: list[tuple[str, float]]  # any function by the share of samples that stand in it
    packages: list[tuple[str, float]]  # self samples by package (the leaf frame's)


def _frame(text: str) -> tuple[str, str]:
    """``(function, file)`` of one collapsed frame ``function (file:line)``."""
    match = FRAME.match(text)
    return (match["function"], match["file"]) if match else (text, "")


def _short(function: str, file: str) -> str:
    for marker in ("/site-packages/", f"{ROOT}/"):
        if marker in file:
            file = file.split(marker, 1)[1]
            break
    else:
        file = re.sub(r"^.*/lib/python3\.\d+/", "", file)
    return f"{function} ({file})"


def _package(file: str) -> str:
    if "/site-packages/" in file:
        return file.split("/site-packages/", 1)[1].split("/", 1)[0].removesuffix(".py")
    if file.startswith(OWN_CODE):
        return file.removeprefix(f"{ROOT}/").split("/", 1)[0]
    stdlib = re.match(r"^.*/lib/python3\.\d+/([^/]+)", file)
    return f"stdlib {stdlib[1].removesuffix('.py')}" if stdlib else file or "?"


def summarize(files: list[Path], top: int = 15) -> Profile:
    """Reads the collapsed stacks of ``files`` (one recording of several processes) into a :class:`Profile`."""
    inclusive: Counter[str] = Counter()
    self_time: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    samples = 0
    for path in files:
        if not path.exists():
            continue
        for line in path.read_text(errors="replace").splitlines():
            stack, _, count_text = line.rpartition(" ")
            if not stack or not count_text.isdigit():
                continue
            count = int(count_text)
            frames = [_frame(part) for part in stack.split(";")]
            samples += count
            function, file = frames[-1]
            self_time[_short(function, file)] += count
            packages[_package(file)] += count
            for name in {_short(function, file) for function, file in frames if file.startswith(OWN_CODE)}:
                inclusive[name] += count

    def shares(counter: Counter[str]) -> list[tuple[str, float]]:
        return [(name, count / samples) for name, count in counter.most_common(top)] if samples else []

    return Profile(files, samples, shares(inclusive), shares(self_time), shares(packages))


def print_profile(profile: Profile) -> None:
    where = ", ".join(str(path) for path in profile.files)
    print(f"\npy-spy: {profile.samples} samples of the backend workers' GIL holders ({where})")
    for title, rows in (
        ("this repository's functions, inclusive", profile.inclusive),
        ("functions, self", profile.self_time),
        ("packages, self", profile.packages),
    ):
        print(f"  {title}:")
        for name, share in rows:
            print(f"    {share:6.1%}  {name}")
