"""The process that publishes `HubverCallback`'s snapshots while training goes on.

A thread in the training process would share its GIL: every push (HTTP client, hashing,
card rendering) would stall the training loop, which is Python too. So the callback starts
this module once as a child process (`python -m hubver.uploader`), at lower CPU priority,
and talks to it over pipes, one JSON object per line:

- parent -> child: first the settings, then one job per snapshot to publish;
- child -> parent: one answer per job, `{"id", "ok", "result" | "error"}`.

Ctrl-C is meant for training: the child ignores SIGINT and finishes the jobs it was given;
it exits when its input closes, which is also what happens when the trainer dies.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .errors import HubverError
from .settings import Settings


def settings_to_json(settings: Settings) -> dict[str, Any]:
    data = dataclasses.asdict(settings)
    data["config_file"] = str(settings.config_file) if settings.config_file else None
    return data


def settings_from_json(data: dict[str, Any]) -> Settings:
    data = dict(data)
    data["config_file"] = Path(data["config_file"]) if data.get("config_file") else None
    return Settings(**data)


class UploaderProcess:
    """The parent's side: submit jobs, get each answer through `on_answer` (from a reader thread)."""

    def __init__(self, settings: Settings, on_answer: Callable[[dict[str, Any]], None]) -> None:
        import hubver

        env = dict(os.environ)
        env["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"  # the training's terminal is not for upload bars
        source_root = str(Path(hubver.__file__).resolve().parent.parent)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (source_root, env.get("PYTHONPATH")) if p)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "hubver.uploader"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            text=True,
            bufsize=1,
        )
        self._on_answer = on_answer
        self._lock = threading.Lock()
        self._send({"settings": settings_to_json(settings)})
        self._reader = threading.Thread(target=self._read, name="hubver-uploader-reader", daemon=True)
        self._reader.start()

    def _send(self, message: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        with self._lock:
            self.proc.stdin.write(json.dumps(message) + "\n")
            self.proc.stdin.flush()

    def submit(self, job_id: int, directory: Path, push_kwargs: dict[str, Any]) -> None:
        self._send({"id": job_id, "directory": str(directory), "push": push_kwargs})

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with contextlib.suppress(ValueError):
                self._on_answer(json.loads(line))

    def close(self) -> int:
        """No more jobs: wait for the child to finish the ones it has; returns its exit code."""
        with self._lock, contextlib.suppress(BrokenPipeError, OSError):
            assert self.proc.stdin is not None
            self.proc.stdin.close()
        self._reader.join()
        return self.proc.wait()

    def alive(self) -> bool:
        return self.proc.poll() is None


def _answer(message: dict[str, Any]) -> None:
    with contextlib.suppress(BrokenPipeError, OSError):  # the trainer may be gone: keep working
        sys.stdout.write(json.dumps(message, default=str) + "\n")
        sys.stdout.flush()


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with contextlib.suppress(OSError, AttributeError):
        os.nice(10)  # training comes first
    from .hub import open_hub
    from .publish import push

    first = sys.stdin.readline()
    if not first:
        return
    settings = settings_from_json(json.loads(first)["settings"])
    try:
        with open_hub(settings) as hub:
            for line in sys.stdin:
                job = json.loads(line)
                try:
                    result = push(job["directory"], settings=settings, hub=hub, **job["push"])
                    _answer({"id": job["id"], "ok": True, "result": result.to_dict()})
                except Exception as e:
                    message = e.message if isinstance(e, HubverError) else f"{type(e).__name__}: {e}"
                    _answer({"id": job["id"], "ok": False, "error": message})
                finally:
                    shutil.rmtree(job["directory"], ignore_errors=True)
    except Exception as e:  # the hub could not be opened: every job fails with that reason
        message = e.message if isinstance(e, HubverError) else f"{type(e).__name__}: {e}"
        for line in sys.stdin:
            job = json.loads(line)
            shutil.rmtree(job["directory"], ignore_errors=True)
            _answer({"id": job["id"], "ok": False, "error": message})


if __name__ == "__main__":
    main()
