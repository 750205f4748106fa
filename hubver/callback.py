"""`HubverCallback`: every epoch (or save, or the end of training) becomes a version, by itself.

    trainer = SFTTrainer(..., callbacks=[HubverCallback(repo="me/my-adapter", push="epoch")])

The model is saved to a temporary directory on the training thread (a consistent
snapshot), then published by a separate, lower-priority process (`hubver.uploader`): a
slow hub does not slow the training steps, and neither does the upload's own Python work,
which in a thread would hold the training loop's GIL. A failed upload is logged with the
version it concerned and does not stop training (unless `strict=True`). A push is one atomic commit, so an interruption
never leaves a half-published version. What only the live trainer knows is recorded:
hyperparameters (`args.to_dict()`, secrets redacted), the loss curve, eval metrics, the
PEFT config and the data set's size and fingerprint. `training_args.bin` is never read.

It is duck-typed rather than a `transformers.TrainerCallback` subclass so that importing
it does not import torch or transformers.
"""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import HubverError
from .redact import redact
from .training import loss_curve, metrics_from_log_history

log = logging.getLogger("hubver")
TRIGGERS = ("epoch", "save", "end")


@dataclass
class Failure:
    trigger: str
    epoch: float | None
    step: int
    error: str


@dataclass
class _Job:
    directory: Path
    trigger: str
    epoch: float | None
    step: int
    training: dict[str, Any]
    message: str


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
        **push_kwargs: anything else ``hubver.push`` takes (``private``, ``template``, ``extra``...).
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
        **push_kwargs: Any,
    ) -> None:
        if push not in TRIGGERS:
            raise HubverError(f"Invalid push={push!r}.", f"Use one of: {', '.join(TRIGGERS)}.")
        from .settings import resolve_settings

        self.push = push
        self.settings = resolve_settings(
            repo=repo, endpoint=endpoint, local=local, token=token, branch=branch
        )
        self.settings.require_repo()
        self.scheme, self.bump, self.message = scheme, bump, message
        self.dataset_name = dataset_name
        self.strict, self.background = strict, background
        self._extra = push_kwargs.pop("extra", None) or {}
        self._base_override = push_kwargs.pop("base_model", None)
        self.push_kwargs = push_kwargs
        self.results: list[Any] = []  # PushResult of every push, in order
        self.failures: list[Failure] = []
        self._hyper: dict[str, Any] = {}
        self._dataset: dict[str, Any] | None = None
        self._eval: dict[str, Any] = {}
        self._pending: _Job | None = None
        self._base: str | None = None
        self._uploader: Any = None  # the upload process, started with the first snapshot
        self._jobs: dict[int, _Job] = {}
        self._next_id = 0
        self._lock = threading.Lock()
        self._tmp_root = Path(tempfile.gettempdir()) / f"hubver-callback-{os.getpid()}-{id(self):x}"
        self._push_at_end = push in ("end", "epoch")
        self._last_pushed_step: int | None = None
        # Interrupted while an epoch's snapshot waits for its evaluation: publish it on exit.
        atexit.register(self._publish_pending_at_exit)

    # -- Trainer events -----------------------------------------------------------------------

    def __getattr__(self, name: str):
        # Events this class does not handle, including ones newer transformers versions add.
        if name.startswith("on_"):
            return lambda *args, **kwargs: None
        raise AttributeError(name)

    def on_train_begin(self, args, state, control, **kwargs):
        self._hyper = redact(_args_dict(args))
        self._dataset = self._dataset_facts(kwargs.get("train_dataloader"))
        self._base = self._base_override or _trained_base(kwargs.get("model"))
        strategy = getattr(args, "save_strategy", "no")
        if self.push == "save" and getattr(strategy, "value", strategy) == "no":
            log.warning(
                "HubverCallback(push='save') with save_strategy='no': publishing at the end of training."
            )
            self._push_at_end = True

    def on_epoch_end(self, args, state, control, **kwargs):
        if self.push == "epoch":
            self._flush()
            job = self._snapshot("epoch", state, kwargs)
            strategy = getattr(args, "eval_strategy", "no")
            if getattr(strategy, "value", strategy) == "no":
                self._enqueue(job)
            else:  # the epoch's evaluation comes next: publish with its metrics
                self._pending = job

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        if metrics:
            self._eval.update(
                {
                    k: v
                    for k, v in metrics.items()
                    if isinstance(v, (int, float)) and k not in ("epoch", "step")
                }
            )
            if self._pending is not None:
                self._pending.training["metrics"].update(self._eval)
        self._flush()

    def on_save(self, args, state, control, **kwargs):
        if self.push == "save":
            self._flush()
            self._enqueue(self._snapshot("save", state, kwargs))

    def on_step_begin(self, args, state, control, **kwargs):
        self._flush()

    def on_epoch_begin(self, args, state, control, **kwargs):
        self._flush()

    def on_train_end(self, args, state, control, **kwargs):
        self._flush()
        if self._push_at_end and self._last_pushed_step != state.global_step:
            self._enqueue(self._snapshot("end", state, kwargs))
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

    # -- snapshots and the upload queue -----------------------------------------------------------

    def _dataset_facts(self, dataloader) -> dict[str, Any] | None:
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

    def _snapshot(self, trigger: str, state, kwargs: dict[str, Any]) -> _Job:
        step = int(state.global_step)
        self._tmp_root.mkdir(parents=True, exist_ok=True)  # wait() removes it at the end of training
        directory = self._tmp_root / f"{trigger}-{step}-{time.monotonic_ns()}"
        model = kwargs.get("model")
        if model is None:
            raise HubverError("HubverCallback got no model from the Trainer.")
        directory.mkdir(parents=True)
        # PEFT renders its empty model card from a Jinja template on every save (13-30 ms on the
        # training thread); hubver writes its own card, so PEFT only gets one to update.
        (directory / "README.md").write_text("---\n{}\n---\n")
        model.save_pretrained(directory)
        processor = kwargs.get("processing_class") or kwargs.get("tokenizer")
        if processor is not None and hasattr(processor, "save_pretrained"):
            processor.save_pretrained(directory)
        history = list(state.log_history or [])
        metrics = {**metrics_from_log_history(history), **self._eval}
        epoch = float(state.epoch) if state.epoch is not None else None
        training = {
            "epoch": epoch,
            "global_step": step,
            "hyperparameters": self._hyper,
            "log_history": loss_curve(history),
            "metrics": metrics,
        }
        where = f"epoch {epoch:g}, step {step}" if epoch is not None else f"step {step}"
        message = f"{self.message}: {where}" if self.message else f"{trigger}: {where}"
        self._last_pushed_step = step
        return _Job(directory, trigger, epoch, step, training, message)

    def _publish_pending_at_exit(self) -> None:
        job, self._pending = self._pending, None
        if job is not None:
            self._publish(job)

    def _flush(self) -> None:
        if self._pending is not None:
            job, self._pending = self._pending, None
            self._enqueue(job)

    def _push_kwargs(self, job: _Job) -> dict[str, Any]:
        return {
            "scheme": self.scheme,
            "bump": self.bump,
            "message": job.message,
            "training": job.training,
            "dataset": self._dataset,
            "base_model": self._base,
            "extra": {"trigger": job.trigger, **self._extra},
            **self.push_kwargs,
        }

    def _enqueue(self, job: _Job) -> None:
        if not self.background:
            self._publish(job)
            return
        with self._lock:
            if self._uploader is None or not self._uploader.alive():
                from .uploader import UploaderProcess

                self._uploader = UploaderProcess(self.settings, self._on_answer)
            self._next_id += 1
            self._jobs[self._next_id] = job
        try:
            self._uploader.submit(self._next_id, job.directory, self._push_kwargs(job))
        except (OSError, TypeError, ValueError) as e:  # a dead child, or metadata that is not JSON
            self._jobs.pop(self._next_id, None)
            self._fail(job, e)

    def _on_answer(self, answer: dict[str, Any]) -> None:
        """An answer of the upload process (called from its reader thread)."""
        from .publish import PushResult

        with self._lock:
            job = self._jobs.pop(int(answer.get("id") or 0), None)
        if job is None:
            return
        if answer.get("ok"):
            self.results.append(PushResult.from_dict(answer["result"]))
        else:
            self._fail(job, HubverError(str(answer.get("error"))))

    def _publish(self, job: _Job) -> None:
        """Publish in this process (background=False)."""
        from .publish import push

        try:
            self.results.append(push(job.directory, settings=self.settings, **self._push_kwargs(job)))
        except Exception as e:  # reported at the end; training goes on
            self._fail(job, e)
        finally:
            shutil.rmtree(job.directory, ignore_errors=True)

    def _fail(self, job: _Job, e: BaseException) -> None:
        from .redact import known_secrets, scrub

        message = e.message if isinstance(e, HubverError) else f"{type(e).__name__}: {e}"
        message = scrub(message, known_secrets([self.settings.token]))
        self.failures.append(Failure(job.trigger, job.epoch, job.step, message))
        log.warning(
            "hubver: publishing the %s snapshot at step %d failed: %s", job.trigger, job.step, message
        )
        shutil.rmtree(job.directory, ignore_errors=True)

    def wait(self) -> None:
        """Block until every queued upload has finished (called by on_train_end)."""
        self._flush()
        uploader, self._uploader = self._uploader, None
        if uploader is not None:
            code = uploader.close()
            for job in list(self._jobs.values()):  # never answered: the upload process died
                self._fail(job, HubverError(f"the upload process stopped unexpectedly (exit code {code})"))
            self._jobs.clear()
        shutil.rmtree(self._tmp_root, ignore_errors=True)


def _trained_base(model) -> str | None:
    """`name@commit` of the base the run is training, resolved where transformers loaded it from.

    Pinned when training starts, so a base whose `main` moves during a long run is still
    recorded at the revision that was trained. None for local bases, or when offline.
    """
    config = getattr(model, "peft_config", {}).get("default") if model is not None else None
    name = getattr(config, "base_model_name_or_path", None)
    if not name or Path(name).exists():
        return None
    revision = getattr(config, "revision", None)
    if revision:
        return f"{name}@{revision}"
    from .card import is_hub_id

    if not is_hub_id(name):
        return None
    try:
        from huggingface_hub import HfApi

        return f"{name}@{HfApi().model_info(name, timeout=10).sha}"
    except Exception as e:  # offline, or a base the global endpoint does not have
        log.debug("hubver: could not pin the revision of %s: %s", name, e)
        return None


def _args_dict(args) -> dict[str, Any]:
    try:
        data = args.to_dict()
    except Exception:
        data = dict(vars(args))
    return {k: v for k, v in data.items() if isinstance(v, (str, int, float, bool, list, dict, type(None)))}
