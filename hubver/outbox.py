"""The callback's durable outbox: snapshots waiting to be published, in training order.

A snapshot handed over by `HubverCallback` is first written here, fsynced, and only then
published; a kill of any process at any moment loses at most what was never written. It
lives beside the training output (`OUTPUT_DIR/.hubver/outbox/`, a folder `hubver push`
never publishes), because that is what a preempted job's next run sees, whatever node it
lands on:

    .drain.lock              held by the one process publishing (so versions keep their order)
    <time_ns>-s<step>/       one snapshot: its files, and job.json once they are complete
        .owner               locked by the trainer while it writes the entry or awaits its metrics
        job.json             what to publish it as: repo, endpoint, push options (never a token)
    failed/<entry>/          entries the hub refused for good, with error.txt

Entries are published oldest first. An entry whose `.owner` lock is held is not ready yet
(its trainer still writes it); a lock is released by the kernel when its holder dies, so an
entry of a killed run becomes publishable by itself, and one without job.json was never
complete and is removed.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import HubverError

OUTBOX_DIR = Path(".hubver") / "outbox"
JOB_FILE = "job.json"
OWNER_FILE = ".owner"
DRAIN_LOCK = ".drain.lock"


class OutboxBusy(HubverError):
    """Another process is publishing this outbox."""


def outbox_for(path: str | Path) -> Path:
    """The outbox of a training output dir (or `path` itself when it is an outbox)."""
    path = Path(path).expanduser()
    if (path / DRAIN_LOCK).exists() or path.name == OUTBOX_DIR.name and path.parent.name == ".hubver":
        return path
    return path / OUTBOX_DIR


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(root: Path) -> None:
    """Flush every file and folder under `root` to disk (a snapshot is durable once this returns)."""
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            fd = os.open(os.path.join(dirpath, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        _fsync_dir(Path(dirpath))


def write_json_durably(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    from .jsonio import finite

    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(finite(data), f, allow_nan=False, default=str)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _try_lock(path: Path) -> int | None:
    """An exclusive, non-blocking flock on `path` (created if needed): its fd, or None if held."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except FileNotFoundError:  # the entry was removed meanwhile
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        # Locked a file that someone removed meanwhile: that lock protects nothing.
        if os.fstat(fd).st_ino != os.stat(path).st_ino:
            raise OSError("lock file replaced")
    except OSError:
        os.close(fd)
        return None
    return fd


def _unlock(fd: int | None) -> None:
    if fd is not None:
        with contextlib.suppress(OSError):
            os.close(fd)


