"""A real fine-tuning script with HubverCallback, run by the callback tests as users run theirs.

    python tests/training_script.py '{"base": ..., "out": ..., "repo": ..., "endpoint": ...}'
    torchrun --nproc_per_node 2 tests/training_script.py '{...}'

The token comes from HF_TOKEN, as it would in a job. What the run should do besides training
(sleep per epoch, Ctrl-C itself, fail in an evaluation, dump each epoch's LoRA weights) is
said in the JSON config; see `run`. Also imported by in-process tests (`run(config)`).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any


class _Probe:
    """The test's eyes and hands inside the training loop (runs after HubverCallback)."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.interrupted = False

    def __getattr__(self, name: str):
        if name.startswith("on_"):
            return lambda *a, **k: None
        raise AttributeError(name)

    def on_epoch_end(self, args, state, control, model=None, **kwargs):
        dump = self.config.get("dump_dir")
        if dump and state.is_world_process_zero:
            from safetensors.torch import save_file

            tensors = {
                k: v.detach().clone().contiguous() for k, v in model.state_dict().items() if "lora_" in k
            }
            Path(dump).mkdir(parents=True, exist_ok=True)
            save_file(tensors, str(Path(dump) / f"epoch-{round(state.epoch)}.safetensors"))
        if self.config.get("sleep_per_epoch"):
            time.sleep(float(self.config["sleep_per_epoch"]))

    def on_epoch_begin(self, args, state, control, **kwargs):
        # Ctrl-C in the terminal: SIGINT to the whole foreground process group, just after the
        # first snapshot was handed over (the upload process is then still starting).
        if self.config.get("sigint_after_first_epoch") and state.epoch and not self.interrupted:
            self.interrupted = True
            os.killpg(os.getpgid(0), signal.SIGINT)
            time.sleep(5)  # the KeyboardInterrupt arrives here

    def on_prediction_step(self, args, state, control, **kwargs):  # inside the evaluation loop
        fail_at = self.config.get("fail_in_eval_epoch")
        if fail_at and state.epoch and round(state.epoch) == fail_at:
            raise RuntimeError("evaluation failed (planted by the test)")


def run(config: dict[str, Any], callback: Any = None) -> Any:
    """Train as configured; returns the trainer."""
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    from hubver import HubverCallback
    from hubver.testing import EVAL_TEXTS, MAX_LENGTH, TRAIN_TEXTS

    if callback is None:
        # "wait" by default: the tests count one version per epoch, on machines of any speed
        options = {"on_backlog": "wait", **(config.get("callback") or {})}
        callback = HubverCallback(
            repo=config["repo"], endpoint=config["endpoint"], push=config.get("push", "epoch"), **options
        )
    evaluation = config.get("eval")  # None, "one" or "two" eval data sets
    args: dict[str, Any] = {
        "output_dir": config["out"],
        "num_train_epochs": config.get("epochs", 2),
        "learning_rate": 1e-2,
        "per_device_train_batch_size": 8,
        "per_device_eval_batch_size": 8,
        "max_length": MAX_LENGTH,
        "seed": 0,
        "use_cpu": True,
        "bf16": False,
        "activation_checkpointing": False,
        "report_to": "none",
        "save_strategy": config.get("save_strategy", "no"),
        "logging_steps": 1,
        "disable_tqdm": True,
        "eval_strategy": config.get("eval_strategy", "epoch") if evaluation else "no",
    }
    if config.get("eval_steps"):
        args["eval_steps"] = config["eval_steps"]
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        args["ddp_backend"] = "gloo"
    tokenizer = AutoTokenizer.from_pretrained(config["base"])
    model = AutoModelForCausalLM.from_pretrained(config["base"])
    eval_sets: Any = None
    if evaluation == "one":
        eval_sets = Dataset.from_list([{"text": t} for t in EVAL_TEXTS])
    elif evaluation == "two":
        eval_sets = {
            "first": Dataset.from_list([{"text": t} for t in EVAL_TEXTS[:2]]),
            "second": Dataset.from_list([{"text": t} for t in EVAL_TEXTS[2:]]),
        }
    lora = None
    if config.get("lora", True):
        lora = LoraConfig(
            task_type="CAUSAL_LM", r=4, lora_alpha=8, target_modules=["c_attn"], fan_in_fan_out=True
        )
    trainer = SFTTrainer(
        model=model,
        args=SFTConfig(**args),
        train_dataset=Dataset.from_list([{"text": t} for t in TRAIN_TEXTS]),
        eval_dataset=eval_sets,
        processing_class=tokenizer,
        peft_config=lora,
        callbacks=[callback, _Probe(config)],
    )
    trainer.train(resume_from_checkpoint=True if config.get("resume") else None)
    return trainer


def shut_down(config: dict[str, Any]) -> None:
    """The end of a distributed script, as PyTorch documents it: `destroy_process_group()`.

    Without it, gloo's worker threads can still hold work when the interpreter finalises, and
    that rank aborts ("terminate called without an active exception", SIGABRT); the launcher
    then SIGTERMs the others, rank 0 included, possibly while it waits for its last upload.
    `abort_at_exit` plays that on purpose: every rank but 0 aborts once training is over.
    """
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return
    if config.get("abort_at_exit") and dist.get_rank() != 0:
        os.abort()
    dist.destroy_process_group()


if __name__ == "__main__":
    import warnings

    warnings.simplefilter("ignore")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    cfg = json.loads(sys.argv[1])
    trained = run(cfg)
    from hubver import HubverCallback

    cb = next(c for c in trained.callback_handler.callbacks if isinstance(c, HubverCallback))
    if trained.is_world_process_zero():
        summary = {
            "results": [r.version for r in cb.results],
            "recovered": [r.version for r in cb.recovered],
            "failures": [f.error for f in cb.failures],
            "pending": cb.pending,
            "superseded": cb.superseded,
        }
        print("HUBVER-SUMMARY " + json.dumps(summary), flush=True)
    shut_down(cfg)
