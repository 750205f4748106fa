"""What every benchmark case shares: the hub subprocess, timers, statistics, counters, test data.

Only the standard library (plus psutil when present) is imported at module level: the
runner must set the Hub environment variables before huggingface_hub is first imported.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import secrets
import select
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

MiB = 1 << 20
GiB = 1 << 30
BIN = Path(sys.executable).parent
HUBVER = str(BIN / "hubver")
HF = str(BIN / "hf")

# Variables a benchmark subprocess must not inherit: a real token or endpoint would leak
# traffic (or credentials) off this machine.
_SCRUBBED = (
    "HF_TOKEN",
    "HUGGING_FACE_HUB_TOKEN",
    "HUBVER_TOKEN",
    "HUBVER_REPO",
    "HUBVER_ENDPOINT",
    "HUBVER_HUB_TOKEN",
    "HF_HUB_OFFLINE",
)


# -- statistics -----------------------------------------------------------------------------------


def summarize(samples: Sequence[float]) -> dict[str, float | int]:
    """Median, min/max and quartiles of `samples` (all equal for a single sample)."""
    xs = sorted(samples)
    if not xs:
        return {"n": 0}
    q = statistics.quantiles(xs, n=4, method="inclusive") if len(xs) > 1 else [xs[0]] * 3
    return {
        "n": len(xs),
        "median": statistics.median(xs),
        "min": xs[0],
        "max": xs[-1],
        "p25": q[0],
        "p75": q[2],
    }


def percentile(samples: Sequence[float], p: float) -> float:
    """The `p`-th percentile (0-100), nearest-rank."""
    xs = sorted(samples)
    k = max(0, min(len(xs) - 1, round(p / 100 * (len(xs) - 1))))
    return xs[k]


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


# -- results --------------------------------------------------------------------------------------


@dataclass
class Row:
    """One line of the results table: a measurement, what it is compared with, and the verdict."""

    case: str
    what: str
    value: dict[str, Any]  # summarize() of the measurement, plus "unit"
    baseline: dict[str, Any] | None = None  # same shape, or None
    baseline_label: str = ""
    result: str = ""  # the compared figure, as shown (ratio, overhead, count...)
    target: str = ""
    passed: bool | None = None  # None: informational, or not judged (smoke mode)
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def measured(samples: Sequence[float], unit: str) -> dict[str, Any]:
    return {**summarize(samples), "unit": unit}


def fmt_value(v: dict[str, Any] | None) -> str:
    if not v or not v.get("n"):
        return "-"
    unit = v["unit"]

    def one(x: float) -> str:
        if unit == "s":
            return f"{x * 1000:.0f} ms" if x < 1 else f"{x:.2f} s"
        if unit == "ms":
            return f"{x:.2f} ms"
        if unit == "MB/s":
            return f"{x:.0f} MB/s"
        if unit == "MB":
            return f"{x:.0f} MB"
        if unit == "bytes":
            return human_bytes(x)
        return f"{x:g} {unit}".strip()

    if v["n"] == 1 or v["min"] == v["max"]:
        return one(v["median"])
    return f"{one(v['median'])} [{one(v['min'])}..{one(v['max'])}]"


def human_bytes(n: float) -> str:
    for unit, size in (("GiB", GiB), ("MiB", MiB), ("KiB", 1024)):
        if abs(n) >= size:
            return f"{n / size:.2f} {unit}"
    return f"{n:.0f} B"


# -- the hub under test -----------------------------------------------------------------------------


class HubProcess:
    """`hubver hub serve` in a subprocess, so that its memory is measured apart from the clients'."""

    def __init__(self, data_dir: Path, log_path: Path, wrapper: Sequence[str] = ()) -> None:
        self.data_dir = data_dir
        self.token = "hv_bench_" + secrets.token_hex(16)
        self.log_path = log_path
        self.wrapper = list(wrapper)  # e.g. py-spy record ... --, to profile the server
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""
        self._pid: int | None = None

    def start(self, env: dict[str, str], timeout: float = 60.0) -> str:
        log = self.log_path.open("w")
        self.proc = subprocess.Popen(
            [
                *self.wrapper,
                HUBVER,
                "hub",
                "serve",
                "--port",
                "0",
                "--data-dir",
                str(self.data_dir),
                "--token",
                self.token,
            ],
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            env=env,
        )
        log.close()
        assert self.proc.stdout is not None
        line = ""
        deadline = time.monotonic() + timeout
        for _ in range(20):  # a wrapper may print a few lines of its own first
            ready, _, _ = select.select([self.proc.stdout], [], [], max(0.0, deadline - time.monotonic()))
            raw = self.proc.stdout.readline() if ready else ""
            line = raw.strip()
            if not raw or line.startswith("http://"):  # EOF, timeout or the URL
                break
        if not line.startswith("http://127.0.0.1:"):
            self.stop()
            raise RuntimeError(f"the hub did not start: {line!r}; see {self.log_path}")
        self.url = line
        # Keep reading stdout so the server never blocks on a full pipe.
        threading.Thread(target=self._drain, daemon=True).start()
        return self.url

    def _drain(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for _ in self.proc.stdout:
            pass

    @property
    def pid(self) -> int:
        """The server's pid (under a wrapper, the wrapper's child)."""
        assert self.proc is not None
        if not self.wrapper:
            return self.proc.pid
        if self._pid is None:
            children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()
            self._pid = int(children[0])
        return self._pid

    def rss(self) -> int:
        """Resident set size now, in bytes."""
        try:
            import psutil

            return psutil.Process(self.pid).memory_info().rss
        except ImportError:
            return _status_kib(self.pid, "VmRSS") * 1024

    def peak_rss(self) -> int:
        """Peak resident set size (VmHWM) since start or the last `reset_peak`, in bytes."""
        return _status_kib(self.pid, "VmHWM") * 1024

    def reset_peak(self) -> bool:
        """Reset VmHWM to the current RSS (Linux >= 4.0, "5" in clear_refs); False if refused."""
        try:
            Path(f"/proc/{self.pid}/clear_refs").write_text("5")
            return True
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        if self.wrapper:  # end the server; the wrapper then finishes (py-spy writes its profile)
            with contextlib.suppress(Exception):
                os.kill(self.pid, 15)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(30)
            if self.proc.poll() is not None:
                return
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)


