"""`HubverCallback`: every epoch (or save, or the end of training) becomes a version, by itself.

    trainer = SFTTrainer(..., callbacks=[HubverCallback(repo="me/my-adapter", push="epoch")])

What it guarantees, on one process or many (torchrun, accelerate):

- **One version per event.** Only the world's main process publishes. When the Trainer
  saves a checkpoint at that step, the snapshot is made of the checkpoint's files (the
  Trainer's own saving, which gathers sharded FSDP / DeepSpeed states on every rank);
  otherwise the main process saves the model itself (with FSDP or DeepSpeed the callback
  asks the Trainer to save instead). World size, distributed type and batch sizes are recorded.
- **Nothing lost.** A snapshot is written and fsynced to a durable outbox
  (`OUTPUT_DIR/.hubver/outbox`, see `hubver.outbox`) before it is published by a separate,
  lower-priority process in its own session (Ctrl-C and group signals meant for training do
  not reach it). What a kill leaves pending is published, oldest first, by the next run
  (resumed or not) or by `hubver push --pending OUTPUT_DIR`; a resumed run also publishes a
  checkpoint whose step should have a version and has none, marked as recovered.
- **Never a hang.** Requests time out, and `on_train_end` waits at most `wait_timeout`
  seconds; what is still pending then stays in the outbox, and a warning says so.
- **A bounded backlog.** At most `max_pending` snapshots wait on disk: when the hub is
  slower than training, an intermediate one is superseded by the newer (with a warning
  naming the skipped step), or training waits (`on_backlog="wait"`). The last is never dropped.
- **The metrics of that step.** A version carries its own step's evaluation, from every eval
  data set; an earlier evaluation is kept apart, labelled with its step (`training.last_eval`).

A failed upload is logged with the version it concerned and does not stop training (unless
`strict=True`). `training_args.bin` is never read. It is duck-typed rather than a
`transformers.TrainerCallback` subclass so that importing it does not import torch.
"""

from __future__ import annotations

import fnmatch
import json
import logging
import os
import shutil
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import HubverError
from .outbox import OUTBOX_DIR, Entry, Outbox, fsync_tree
from .redact import redact
from .stepmetrics import metrics_at
from .training import loss_curve

log = logging.getLogger("hubver")
TRIGGERS = ("epoch", "save", "end")
BACKLOG = ("supersede", "wait")
RUN_FILE = "hubver_run.json"  # written into each checkpoint: which run it belongs to
# Checkpoint files that are training state, not the model.
_STATE_FILES = {
    "optimizer.pt",
    "scheduler.pt",
    "scaler.pt",
    "training_args.bin",
    "trainer_state.json",
    "README.md",
    RUN_FILE,
}
_STATE_PATTERNS = ("rng_state*.pth", "optimizer*.bin", "*.tmp")


@dataclass
class Failure:
    trigger: str
    epoch: float | None
    step: int
    error: str


@dataclass
class _Snapshot:
    """A snapshot being written or waiting for its step's evaluation (held by this process)."""

    entry: Entry
    job: dict[str, Any]
    step: int
    awaits_eval: bool = False  # sealed without its evaluation: the run stopped before it ended


@dataclass
class _Run:
    """What one `train()` call knows; a new one starts at every on_train_begin."""

    id: str
    main: bool = True
    resumed_from: str | None = None
    original: str | None = None
    hyper: dict[str, Any] = field(default_factory=dict)
    distributed: dict[str, Any] | None = None
    dataset: dict[str, Any] | None = None
    base: str | None = None
    evals: dict[int, dict[str, Any]] = field(default_factory=dict)
    pending: _Snapshot | None = None
    await_save: int | None = None  # an epoch's snapshot to be made from the checkpoint of this step
    spooled: list[int] = field(default_factory=list)
    handed: dict[str, _Snapshot] = field(default_factory=dict)  # entry name -> what was handed over
    retrying: set[str] = field(default_factory=set)  # entries whose failure was reported once
    errors: dict[str, str] = field(default_factory=dict)  # entry name -> its last passing failure
    push_at_end: bool = False
    output_dir: Path | None = None