@dataclass
class Entry:
    """One snapshot in the outbox."""

    path: Path
    _owner_fd: int | None = None

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def files(self) -> Path:
        return self.path / "files"

    @property
    def step(self) -> int:
        try:
            return int(self.name.rsplit("-s", 1)[1])
        except (IndexError, ValueError):
            return -1

    def job(self) -> dict[str, Any] | None:
        """job.json, or None while the entry is incomplete (or unreadable)."""
        try:
            data = json.loads((self.path / JOB_FILE).read_text("utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def has_job_file(self) -> bool:
        return (self.path / JOB_FILE).exists()

    def write_job(self, job: dict[str, Any]) -> None:
        write_json_durably(self.path / JOB_FILE, job)

    def seal(self, job: dict[str, Any]) -> None:
        """The entry is complete: write its final job.json and let a publisher take it."""
        self.write_job({**job, "sealed": True})
        self.release()

    def release(self) -> None:
        _unlock(self._owner_fd)
        self._owner_fd = None

    def describe(self) -> str:
        job = self.job() or {}
        epoch = job.get("epoch")
        where = (
            f"epoch {epoch:g}, step {self.step}" if isinstance(epoch, (int, float)) else f"step {self.step}"
        )
        return f"{job.get('trigger', 'snapshot')} snapshot ({where})"


class Outbox:
    """The outbox at `root` (created on first use)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def create(self, step: int) -> Entry:
        """A new entry, locked by this process until `seal()` (or until it dies)."""
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.root / f"{time.time_ns():020d}-s{step:09d}"
        path.mkdir()
        (path / "files").mkdir()
        fd = _try_lock(path / OWNER_FILE)
        if fd is None:  # a fresh directory nobody else knows: cannot happen
            raise HubverError(f"Could not lock the new outbox entry {path}.")
        _fsync_dir(self.root)
        return Entry(path, fd)

    def entries(self) -> list[Entry]:
        """Every entry, oldest first (complete or not)."""
        if not self.root.is_dir():
            return []
        return [
            Entry(p)
            for p in sorted(self.root.iterdir())
            if p.is_dir() and p.name[:1].isdigit() and (p / "files").is_dir()
        ]

    @contextlib.contextmanager
    def claim(self, entry: Entry) -> Iterator[bool]:
        """Lock an entry to publish or remove it: yields False if its owner still holds it."""
        fd = _try_lock(entry.path / OWNER_FILE)
        try:
            yield fd is not None and entry.path.is_dir()
        finally:
            _unlock(fd)

    def remove(self, entry: Entry) -> None:
        shutil.rmtree(entry.path, ignore_errors=True)
        self.tidy()

    def set_aside(self, entry: Entry, error: str) -> Path:
        """Move an entry the hub refused for good to failed/, with the reason."""
        failed = self.root / "failed"
        failed.mkdir(parents=True, exist_ok=True)
        target = failed / entry.name
        os.replace(entry.path, target)
        (target / "error.txt").write_text(error + "\n", "utf-8")
        return target

    def failed(self) -> list[Path]:
        failed = self.root / "failed"
        return sorted(p for p in failed.iterdir() if p.is_dir()) if failed.is_dir() else []

    def retry_failed(self) -> int:
        """Put the entries of failed/ back in line (their original order), for another try."""
        moved = 0
        for path in self.failed():
            (path / "error.txt").unlink(missing_ok=True)
            os.replace(path, self.root / path.name)
            moved += 1
        self.tidy()
        return moved

    def tidy(self) -> None:
        """Remove the outbox once nothing is left in it: no snapshot directory stays behind."""
        with contextlib.suppress(OSError):
            (self.root / "failed").rmdir()
        if not self.root.is_dir() or self.entries() or self.failed():
            return
        fd = _try_lock(self.root / DRAIN_LOCK)
        if fd is None:
            return  # a publisher is at work: it tidies up itself
        try:
            leftovers = [p for p in self.root.iterdir() if p.name != DRAIN_LOCK]
            if not leftovers:
                (self.root / DRAIN_LOCK).unlink(missing_ok=True)
                self.root.rmdir()
                with contextlib.suppress(OSError):
                    self.root.parent.rmdir()  # .hubver/, when the outbox was all it held
        except OSError:
            pass
        finally:
            _unlock(fd)

    @contextlib.contextmanager
    def drain_lock(self, *, wait: float = 0.0) -> Iterator[None]:
        """Be the one publisher of this outbox; waits up to `wait` seconds, then raises OutboxBusy."""
        self.root.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + wait
        while True:
            fd = _try_lock(self.root / DRAIN_LOCK)
            if fd is not None:
                break
            if time.monotonic() >= deadline:
                holder = ""
                with contextlib.suppress(OSError, ValueError):
                    holder = f" (pid {int((self.root / DRAIN_LOCK).read_text().strip())})"
                raise OutboxBusy(
                    f"Another process{holder} is publishing the outbox {self.root}.",
                    "Wait for it to finish, then run `hubver push --pending` again if anything is left.",
                )
            time.sleep(0.2)
        try:
            os.ftruncate(fd, 0)
            os.write(fd, str(os.getpid()).encode())
            yield
        finally:
            _unlock(fd)
            self.tidy()
