"""The parts of the benchmarks that import torch, run in a subprocess of `run.py`.

    python benchmarks/worker.py fixtures OUT_DIR        -> builds the tiny base and a LoRA adapter
    python benchmarks/worker.py train SPEC_JSON         -> timed training runs, with and without
                                                           HubverCallback(push="epoch")

Each prints one JSON object on its last stdout line. Keeping torch out of the runner keeps
its own memory and timings clean, and lets the training runs own both CPU cores.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("HF_HUB_DISABLE_XET", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def fixtures(out: Path) -> dict[str, Any]:
    from hubver.testing import build_lora_adapter, build_tiny_base

    base = build_tiny_base(out / "base")
    adapter = build_lora_adapter(base, out / "adapter-r8", r=8, seed=8)
    return {"base": str(base), "adapter": str(adapter)}


class EpochTimer:
    """Wall time of each epoch, from one epoch's start to the next one's.

    Placed first among the callbacks, so an epoch's interval includes every other callback's
    epoch-end work (HubverCallback saves its snapshot there) but not on_train_end.
    """

    def __init__(self) -> None:
        self.starts: list[float] = []
        self.end: float | None = None

    def __getattr__(self, name: str):
        if name.startswith("on_"):
            return lambda *args, **kwargs: None
        raise AttributeError(name)

    def on_epoch_begin(self, args, state, control, **kwargs):
        self.starts.append(time.perf_counter())

    def on_train_end(self, args, state, control, **kwargs):
        self.end = time.perf_counter()

    @property
    def epochs(self) -> list[float]:
        marks = [*self.starts, self.end or time.perf_counter()]
        return [b - a for a, b in zip(marks, marks[1:], strict=False)]


def _time_calls(obj: Any, name: str, into: list[float]) -> None:
    """Record the duration of every call of obj.name (an instance attribute shadows the method)."""
    method = getattr(obj, name)

    def timed(*args: Any, **kwargs: Any) -> Any:
        t = time.perf_counter()
        try:
            return method(*args, **kwargs)
        finally:
            into.append(time.perf_counter() - t)

    setattr(obj, name, timed)


def build_base(spec: dict[str, Any], out: Path) -> Path:
    """The tiny base, or a bigger random GPT-2 with the tiny base's tokenizer."""
    tiny = Path(spec["tiny_base"])
    if not spec.get("n_embd"):
        return tiny
    from transformers import AutoTokenizer

    from hubver.testing import tiny_gpt2

    tok = AutoTokenizer.from_pretrained(tiny)
    model = tiny_gpt2(
        0, tokenizer=tok, n_embd=spec["n_embd"], n_layer=spec["n_layer"], n_head=spec["n_embd"] // 64
    )
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return out


def train(spec: dict[str, Any]) -> dict[str, Any]:
    from harness import reseed_safetensors

    import hubver
    from hubver import HubverCallback
    from hubver.testing import train_lora

    if spec.get("threads"):
        import torch

        torch.set_num_threads(spec["threads"])
    work = Path(spec["work"])
    base = build_base(spec, work / "base")
    # One short run first, not reported: it pays for lazy imports and first-call set-up, which
    # would otherwise land on whichever measured run comes first.
    train_lora(spec["tiny_base"], work / "warm-up", epochs=1, extra_args={"disable_tqdm": True})
    shutil.rmtree(work / "warm-up")
    runs = []
    last_out = None
    for n, mode in enumerate(spec["order"]):
        out = work / f"out-{n}"
        timer = EpochTimer()
        callbacks: list[Any] = [timer]
        cb = None
        snapshot_times: list[float] = []
        push_times: list[float] = []
        if mode == "with":
            cb = HubverCallback(
                repo=f"{spec['repo']}-{n}", push="epoch", endpoint=spec["endpoint"], token=spec["token"]
            )
            _time_calls(cb, "on_epoch_end", snapshot_times)  # the part that runs on the training thread
            _time_calls(cb, "_snapshot", push_times)  # writing and fsyncing each snapshot to the outbox
            callbacks.append(cb)
        t = time.perf_counter()
        train_lora(
            base,
            out,
            r=spec["r"],
            alpha=spec["r"],
            epochs=spec["epochs"],
            callbacks=callbacks,
            extra_args={"disable_tqdm": True, "logging_steps": 1, "log_level": "error"},
        )
        total = time.perf_counter() - t
        runs.append(
            {
                "mode": mode,
                "epochs": timer.epochs,
                "train_total": total,
                "snapshot_seconds": snapshot_times,
                "snapshot_write_seconds": push_times,
                "pushed": [r.version for r in cb.results] if cb else [],
                "failures": [f.error for f in cb.failures] if cb else [],
            }
        )
        last_out = out
    # How long one push of this adapter takes on its own (what the callback hides in a thread).
    push_times = []
    if last_out is not None:
        artifact = work / "push-alone"
        shutil.copytree(last_out, artifact)
        for i in range(2):
            if i:
                reseed_safetensors(artifact / "adapter_model.safetensors", 1000 + i)
            t = time.perf_counter()
            hubver.push(artifact, f"{spec['repo']}-alone", endpoint=spec["endpoint"], token=spec["token"])
            push_times.append(time.perf_counter() - t)
    adapter_bytes = (last_out / "adapter_model.safetensors").stat().st_size if last_out else 0
    import torch

    return {
        "runs": runs,
        "push_alone": push_times,
        "adapter_bytes": adapter_bytes,
        "torch_threads": torch.get_num_threads(),
    }


def main() -> None:
    import warnings

    warnings.filterwarnings("ignore")  # library deprecation chatter is not a benchmark result
    sys.path.insert(0, str(Path(__file__).parent))
    what, arg = sys.argv[1], sys.argv[2]
    if what == "fixtures":
        result = fixtures(Path(arg))
    elif what == "train":
        result = train(json.loads(Path(arg).read_text()))
    else:
        raise SystemExit(f"unknown worker command {what!r}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