class HubverCallback:
    """A Trainer callback that publishes versions with hubver.

    Args:
        repo: the Hub repository (``NS/NAME``).
        push: ``"epoch"`` (after every epoch, and at the end), ``"save"`` (whenever the
            Trainer saves a checkpoint; at the end when ``save_strategy="no"``) or ``"end"``.
        endpoint / local / token / branch: where to publish, as for ``hubver.push``.
        scheme / bump: how version ids are chosen.
        message: a prefix for each version's message.
        dataset_name: the data set's name (its size and fingerprint are read from the trainer).
        strict: raise at the end of training if any upload failed.
        background: publish from a separate process (default); False publishes inline.
        wait_timeout: seconds ``on_train_end`` waits for the uploads (default 600).
        max_pending: snapshots that may wait on disk at once (default 2).
        on_backlog: ``"supersede"`` (drop an intermediate snapshot) or ``"wait"`` (training waits).
        outbox: where snapshots wait (default ``OUTPUT_DIR/.hubver/outbox``).
        **push_kwargs: anything else ``hubver.push`` takes (``private``, ``template``, ``extra``,
            ``chart_metric``: the metric the card charts across versions...).
    """

    def __init__(
        self,
        repo: str,
        push: str = "epoch",
        *,
        endpoint: str | None = None,
        local: bool = False,
        token: str | None = None,
        branch: str | None = None,
        scheme: str = "counter",
        bump: str | None = None,
        message: str | None = None,
        dataset_name: str | None = None,
        strict: bool = False,
        background: bool = True,
        wait_timeout: float = 600.0,
        max_pending: int = 2,
        on_backlog: str = "supersede",
        outbox: str | Path | None = None,
        **push_kwargs: Any,
    ) -> None:
        if push not in TRIGGERS:
            raise HubverError(f"Invalid push={push!r}.", f"Use one of: {', '.join(TRIGGERS)}.")
        if on_backlog not in BACKLOG:
            raise HubverError(f"Invalid on_backlog={on_backlog!r}.", f"Use one of: {', '.join(BACKLOG)}.")
        if not isinstance(max_pending, int) or max_pending < 1:
            raise HubverError(f"Invalid max_pending={max_pending!r}.", "Use a whole number of 1 or more.")
        from .settings import resolve_settings

        self.push = push
        self.settings = resolve_settings(
            repo=repo, endpoint=endpoint, local=local, token=token, branch=branch
        )
        self.settings.require_repo()
        self.scheme, self.bump, self.message = scheme, bump, message
        self.dataset_name = dataset_name
        self.strict, self.background = strict, background
        self.wait_timeout, self.max_pending, self.on_backlog = float(wait_timeout), max_pending, on_backlog
        self.outbox_path = Path(outbox).expanduser().resolve() if outbox else None
        self._extra = _jsonable(push_kwargs.pop("extra", None) or {}, "extra")
        self._base_override = push_kwargs.pop("base_model", None)
        self.push_kwargs = _jsonable(push_kwargs, "push option")
        from .registry.request import PushRequest

        # An option hubver.push does not take fails here, not in the upload process at the first save.
        PushRequest.from_json(self.push_kwargs, "HubverCallback push options")
        self.results: list[Any] = []  # PushResult of every version of the current run, in order
        self.failures: list[Failure] = []
        self.recovered: list[Any] = []  # versions of an earlier run published by this one
        self.pending: list[str] = []  # what on_train_end left in the outbox
        self.superseded: list[str] = []  # intermediate snapshots dropped for a slow hub
        self._run = _Run(id="")
        self._outbox: Outbox | None = None
        self._uploader: Any = None
        self._lock = threading.Lock()

    # -- Trainer events -----------------------------------------------------------------------

    def __getattr__(self, name: str) -> Any:
        # Events this class does not handle, including ones newer transformers versions add.
        if name.startswith("on_"):
            return lambda *args, **kwargs: None
        raise AttributeError(name)

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self._run.id:  # this callback served an earlier train(): finish with that run first
            self._seal_pending()
            self._close_uploader(timeout=self.wait_timeout)
        self.results, self.failures, self.recovered, self.pending = [], [], [], []
        self.superseded = []
        run = self._run = _Run(id=uuid.uuid4().hex[:16], main=_is_main(args, state))
        run.output_dir = Path(getattr(args, "output_dir", None) or ".").resolve()
        step = int(state.global_step or 0)
        if step > 0:  # resume_from_checkpoint: this run continues an earlier one
            checkpoint = run.output_dir / f"checkpoint-{step}"
            run.resumed_from = checkpoint.name
            run.original = _read_run_id(checkpoint)
        run.hyper = redact(_args_dict(args))
        run.distributed = _distributed(args)
        run.dataset = self._dataset_facts(kwargs.get("train_dataloader"))
        run.base = self._base_override or _trained_base(kwargs.get("model"))
        strategy = _value(getattr(args, "save_strategy", "no"))
        run.push_at_end = self.push in ("end", "epoch")
        if self.push == "save" and strategy == "no":
            log.warning(
                "HubverCallback(push='save') with save_strategy='no': publishing at the end of training."
            )
            run.push_at_end = True
        if not run.main:
            return
        self._outbox = Outbox(self.outbox_path or run.output_dir / OUTBOX_DIR)
        if self._outbox.entries():
            log.warning(
                "hubver: %d snapshot(s) of an earlier run are pending in %s: publishing them first.",
                len(self._outbox.entries()),
                self._outbox.root,
            )
            self._ensure_uploader()
        # Steps this run's earlier attempts already handed over or published are not snapshotted again.
        prefix = f"run-{run.original}-step-" if run.original else None
        for entry in self._outbox.entries() if prefix else []:
            if str((entry.job() or {}).get("push_id", "")).startswith(prefix or "\0"):
                run.spooled.append(entry.step)
        if run.resumed_from:
            self._recover_checkpoints(args, state)

    def on_epoch_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.push != "epoch":
            return
        step = int(state.global_step)
        if control.should_save or _sharded(args):
            # The Trainer saves at this step (it gathers sharded states on every rank); the
            # snapshot is made of that checkpoint, after the step's evaluation.
            control.should_save = True
            self._run.await_save = step
            return
        if not self._run.main or step in self._run.spooled:
            return
        self._seal_pending()
        snap = self._snapshot("epoch", state, kwargs)
        if control.should_evaluate:  # its evaluation comes next: seal it with those metrics
            snap.awaits_eval = True
            self._run.pending = snap
        else:
            self._hand_over(snap)

    def on_evaluate(
        self, args: Any, state: Any, control: Any, metrics: dict[str, float] | None = None, **kwargs: Any
    ) -> None:
        if not metrics or not self._run.main:
            return
        step = int(state.global_step)
        self._run.evals.setdefault(step, {}).update(
            {k: v for k, v in metrics.items() if isinstance(v, (int, float)) and k not in ("epoch", "step")}
        )
        if self._run.pending is not None and self._run.pending.step == step:
            self._run.pending.awaits_eval = False
            self._fill_metrics(self._run.pending, state)

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        step = int(state.global_step)
        checkpoint = (self._run.output_dir or Path(".")) / f"checkpoint-{step}"
        if not self._run.main:
            return
        if checkpoint.is_dir():
            _write_run_file(checkpoint, self._run.original or self._run.id)
        wanted = self.push == "save" or self._run.await_save == step
        if not wanted or step in self._run.spooled:
            return
        self._seal_pending()
        trigger = "save" if self.push == "save" else "epoch"
        self._run.await_save = None
        self._hand_over(self._snapshot(trigger, state, kwargs, checkpoint=checkpoint))

    def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._seal_pending()

    def on_epoch_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._seal_pending()

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        run = self._run
        if run.main:
            self._seal_pending()
            step = int(state.global_step)
            if run.push_at_end and step not in run.spooled:
                checkpoint = (self._run.output_dir or Path(".")) / f"checkpoint-{step}"
                self._hand_over(
                    self._snapshot(
                        "end",
                        state,
                        kwargs,
                        checkpoint=checkpoint if checkpoint.is_dir() else None,
                        final=True,
                    )
                )
        self.wait()
        if self.failures:
            summary = "; ".join(f"{f.trigger} at step {f.step}: {f.error}" for f in self.failures)
            log.error("hubver: %d upload(s) failed: %s", len(self.failures), summary)
            if self.strict:
                raise HubverError(f"{len(self.failures)} hubver upload(s) failed: {summary}")
        for r in self.results:
            log.info(
                "hubver: %s %s of %s (commit %s)",
                "published" if r.created else "kept",
                r.version,
                r.repo,
                r.commit,
            )

    # -- snapshots --------------------------------------------------------------------------------

    def _dataset_facts(self, dataloader: Any) -> dict[str, Any] | None:
        dataset = getattr(dataloader, "dataset", None)
        facts: dict[str, Any] = {}
        if self.dataset_name:
            facts["name"] = self.dataset_name
        if dataset is not None:
            try:
                facts["num_samples"] = len(dataset)
            except TypeError:
                pass
            fingerprint = getattr(dataset, "_fingerprint", None)
            if fingerprint:
                facts["fingerprint"] = f"datasets:{fingerprint}"
        return facts or None

    def _snapshot(
        self,
        trigger: str,
        state: Any,
        kwargs: dict[str, Any],
        *,
        checkpoint: Path | None = None,
        final: bool = False,
        recovered: bool = False,
    ) -> _Snapshot:
        """Write the model's files to a new outbox entry (fsynced); its job is sealed later."""
        assert self._outbox is not None
        step = int(state.global_step)
        final = final or step >= int(getattr(state, "max_steps", 0) or 1 << 62)
        self._make_room(step)
        entry = self._outbox.create(step)
        try:
            if checkpoint is not None:
                _link_model_files(checkpoint, entry.files)
            else:
                model = kwargs.get("model")
                if model is None:
                    raise HubverError("HubverCallback got no model from the Trainer.")
                # PEFT renders its empty model card from a Jinja template on every save (13-30
                # ms on the training thread); hubver writes its own card, so PEFT gets one to update.
                (entry.files / "README.md").write_text("---\n{}\n---\n")
                model.save_pretrained(entry.files)
                processor = kwargs.get("processing_class") or kwargs.get("tokenizer")
                if processor is not None and hasattr(processor, "save_pretrained"):
                    processor.save_pretrained(entry.files)
            fsync_tree(entry.path)
        except BaseException:
            entry.release()
            self._outbox.remove(entry)
            raise
        epoch = float(state.epoch) if state.epoch is not None else None
        run = self._run
        where = f"epoch {epoch:g}, step {step}" if epoch is not None else f"step {step}"
        message = f"{self.message}: {where}" if self.message else f"{trigger}: {where}"
        if recovered:
            message += " (recovered)"
        job = {
            "schema": 1,
            "repo": self.settings.repo,
            "endpoint": self.settings.endpoint,
            "local": self.settings.is_local,
            "branch": self.settings.branch,
            "push_id": f"run-{run.original or run.id}-step-{step}",
            "trigger": trigger,
            "epoch": epoch,
            "step": step,
            "final": final,
            "sealed": False,
            "push": self._push_request(trigger, epoch, step, message, recovered=recovered),
        }
        snap = _Snapshot(entry, job, step)
        self._fill_metrics(snap, state)
        entry.write_job(job)  # durable now; sealed (publishable) once its metrics are in
        run.spooled.append(step)
        return snap

    def _push_request(
        self, trigger: str, epoch: float | None, step: int, message: str, *, recovered: bool
    ) -> dict[str, Any]:
        run = self._run
        run_record: dict[str, Any] = {"id": run.original or run.id}
        if run.resumed_from:
            run_record.update(resumed_from=run.resumed_from, this_run=run.id)
        if recovered:
            run_record["recovered"] = True
        from .registry.request import PushRequest

        options = {
            "scheme": self.scheme,
            "bump": self.bump,
            "message": message,
            "training": {
                "epoch": epoch,
                "global_step": step,
                "hyperparameters": run.hyper,
                "distributed": run.distributed,
                "run": run_record,
            },
            "dataset": run.dataset,
            "base_model": run.base,
            "extra": {"trigger": trigger, **({"recovered": True} if recovered else {}), **self._extra},
            **self.push_kwargs,
        }
        return PushRequest.from_json(options).to_json()

    def _fill_metrics(self, snap: _Snapshot, state: Any) -> None:
        history = list(state.log_history or [])
        metrics, steps, last = metrics_at(history, snap.step, self._run.evals)
        training = snap.job["push"]["training"]
        training["log_history"] = loss_curve([e for e in history if (e.get("step") or 0) <= snap.step])
        training["metrics"] = metrics
        training["metric_steps"] = steps
        training["last_eval"] = last

    def _seal_pending(self) -> None:
        snap, self._run.pending = self._run.pending, None
        if snap is not None:
            if snap.awaits_eval:
                extra = snap.job["push"].setdefault("extra", {})
                extra["incomplete"] = "the run stopped before this step's evaluation finished"
            self._hand_over(snap)

    def _hand_over(self, snap: _Snapshot) -> None:
        """Seal the entry (publishable from now on) and wake the upload process."""
        snap.entry.seal(snap.job)
        self._run.handed[snap.entry.name] = snap
        if not self.background:
            self._drain_inline()
            return
        self._ensure_uploader()
        try:
            self._uploader.wake()
        except (OSError, ValueError):  # it died: a new one takes over the outbox
            self._uploader = None
            self._ensure_uploader()

    def _make_room(self, step: int) -> None:
        """Keep at most max_pending snapshots on disk: supersede an intermediate one, or wait."""
        assert self._outbox is not None
        warned = False
        while self.background:
            entries = self._outbox.entries()
            if len(entries) < self.max_pending:
                return
            if self.on_backlog == "supersede" and self._supersede(entries, step):
                continue
            if not warned:
                log.warning(
                    "hubver: %d snapshots wait for the hub (max_pending=%d): training waits.",
                    len(entries),
                    self.max_pending,
                )
                warned = True
            self._ensure_uploader()
            time.sleep(0.2)

    def _supersede(self, entries: list[Entry], step: int) -> bool:
        """Drop the newest intermediate snapshot that is not being published; False if none."""
        assert self._outbox is not None
        for entry in reversed(entries):
            job = entry.job() or {}
            if job.get("final") or not job.get("sealed"):
                continue
            with self._outbox.claim(entry) as claimed:
                if not claimed:
                    continue  # being published right now
                log.warning(
                    "hubver: the hub is slower than training: the %s is superseded by the snapshot "
                    "of step %d and will not be published.",
                    entry.describe(),
                    step,
                )
                with self._lock:
                    self._run.handed.pop(entry.name, None)
                self.superseded.append(entry.describe())
                self._outbox.remove(entry)
                return True
        return False

    # -- recovery after a kill ------------------------------------------------------------------

    def _recover_checkpoints(self, args: Any, state: Any) -> None:
        """Publish checkpoints of the resumed run whose step should have a version and has none."""
        assert self._outbox is not None
        run = self._run
        assert run.output_dir is not None
        pending_steps = {int((e.job() or {}).get("step", -1)) for e in self._outbox.entries()}
        published = self._published_steps(run.original)
        if published is None:
            return  # the hub cannot be asked: the outbox alone is trusted
        candidates = []
        for checkpoint in sorted(run.output_dir.glob("checkpoint-*"), key=_checkpoint_step):
            step = _checkpoint_step(checkpoint)
            if step <= 0 or step > int(state.global_step) or step in pending_steps or step in published:
                continue
            if step < max(published | pending_steps, default=0):
                continue  # publishing it now would put an older step after a newer version
            if run.original and _read_run_id(checkpoint) not in (run.original, None):
                continue
            if self.push == "epoch" and not _is_epoch_end(checkpoint, step):
                continue
            candidates.append((step, checkpoint))
        run.spooled.extend(published)
        for step, checkpoint in candidates:
            ckpt_state = _CheckpointState(checkpoint, step)
            log.warning("hubver: %s has no version: publishing it (recovered).", checkpoint)
            snap = self._snapshot(
                "save" if self.push == "save" else "epoch",
                ckpt_state,
                {},
                checkpoint=checkpoint,
                recovered=True,
            )
            self._hand_over(snap)

    def _published_steps(self, run_id: str | None) -> set[int] | None:
        """Steps of `run_id` that have a version in the repo (by push id); None if unknown."""
        if not run_id:
            return set()
        from .client import open_client
        from .errors import RepoNotFound
        from .registry.push import read_state

        repo = self.settings.require_repo()
        try:
            with open_client(self.settings) as client:
                entries = read_state(client, repo, self.settings.branch).entries
        except RepoNotFound:
            return set()
        except HubverError as e:
            log.warning(
                "hubver: could not read the versions of %s to recover checkpoints: %s", repo, e.message
            )
            return None
        prefix = f"run-{run_id}-step-"
        steps = set()
        for entry in entries:
            push_id = str(entry.get("push_id") or "")
            if push_id.startswith(prefix) and push_id[len(prefix) :].isdigit():
                steps.add(int(push_id[len(prefix) :]))
        return steps

    # -- the upload process ---------------------------------------------------------------------

    def _ensure_uploader(self) -> None:
        assert self._outbox is not None
        with self._lock:
            if self._uploader is not None and self._uploader.alive():
                return
            from .uploader import UploaderProcess

            self._uploader = UploaderProcess(self._outbox.root, self.settings, self._on_outcome)

    def _drain_inline(self) -> None:
        from .pending import drain

        assert self._outbox is not None
        with self._outbox.drain_lock(wait=self.wait_timeout):
            for outcome in drain(self._outbox, token=self.settings.token):
                self._on_outcome(outcome.to_dict())

    def _on_outcome(self, outcome: dict[str, Any]) -> None:
        """An entry was published or failed (called from the reader thread)."""
        from .registry.push import PushResult

        with self._lock:
            snap = self._run.handed.pop(str(outcome.get("entry")), None)
        if outcome.get("ok"):
            result = PushResult.from_dict(outcome["result"])
            (self.results if snap is not None else self.recovered).append(result)
            return
        error = self._scrub(str(outcome.get("error")))
        trigger, epoch, step = ("snapshot", None, int(outcome.get("step") or -1))
        if snap is not None:
            trigger, epoch, step = snap.job["trigger"], snap.job["epoch"], snap.step
            if outcome.get("kept"):  # retried until wait_timeout; reported then if still pending
                name = str(outcome.get("entry"))
                self._run.handed[name] = snap
                self._run.errors[name] = error
                if name not in self._run.retrying:
                    self._run.retrying.add(name)
                    log.warning(
                        "hubver: publishing the %s snapshot at step %d failed; it stays in the outbox "
                        "and is retried while the upload process runs (wait_timeout): %s",
                        trigger,
                        step,
                        error,
                    )
                return
        self.failures.append(Failure(trigger, epoch, step, error))
        log.warning("hubver: publishing the %s snapshot at step %d failed: %s", trigger, step, error)

    def _scrub(self, message: str) -> str:
        from .redact import known_secrets, scrub

        return scrub(message, known_secrets([self.settings.token]))

    def _close_uploader(self, timeout: float) -> int | None:
        uploader, self._uploader = self._uploader, None
        return uploader.close(timeout) if uploader is not None else 0

    def wait(self, timeout: float | None = None) -> None:
        """Wait (at most `timeout`, default `wait_timeout` seconds) for the snapshots handed over.

        What is still pending then stays in the outbox for the next run or for
        `hubver push --pending OUTPUT_DIR`, and is listed in `self.pending` and in a warning.
        """
        self._seal_pending()
        limit = self.wait_timeout if timeout is None else timeout
        code = self._close_uploader(limit)
        left = self._outbox.entries() if self._outbox is not None else []
        self.pending = [e.describe() for e in left]
        with self._lock:
            handed, self._run.handed = dict(self._run.handed), {}
        if left:
            assert self._outbox is not None
            log.warning(
                "hubver: %d snapshot(s) not published %s: %s. They stay in %s; publish them with "
                "`hubver push --pending %s` (or by running the training again).",
                len(left),
                f"after waiting {limit:g} s" if code is None else "(the hub did not take them)",
                "; ".join(self.pending),
                self._outbox.root,
                self._outbox.root,
            )
        for entry in left:
            snap = handed.get(entry.name)
            if snap is not None:
                why = self._run.errors.get(entry.name)
                self.failures.append(
                    Failure(
                        snap.job["trigger"],
                        snap.job["epoch"],
                        snap.step,
                        f"{why} (still pending in the outbox)" if why else "still pending in the outbox",
                    )
                )