def _status_kib(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{key} not in /proc/{pid}/status")


class RssSampler:
    """Samples a process's RSS in a thread; `peak` is the largest sample, `samples` all of them."""

    def __init__(self, read: Callable[[], int], interval: float = 0.02) -> None:
        self.read = read
        self.interval = interval
        self.samples: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(Exception):
                self.samples.append(self.read())
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    @property
    def peak(self) -> int:
        return max(self.samples, default=0)


# -- counting the client's requests ------------------------------------------------------------------


@dataclass
class Sent:
    method: str
    path: str
    body: int  # declared body size (Content-Length), 0 without a body


@contextlib.contextmanager
def client_requests() -> Iterator[list[Sent]]:
    """Record every request huggingface_hub's shared client sends while the block runs.

    Uses the public `get_session()` client and httpx's public `event_hooks`, so hubver's
    own requests (it uses the same session) and the raw client's are counted alike.
    """
    from huggingface_hub import get_session

    session = get_session()
    seen: list[Sent] = []

    def hook(request: Any) -> None:
        length = request.headers.get("content-length")
        seen.append(Sent(request.method, request.url.path, int(length) if length else 0))

    hooks = session.event_hooks
    session.event_hooks = {**hooks, "request": [*hooks.get("request", []), hook]}
    try:
        yield seen
    finally:
        session.event_hooks = hooks


def request_kinds(seen: Sequence[Sent]) -> dict[str, int]:
    """Requests grouped by method and route shape, e.g. {'GET /api/models/*/*/refs': 1}."""
    out: dict[str, int] = {}
    for s in seen:
        parts = s.path.strip("/").split("/")
        if parts[0] == "api" and len(parts) >= 4 and parts[1] in ("models", "datasets", "spaces"):
            shape = "/".join(["api", parts[1], "*", "*", *parts[4:5]])
        elif len(parts) >= 3 and parts[2] == "resolve":
            shape = "*/*/resolve"
        elif parts[0].startswith("lfs-"):
            shape = parts[0]
        elif len(parts) >= 2 and parts[1].endswith(".git"):
            shape = "*/*.git/" + "/".join(parts[2:])
        else:
            shape = "/".join(parts)
        key = f"{s.method} /{shape}"
        out[key] = out.get(key, 0) + 1
    return dict(sorted(out.items()))


# -- subprocesses ------------------------------------------------------------------------------------


def child_env(base: dict[str, str], **extra: str) -> dict[str, str]:
    env = {k: v for k, v in base.items() if k not in _SCRUBBED}
    env.update(extra)
    return env


def run_timed(argv: Sequence[str], env: dict[str, str], cwd: Path, timeout: float = 300) -> float:
    """Wall time of a command, start to exit; raises if it fails."""
    t = time.perf_counter()
    proc = subprocess.run(list(argv), env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    elapsed = time.perf_counter() - t
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:3])} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return elapsed


