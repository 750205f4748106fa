"""The process that publishes `HubverCallback`'s outbox while training goes on.

A thread in the training process would share its GIL: every push (HTTP client, hashing,
card rendering) would stall the training loop, which is Python too. So the callback starts
this module as a child process (`python -m hubver.uploader OUTBOX`) at lower CPU priority.
It publishes the outbox's entries in order (`hubver.pending.drain`) and talks to the
trainer over pipes, one JSON object per line:

- parent -> child: first the settings (the token travels here, never on disk), then a line
  whenever a new snapshot is in the outbox; closing stdin means "no more snapshots";
- child -> parent: one line per entry published or failed (`hubver.pending.Outcome`).

It runs in a session of its own with SIGINT ignored from before its first instruction (the
parent sets the disposition, which exec keeps): Ctrl-C in the training terminal, or a signal
to the trainer's process group, does not stop the uploads already handed over. When its
input closes (training ended, or the trainer died) it publishes what is left and exits;
passing failures (hub unreachable, 429, 5xx) are retried until `HUBVER_OUTBOX_PATIENCE`
seconds (default one hour) without progress, and then left in the outbox for the next run
or `hubver push --pending`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .settings import Settings


def settings_to_json(settings: Settings) -> dict[str, Any]:
    data = dataclasses.asdict(settings)
    data["config_file"] = str(settings.config_file) if settings.config_file else None
    return data


def settings_from_json(data: dict[str, Any]) -> Settings:
    data = dict(data)
    data["config_file"] = Path(data["config_file"]) if data.get("config_file") else None
    return Settings(**data)


def _ignore_sigint() -> None:  # runs in the child between fork and exec
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class UploaderProcess:
    """The parent's side: wake the child for each new entry, get each outcome through `on_outcome`."""

    def __init__(
        self, outbox: Path, settings: Settings, on_outcome: Callable[[dict[str, Any]], None]
    ) -> None:
        import hubver

        env = dict(os.environ)
        env["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"  # the training's terminal is not for upload bars
        # One hashing thread: the cores belong to the training loop, which waits for nothing here.
        env.setdefault("HUBVER_HASH_THREADS", "1")
        source_root = str(Path(hubver.__file__).resolve().parent.parent)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (source_root, env.get("PYTHONPATH")) if p)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "hubver.uploader", str(outbox)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            text=True,
            bufsize=1,
            start_new_session=True,
            preexec_fn=_ignore_sigint,
        )
        self._on_outcome = on_outcome
        self._lock = threading.Lock()
        self._send({"settings": settings_to_json(settings)})
        self._reader = threading.Thread(target=self._read, name="hubver-uploader-reader", daemon=True)
        self._reader.start()

    def _send(self, message: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        with self._lock:
            self.proc.stdin.write(json.dumps(message) + "\n")
            self.proc.stdin.flush()

    def wake(self) -> None:
        """A new entry is in the outbox."""
        self._send({"wake": True})

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with contextlib.suppress(ValueError):
                self._on_outcome(json.loads(line))

    def close(self, timeout: float | None = None) -> int | None:
        """No more entries: wait up to `timeout` s for the child to publish what it has.

        Returns its exit code, or None if it was still at work and has been stopped (what it
        had not published stays in the outbox).
        """
        with self._lock, contextlib.suppress(BrokenPipeError, OSError):
            assert self.proc.stdin is not None
            self.proc.stdin.close()
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            code = None
        self._reader.join(5)
        return code

    def kill(self) -> None:
        with contextlib.suppress(OSError):
            self.proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(10)

    def alive(self) -> bool:
        return self.proc.poll() is None


def _answer(message: dict[str, Any]) -> None:
    with contextlib.suppress(BrokenPipeError, OSError, ValueError):  # the trainer may be gone
        sys.stdout.write(json.dumps(message, default=str) + "\n")
        sys.stdout.flush()


class _Input:
    """The parent's lines, read without blocking the publishing loop."""

    def __init__(self) -> None:
        self.closed = False

    def poll(self, timeout: float) -> None:
        if self.closed:
            time.sleep(timeout)
            return
        ready, _, _ = select.select([sys.stdin], [], [], timeout)
        if ready and not sys.stdin.readline():
            self.closed = True


def _patience() -> float:
    try:
        return float(os.environ.get("HUBVER_OUTBOX_PATIENCE", "3600"))
    except ValueError:
        return 3600.0


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # already ignored since exec; said again for clarity
    with contextlib.suppress(OSError, AttributeError):
        os.nice(10)  # training comes first
    from .outbox import Outbox
    from .pending import drain

    first = sys.stdin.readline()
    if not first:
        return
    settings = settings_from_json(json.loads(first)["settings"])
    outbox = Outbox(sys.argv[1])
    parent = _Input()
    patience = _patience()
    last_progress = time.monotonic()

    def keep_trying(delay: float) -> bool:
        if not parent.closed:  # the trainer decides how long to wait (wait_timeout)
            parent.poll(0)
            return True
        return time.monotonic() + delay - last_progress < patience

    def wait_for_owner() -> bool:  # the trainer still writes the oldest entry
        parent.poll(0.2)
        return not parent.closed

    def on_outcome(outcome: Any) -> None:
        nonlocal last_progress
        if outcome.ok:
            last_progress = time.monotonic()
        _answer(outcome.to_dict())

    with outbox.drain_lock(wait=float("inf")):
        while True:
            drain(
                outbox,
                token=settings.token,  # each entry says where it goes; the token comes from here
                wait_for_owner=wait_for_owner,
                keep_trying=keep_trying,
                on_outcome=on_outcome,
            )
            if parent.closed:
                return
            parent.poll(1.0)  # until the next snapshot (or the end of training)


if __name__ == "__main__":
    main()