class _CheckpointState:
    """The TrainerState fields a snapshot needs, read from a checkpoint's trainer_state.json."""

    def __init__(self, checkpoint: Path, step: int) -> None:
        try:
            data = json.loads((checkpoint / "trainer_state.json").read_text("utf-8"))
        except (OSError, ValueError):
            data = {}
        self.global_step = step
        self.epoch = data.get("epoch") if isinstance(data.get("epoch"), (int, float)) else None
        history = data.get("log_history")
        self.log_history = history if isinstance(history, list) else []


def _is_main(args: Any, state: Any) -> bool:
    zero = getattr(state, "is_world_process_zero", None)
    if isinstance(zero, bool):
        return zero
    return int(getattr(args, "process_index", 0) or 0) == 0


def _value(x: Any) -> Any:
    return getattr(x, "value", x)


def _sharded(args: Any) -> bool:
    """FSDP or DeepSpeed: only the Trainer's own saving gathers the full weights."""
    return bool(getattr(args, "fsdp", None) or getattr(args, "deepspeed", None))


def _distributed(args: Any) -> dict[str, Any]:
    world = int(getattr(args, "world_size", 1) or 1)
    kind = _value(getattr(getattr(args, "distributed_state", None), "distributed_type", None))
    per_device = getattr(args, "per_device_train_batch_size", None)
    accumulation = getattr(args, "gradient_accumulation_steps", 1) or 1
    facts: dict[str, Any] = {
        "world_size": world,
        "distributed_type": str(kind) if kind is not None else ("MULTI" if world > 1 else "NO"),
        "parallel_mode": str(_value(getattr(args, "parallel_mode", None))),
        "per_device_train_batch_size": per_device,
        "gradient_accumulation_steps": accumulation,
    }
    if isinstance(per_device, int):
        facts["effective_batch_size"] = per_device * accumulation * world
    if _sharded(args):
        facts["sharding"] = "fsdp" if getattr(args, "fsdp", None) else "deepspeed"
    return facts


