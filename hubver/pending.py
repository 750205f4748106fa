"""Publishing what an outbox holds, oldest first: the upload process and `hubver push --pending`.

Order is the point: a snapshot is only published once every older one is, so a version's
training step is never below its parent's. A failure that may pass (the hub unreachable or
overloaded, a token to fix) stops the line and keeps every entry; a snapshot the hub refuses
for good (bad metadata, a taken version id) is set aside in `failed/` with the reason, so it
does not block the ones after it, and `hubver push --pending --retry-failed` tries it again.
"""

from __future__ import annotations

import contextlib
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import AuthError, ConflictError, HubError, HubUnreachable, HubverError, MetadataError
from .outbox import Entry, Outbox
from .settings import Settings, resolve_settings

log = logging.getLogger("hubver")
# Worth another try later: nothing about the snapshot itself is wrong.
PASSING = (HubUnreachable, HubError, ConflictError, AuthError)


@dataclass
class Outcome:
    """What became of one outbox entry."""

    entry: str
    description: str
    step: int
    ok: bool
    result: Any = None  # a PushResult when ok
    error: str | None = None
    kept: bool = False  # still in the outbox, for a later try
    job: dict[str, Any] = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "entry": self.entry,
            "description": self.description,
            "step": self.step,
            "ok": self.ok,
            "result": self.result.to_dict() if self.result is not None else None,
            "error": self.error,
            "kept": self.kept,
        }


def job_settings(job: dict[str, Any], token: str | None, overrides: dict[str, Any] | None = None) -> Settings:
    """Where a job publishes: as recorded when it was spooled, unless `overrides` (the flags of
    `hubver push --pending`: repo, endpoint, local, branch) say otherwise; with this process's token."""
    given = {k: v for k, v in (overrides or {}).items() if v is not None}
    where = {k: job.get(k) for k in ("repo", "endpoint", "local", "branch")}
    if "endpoint" in given or "local" in given:
        where["endpoint"], where["local"] = None, False
    where.update(given)
    return resolve_settings(
        repo=where.get("repo"),
        endpoint=None if where.get("local") else where.get("endpoint"),
        local=bool(where.get("local")),
        token=token,
        branch=where.get("branch"),
    )


def publish_entry(entry: Entry, job: dict[str, Any], settings: Settings, client: Any = None) -> Any:
    """Publish one complete entry; returns its PushResult (raises HubverError)."""
    from .registry import connect
    from .registry.request import PushRequest

    # job.json of every hubver version holds push options under "push": PushRequest.to_json()
    # now, loose hubver.push keyword arguments before (a subset of the same names).
    request = PushRequest.from_json(job.get("push") or {}, f"push options in {entry.path}/job.json")
    if request.dry_run:
        raise MetadataError(
            f"{entry.path}/job.json asks for a dry run: a snapshot in the outbox is published or kept, "
            "never dry-run (nothing would be published and the snapshot would be dropped).",
            'Remove "dry_run" from its "push" options, then run `hubver push --pending DIR --retry-failed`; '
            "`hubver push --pending DIR --dry-run` shows what would be published.",
        )
    if job.get("push_id"):
        request = request.replace(push_id=job["push_id"])
    if not job.get("sealed"):
        # Its trainer died after saving the weights and before the step's evaluation finished.
        extra = dict(request.extra or {})
        extra["incomplete"] = "the run stopped before this step's evaluation finished"
        request = request.replace(extra=extra)
    with connect(settings=settings, client=client) as registry:
        result = registry.push(entry.files, request)
        if isinstance(job.get("retention"), dict) and result.created:
            apply_retention(registry, job["retention"])
        return result


