"""Fine-tune a LoRA adapter with TRL's SFTTrainer and publish the run as a hubver version.

This is the "model versioning" tutorial done with current TRL (1.x) and hubver: instead of
timestamped folders and a hand-written metadata JSON, `HubverCallback` turns the training run
into a version on the Hub (one commit + one tag: v1, v2, ...) with its hyperparameters, loss
curve, PEFT config and a model card. Any version loads back with
`from_pretrained(repo, revision="vN")`.

    # a tiny GPT-2 built offline, published to the embedded hub in $HUBVER_HOME/hub:
    python examples/train_lora.py --output-dir runs/r8 --repo me/tiny-lora --local

    # a real base model, published to huggingface.co (token from HF_TOKEN or `hf auth login`):
    python examples/train_lora.py --base-model gpt2 --output-dir runs/gpt2-r16 --r 16 \
        --repo me/gpt2-lora --message "r=16 on the tutorial sentences"

The base model is downloaded from the endpoint in HF_ENDPOINT (default huggingface.co);
`--endpoint` only says where the versions are published. The same script runs on a CPU and on
a GPU: the device and bf16 are picked from what the machine has.

Exit status: 0 when every version was published, 1 (with the reason) when one was not.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path

# Set before transformers, peft or trl are imported (they read them at import time): no
# telemetry call when TRL starts, and quiet downloads.
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# peft 0.21 reads `model.is_gradient_checkpointing`, which transformers 5 deprecates: noise
# nobody calling peft can fix. Only this exact message is silenced.
warnings.filterwarnings("ignore", message="`is_gradient_checkpointing` is deprecated", category=FutureWarning)

TINY_LR = 1e-2  # a randomly initialised 133k-parameter model needs big steps to learn anything
LORA_LR = 2e-4  # the usual LoRA learning rate for a real pretrained model


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Fine-tune a LoRA adapter with TRL's SFTTrainer; publish the run with hubver.",
    )
    parser.add_argument(
        "--base-model",
        metavar="PATH_OR_ID",
        help="Base model: a local directory or a hub id (default: build a tiny GPT-2 offline "
        "into OUTPUT_DIR/tiny-base).",
    )
    parser.add_argument(
        "--output-dir", required=True, type=Path, help="Where the trainer writes (and the adapter is saved)."
    )
    parser.add_argument("--r", type=int, default=8, help="LoRA rank (default: 8).")
    parser.add_argument("--alpha", type=int, help="LoRA alpha (default: 2 * r).")
    parser.add_argument("--epochs", type=float, default=2, help="Training epochs (default: 2).")
    parser.add_argument(
        "--lr",
        type=float,
        help=f"Learning rate (default: {TINY_LR:g} for the tiny base, {LORA_LR:g} for a real one).",
    )
    parser.add_argument("--seed", type=int, default=0, help="Random seed (default: 0).")
    publish = parser.add_argument_group("publishing (hubver)")
    publish.add_argument(
        "--repo", metavar="NS/NAME", help="Publish the run as a version of this repo (default: don't)."
    )
    publish.add_argument(
        "--push",
        choices=["epoch", "save", "end"],
        default="end",
        help="When to publish: 'end' = one version per run (default), 'epoch' = one per epoch, "
        "'save' = one per checkpoint.",
    )
    where = publish.add_mutually_exclusive_group()
    where.add_argument(
        "--endpoint",
        metavar="URL",
        help="Hub to publish to (default: $HUBVER_ENDPOINT, $HF_ENDPOINT, then huggingface.co).",
    )
    where.add_argument(
        "--local", action="store_true", help="Publish to the embedded hub in $HUBVER_HOME/hub."
    )
    publish.add_argument("--token", help="Hub token (default: $HF_TOKEN or your `hf auth login`).")
    publish.add_argument(
        "--wait-timeout",
        type=float,
        default=120,
        help="Seconds to wait for the uploads at the end of training (default: 120); what is left "
        "stays in the outbox for `hubver push --pending`.",
    )
    publish.add_argument("--message", "-m", help="What this run changes (default: its LoRA settings).")
    args = parser.parse_args(argv)
    if args.r < 1:
        parser.error("--r must be at least 1")
    if args.alpha is None:
        args.alpha = 2 * args.r
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    output_dir = args.output_dir.resolve()

    # -- publishing: made first, so that a bad --repo or --endpoint fails before any training --
    from hubver import HubverCallback

    callbacks = []
    hubver_cb = None
    if args.repo:
        hubver_cb = HubverCallback(
            repo=args.repo,
            push=args.push,  # "end": the whole run becomes one version
            endpoint=args.endpoint,
            local=args.local,
            token=args.token,
            message=args.message or f"LoRA r={args.r} alpha={args.alpha}, {args.epochs:g} epoch(s)",
            dataset_name="tutorial-sentences",
            wait_timeout=args.wait_timeout,
        )
        callbacks.append(hubver_cb)

    # Heavy imports only now, so that `--help` is instant.
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.pytorch_utils import Conv1D
    from trl import SFTConfig, SFTTrainer

    # -- the base model ----------------------------------------------------------------------
    base_model = args.base_model
    if base_model is None:
        from hubver.testing import build_tiny_base

        # An absolute path: the adapter records it as its base (base_model_name_or_path).
        base_model = str(build_tiny_base(output_dir / "tiny-base"))
        print(f"Built a tiny GPT-2 base (random weights) in {base_model}")
    learning_rate = args.lr if args.lr is not None else (TINY_LR if args.base_model is None else LORA_LR)

    tokenizer = AutoTokenizer.from_pretrained(base_model)
    if tokenizer.pad_token is None:  # GPT-2 and many others ship without one
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(base_model, dtype=torch.float32)

    # -- the data: the tutorial's sentences, as a datasets.Dataset (TRL refuses plain lists) ----
    from hubver.testing import TRAIN_TEXTS

    train_dataset = Dataset.from_list([{"text": text} for text in TRAIN_TEXTS])

    # -- LoRA --------------------------------------------------------------------------------
    lora_config = LoraConfig(
        task_type="CAUSAL_LM",
        r=args.r,
        lora_alpha=args.alpha,
        lora_dropout=0.05,
        bias="none",
        # None: PEFT's default modules for the architecture (c_attn for GPT-2, q_proj and
        # v_proj for Llama...). Pass a list to choose them yourself.
        target_modules=None,
        # GPT-2-style models store attention weights transposed (Conv1D); PEFT needs to know,
        # and warns and flips the flag itself if we don't say so.
        fan_in_fan_out=any(isinstance(m, Conv1D) for m in model.modules()),
    )

    # -- training arguments: TRL 1.x names, devices picked from the machine -------------------
    on_gpu = torch.cuda.is_available()
    training_args = SFTConfig(
        output_dir=str(output_dir),
        num_train_epochs=args.epochs,
        learning_rate=learning_rate,
        per_device_train_batch_size=8,
        max_length=128,  # was max_seq_length before TRL 1.0
        dataset_text_field="text",  # on SFTConfig now, no longer an SFTTrainer argument
        use_cpu=not on_gpu,
        bf16=on_gpu and torch.cuda.is_bf16_supported(),  # SFTConfig's default bf16=True fails on CPU
        # TRL turns activation (gradient) checkpointing on by default: it saves GPU memory on
        # big models at the cost of speed. Off here; turn it on for a model that does not fit.
        activation_checkpointing=False,
        # With --push save, every checkpoint becomes a version; otherwise keep no checkpoints.
        save_strategy="epoch" if args.push == "save" else "no",
        logging_steps=1,  # a point of the loss curve per step, recorded in the version
        seed=args.seed,
        report_to="none",
        disable_tqdm=True,
    )

    trainer = SFTTrainer(
        model=model,
        args=training_args,
        train_dataset=train_dataset,
        processing_class=tokenizer,  # was tokenizer= before TRL 1.0
        peft_config=lora_config,
        callbacks=callbacks,
    )
    trainer.train()  # the callback publishes during training and waits for its uploads at the end
    adapter_dir = output_dir / "adapter"
    trainer.save_model(str(adapter_dir))
    # The loss curve and metrics, for a later `hubver push` of this directory (the callback
    # records them by itself); hubver reads trainer_state.json and never training_args.bin.
    trainer.state.save_to_json(str(adapter_dir / "trainer_state.json"))
    print(f"Adapter saved to {adapter_dir}")

    if hubver_cb is None:
        print("Not published: pass --repo NS/NAME (and --endpoint URL or --local) to make it a version.")
        return 0
    return report(hubver_cb, args, adapter_dir)


def report(hubver_cb, args: argparse.Namespace, adapter_dir: Path) -> int:
    """Print what was published (or why not), the repo's versions and how to load one."""
    from hubver import HubverError, list_versions

    if hubver_cb.failures or not hubver_cb.results:
        for failure in hubver_cb.failures:
            print(
                f"Error: publishing the {failure.trigger} snapshot (step {failure.step}) to {args.repo} "
                f"failed: {failure.error}",
                file=sys.stderr,
            )
        if not hubver_cb.failures:
            print(f"Error: nothing was published to {args.repo}.", file=sys.stderr)
        where = " --local" if args.local else (f" --endpoint {args.endpoint}" if args.endpoint else "")
        print(
            f"The trained adapter is in {adapter_dir}; publish it once the hub is reachable with:\n"
            f"  hubver push {adapter_dir} --repo {args.repo}{where}\n"
            f"or publish the snapshots the run left pending with:\n"
            f"  hubver push --pending {args.output_dir}{where}",
            file=sys.stderr,
        )
        return 1

    for result in hubver_cb.results:
        state = "Published" if result.created else "Unchanged, kept"
        # With --local the URL names the port of a hub that lived only inside this process.
        where = "" if args.local else f": {result.url}"
        print(f"{state} {result.version} of {result.repo} (commit {result.commit[:12]}){where}")

    try:
        versions = list_versions(args.repo, endpoint=args.endpoint, local=args.local, token=args.token)
    except HubverError as e:  # published all the same: say so, but do not fail the run
        print(f"Warning: could not list the versions of {args.repo}: {e.message}", file=sys.stderr)
        versions = []
    print(f"\nVersions of {args.repo}:")
    for v in versions:
        loss = v.metrics.get("train_loss")
        loss_text = f"train_loss={loss:.4f}" if isinstance(loss, (int, float)) else ""
        print(f"  {v.version:<6} {v.short_commit}  {loss_text:<18} {v.message or ''}")

    latest = hubver_cb.results[-1].version
    print("\nLoad it back:")
    print("  from peft import AutoPeftModelForCausalLM")
    print(f'  model = AutoPeftModelForCausalLM.from_pretrained("{args.repo}", revision="{latest}")')
    if args.local:
        print("  # first serve the embedded hub with `hubver hub serve` and set HF_ENDPOINT to the URL")
        print("  # it prints before Python starts; or, with no server at all:")
        print(f'  #   hubver.load("{args.repo}", "{latest}", local=True)')
    elif args.endpoint:
        print(f"  # with HF_ENDPOINT={args.endpoint} set before Python starts; or:")
        print(f'  #   hubver.load("{args.repo}", "{latest}", endpoint="{args.endpoint}")')
    return 0


if __name__ == "__main__":
    from hubver import HubverError

    try:
        sys.exit(main())
    except HubverError as e:  # a bad --repo, --endpoint or token: hubver says what and how to fix it
        print(f"Error: {e}", file=sys.stderr)
        sys.exit(1)