def _link_model_files(checkpoint: Path, target: Path) -> None:
    """The checkpoint's model files into `target`: hard links (no copy), copies across devices."""
    for path in sorted(checkpoint.iterdir()):
        name = path.name
        if (
            not path.is_file()
            or name in _STATE_FILES
            or any(fnmatch.fnmatch(name, p) for p in _STATE_PATTERNS)
        ):
            continue
        try:
            os.link(path, target / name)
        except OSError:
            shutil.copy2(path, target / name)


def _checkpoint_step(path: Path) -> int:
    try:
        return int(path.name.rsplit("-", 1)[1])
    except (IndexError, ValueError):
        return -1


def _is_epoch_end(checkpoint: Path, step: int) -> bool:
    epoch = _CheckpointState(checkpoint, step).epoch
    return isinstance(epoch, (int, float)) and abs(epoch - round(epoch)) < 1e-6


def _read_run_id(checkpoint: Path) -> str | None:
    try:
        data = json.loads((checkpoint / RUN_FILE).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    run = data.get("run") if isinstance(data, dict) else None
    return run if isinstance(run, str) else None


def _write_run_file(checkpoint: Path, run_id: str) -> None:
    try:
        (checkpoint / RUN_FILE).write_text(json.dumps({"run": run_id}) + "\n", "utf-8")
    except OSError as e:
        log.debug("hubver: could not record the run in %s: %s", checkpoint, e)


def _jsonable(value: Any, what: str) -> Any:
    """Option values as the upload process will get them: Paths become strings; anything else
    that is not JSON is refused now, not at the first upload."""

    def convert(v: Any) -> Any:
        if isinstance(v, Path):
            return str(v)
        if isinstance(v, dict):
            return {str(k): convert(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [convert(x) for x in v]
        if v is None or isinstance(v, (str, int, float, bool)):
            return v
        raise HubverError(
            f"HubverCallback: the {what} value {v!r} ({type(v).__name__}) cannot be sent to the upload process.",
            "Pass strings, numbers, booleans, lists, dicts or paths.",
        )

    return convert(value)


def _trained_base(model: Any) -> str | None:
    """`name@commit` of the base the run is training, resolved where transformers loaded it from.

    Pinned when training starts, so a base whose `main` moves during a long run is still
    recorded at the revision that was trained. For a full fine-tune the base is the model's
    own `name_or_path` (transformers 5 no longer writes it into config.json). A local base
    is recorded by its path.
    """
    if model is None:
        return None
    config = getattr(model, "peft_config", {}).get("default") if hasattr(model, "peft_config") else None
    if config is not None:
        name = getattr(config, "base_model_name_or_path", None)
        revision = getattr(config, "revision", None)
    else:
        name = getattr(model, "name_or_path", None) or getattr(
            getattr(model, "config", None), "_name_or_path", None
        )
        revision = None
    if not isinstance(name, str) or not name:
        return None
    if Path(name).exists():
        return None if config is not None else str(Path(name).resolve())
    if revision:
        return f"{name}@{revision}"
    from .ids import is_hub_id

    if not is_hub_id(name):
        return None
    try:
        from huggingface_hub import HfApi

        return f"{name}@{HfApi().model_info(name, timeout=10).sha}"
    except Exception as e:  # offline, or a base the global endpoint does not have
        log.debug("hubver: could not pin the revision of %s: %s", name, e)
        return None


def _args_dict(args: Any) -> dict[str, Any]:
    try:
        data = args.to_dict()
    except Exception:
        data = dict(vars(args))
    return {k: v for k, v in data.items() if isinstance(v, (str, int, float, bool, list, dict, type(None)))}