def apply_retention(registry: Any, retention: dict[str, Any]) -> Any:
    """The callback's `keep_last` / `keep_best`, after a publish: prune what they do not keep.
    A failure is logged as a warning and never raised: retention must not stop training."""
    from .registry.prune import PrunePolicy

    try:
        policy = PrunePolicy.of(
            keep_last=retention.get("keep_last"),
            keep_best=retention.get("keep_best") or [],
            reason="HubverCallback retention",
        )
        done = registry.prune(policy, apply=True)
    except HubverError as e:
        log.warning(
            "hubver: pruning %s after the publish failed (training goes on): %s", registry.repo, e.message
        )
        return None
    except Exception as e:  # a bug: still never the training's problem
        log.warning("hubver: pruning %s after the publish failed (training goes on): %r", registry.repo, e)
        return None
    if done.pruned:
        log.info("hubver: pruned %s of %s", ", ".join(d.version for d in done.pruned), registry.repo)
    return done


def drain(
    outbox: Outbox,
    *,
    token: str | None = None,
    overrides: dict[str, Any] | None = None,
    wait_for_owner: Callable[[], bool] = lambda: False,
    keep_trying: Callable[[float], bool] = lambda _delay: False,
    on_outcome: Callable[[Outcome], None] = lambda _o: None,
) -> list[Outcome]:
    """Publish the outbox's entries in order, until it is empty or the line stops.

    `wait_for_owner()` is asked when the oldest entry is still held by its trainer: True waits
    for it (the upload process while training runs), False stops. `keep_trying(delay)` is asked
    after a passing failure: True sleeps `delay` and tries the same entry again. Call with the
    outbox's drain lock held.
    """
    from .client import open_client

    outcomes: list[Outcome] = []
    clients: dict[tuple[str, str | None], Any] = {}
    delay = 1.0
    with contextlib.ExitStack() as opened:

        def client_for(run_settings: Settings) -> Any:
            key = (run_settings.endpoint, run_settings.token)
            if key not in clients:
                clients[key] = opened.enter_context(open_client(run_settings))
            return clients[key]

        try:
            while True:
                entries = outbox.entries()
                if not entries:
                    return outcomes
                entry = entries[0]
                with outbox.claim(entry) as claimed:
                    if not claimed:
                        if not entry.path.is_dir():
                            continue
                        if wait_for_owner():
                            time.sleep(0.1)
                            continue
                        return outcomes
                    job = entry.job()
                    if job is None and entry.has_job_file():  # damaged, not incomplete: keep it
                        log.warning("hubver: %s has an unreadable job.json: set aside", entry.path)
                        outbox.set_aside(entry, "its job.json cannot be read (damaged?)")
                        continue
                    if job is None:  # its trainer died while writing it: never complete
                        log.warning("hubver: removing the incomplete snapshot %s", entry.path)
                        outbox.remove(entry)
                        continue
                    outcome = Outcome(entry.name, entry.describe(), entry.step, ok=False, job=job)
                    try:
                        run_settings = job_settings(job, token, overrides)
                        outcome.result = publish_entry(entry, job, run_settings, client_for(run_settings))
                        outcome.ok = True
                    except HubverError as e:
                        outcome.error = _message(e, token)
                        outcome.kept = isinstance(e, PASSING)
                    except Exception as e:  # a bug: set the snapshot aside, never loop on it
                        outcome.error = _message(e, token)
                    if outcome.ok:
                        outbox.remove(entry)
                        delay = 1.0
                    elif not outcome.kept:
                        outbox.set_aside(entry, outcome.error or "")
                outcomes.append(outcome)
                on_outcome(outcome)
                if outcome.kept:
                    if not keep_trying(delay):
                        return outcomes
                    time.sleep(delay + random.uniform(0, 0.2))
                    delay = min(delay * 2, 60.0)
        finally:
            outbox.tidy()


def _message(e: BaseException, token: str | None) -> str:
    from .redact import known_secrets, scrub

    text = e.message if isinstance(e, HubverError) else f"unexpected {type(e).__name__}: {e}"
    return scrub(text, known_secrets([token]))


def pending_entries(path: str | Path) -> list[Entry]:
    from .outbox import outbox_for

    return Outbox(outbox_for(path)).entries()