# -- test data -------------------------------------------------------------------------------------

_BLOCK: bytes | None = None
_BLOCK_SIZE = 16 * MiB


def _block() -> bytes:
    global _BLOCK
    if _BLOCK is None:
        _BLOCK = os.urandom(_BLOCK_SIZE)
    return _BLOCK


def write_data(path: Path, size: int, seed: int, *, offset: int = 0, f: Any = None) -> None:
    """Write `size` incompressible bytes, unique per (`seed`, position).

    os.urandom runs at ~150 MB/s here, slower than the transfers measured, so one random
    16 MiB block is reused with a (seed, block index) stamp at the start of every block:
    every file and every block hashes differently, and nothing on the path compresses
    or deduplicates by content, so this transfers exactly like fresh random data.
    """
    block = _block()
    own = f is None
    if own:
        f = path.open("wb")
    try:
        written, index = 0, 0
        while written < size:
            n = min(_BLOCK_SIZE, size - written)
            stamp = f"{seed:016x}{offset + index:016x}".encode()
            chunk = stamp + block[len(stamp) : n] if n > len(stamp) else stamp[:n]
            f.write(chunk)
            written += n
            index += 1
    finally:
        if own:
            f.close()


def write_safetensors(path: Path, tensors: dict[str, list[int]], seed: int) -> int:
    """A valid F32 safetensors file with the given shapes and seed-dependent bytes; returns its size."""
    header: dict[str, Any] = {}
    start = 0
    for name, shape in tensors.items():
        n = 4
        for d in shape:
            n *= d
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [start, start + n]}
        start += n
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    with path.open("wb") as f:
        f.write(len(raw).to_bytes(8, "little"))
        f.write(raw)
        write_data(path, start, seed, f=f)
    return path.stat().st_size


def reseed_safetensors(path: Path, seed: int) -> None:
    """Rewrite the tensor bytes of a safetensors file in place (header untouched): a new version."""
    with path.open("r+b") as f:
        header_len = int.from_bytes(f.read(8), "little")
        data_start = 8 + header_len
        size = path.stat().st_size - data_start
        f.seek(data_start)
        write_data(path, size, seed, f=f)


def tree_state(root: Path) -> dict[str, tuple[int, int]]:
    """path -> (size, mtime_ns) of every file under `root`: a cheap 'was anything written?' probe."""
    out = {}
    if root.exists():
        for p in root.rglob("*"):
            if p.is_file() and not p.is_symlink():
                st = p.stat()
                out[str(p.relative_to(root))] = (st.st_size, st.st_mtime_ns)
    return out


def dir_size(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file() and not p.is_symlink())


def rm(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


# -- the machine -----------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    def version(dist: str) -> str | None:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return None

    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown",
    )
    mem_kib = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal:")
    )
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu": cpu,
        "memory_gib": round(mem_kib / (1 << 20), 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "torch": version("torch"),
        "transformers": version("transformers"),
        "huggingface_hub": version("huggingface_hub"),
        "hubver": version("hubver"),
        "uvicorn": version("uvicorn"),
        "loadavg_at_start": list(os.getloadavg()),
    }


_IDLE = ("Condition.wait ", "EpollSelector.select ", "select ", "sleep ", "Event.wait ")


def top_frames(collapsed: Path, top: int = 25) -> str:
    """Self and inclusive time per function from a collapsed-stack profile (py-spy -f raw)."""
    own: dict[str, int] = {}
    incl: dict[str, int] = {}
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [f.split("/site-packages/")[-1] for f in stack.split(";")]
        if frames[-1].startswith(_IDLE):  # threads waiting for work, not working
            continue
        total += n
        own[frames[-1]] = own.get(frames[-1], 0) + n
        for f in set(frames):
            incl[f] = incl.get(f, 0) + n
    if not total:
        return "no samples"
    out = [f"{total} samples (idle waits left out)", "-- self"]
    out += [f"{n / total:6.1%}  {f}" for f, n in sorted(own.items(), key=lambda kv: -kv[1])[:top]]
    out += ["-- inclusive"]
    out += [f"{n / total:6.1%}  {f}" for f, n in sorted(incl.items(), key=lambda kv: -kv[1])[:top]]
    return "\n".join(out)
