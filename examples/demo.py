"""`make demo`: two LoRA runs become versions v1 and v2; list, diff, check out and load them back.

Everything happens on this machine, with no account and no network: an embedded,
Hub-compatible server (`hubver hub serve`) runs as a child process on 127.0.0.1 and the
unmodified Hugging Face clients talk to it. The demo

1. starts the hub with a random token and builds a tiny GPT-2 base (random weights),
2. publishes that base to the hub as `demo/tiny-base`, so that the adapters name a hub id
   rather than a path on this disk (any machine that can reach the hub can then load them),
3. runs `examples/train_lora.py` twice, r=4 then r=8: each run becomes one version (v1, v2),
4. runs `hubver list`, `hubver diff v1 v2` and `hubver checkout`,
5. loads v1 with plain `AutoPeftModelForCausalLM.from_pretrained(repo, revision="v1")` in a
   fresh process that knows nothing but HF_ENDPOINT, and with `hubver.load`, and checks that
   the LoRA weights that come back are v1's and not v2's,

then prints a checklist and exits 1 if any check failed. Its files (the hub's data, the
training logs, the checked-out versions) stay in the work directory, `./demo-output` unless
`--workdir` says otherwise; it is emptied at the start of every run.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import subprocess
import sys
import time
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
BASE_REPO = "demo/tiny-base"
REPO = "demo/tiny-lora"
RUNS = ((4, "v1"), (8, "v2"))  # (LoRA rank, the version that run must become)
MARKER = ".hubver-demo"  # marks a work directory this script may empty

# peft 0.21 reads `model.is_gradient_checkpointing`, which transformers 5 deprecates: noise
# nobody calling peft can fix. Only this exact message is silenced.
warnings.filterwarnings("ignore", message="`is_gradient_checkpointing` is deprecated", category=FutureWarning)

# Settings from the caller's shell that would point the demo at another hub or account.
_FOREIGN_ENV = (
    "HF_ENDPOINT",
    "HF_TOKEN",
    "HUGGING_FACE_HUB_TOKEN",
    "HF_HUB_OFFLINE",
    "HUBVER_ENDPOINT",
    "HUBVER_REPO",
    "HUBVER_TOKEN",
    "HUBVER_BRANCH",
    "HUBVER_HUB_TOKEN",
)

# Run by a fresh interpreter whose only hint is HF_ENDPOINT (and an empty HF cache): what a
# colleague would type to use v1. It saves the LoRA weights it got, for the demo to compare.
AUTOPEFT_LOAD = """
import sys
from peft import AutoPeftModelForCausalLM, get_peft_model_state_dict
from safetensors.torch import save_file

repo, out = sys.argv[1], sys.argv[2]
model = AutoPeftModelForCausalLM.from_pretrained(repo, revision="v1")
# save_embedding_layers=False: "auto" would look the base's config up on the hub again.
lora = get_peft_model_state_dict(model, save_embedding_layers=False)
lora = {k: v.detach().contiguous() for k, v in lora.items()}
save_file(lora, out)
print(model.peft_config["default"].base_model_name_or_path)
"""


@dataclass
class Checklist:
    items: list[tuple[bool, str]] = field(default_factory=list)

    def check(self, ok: bool, text: str, detail: str = "") -> bool:
        self.items.append((bool(ok), text))
        if not ok:
            print(f"  {_mark(False)} {text}" + (f"\n    {detail}" if detail else ""))
        return bool(ok)

    @property
    def failed(self) -> int:
        return sum(not ok for ok, _ in self.items)


class DemoFailed(Exception):
    """A step failed so that the following ones cannot run."""


def _mark(ok: bool) -> str:
    mark = "✓" if ok else "✗"
    try:
        mark.encode(sys.stdout.encoding or "ascii")
    except UnicodeEncodeError:
        return "ok" if ok else "FAILED"
    return mark


def _indent(text: str, prefix: str = "    ") -> str:
    return "\n".join(prefix + line for line in text.rstrip().splitlines())


# -- the work directory and the environment ------------------------------------------------------


def prepare_workdir(path: Path) -> Path:
    """An empty work directory: created, or emptied if an earlier demo run left it."""
    path = path.expanduser().resolve()
    if path.exists():
        if not path.is_dir():
            raise DemoFailed(f"{path} exists and is not a directory; pass another --workdir.")
        if (path / MARKER).exists():
            shutil.rmtree(path)
        elif any(path.iterdir()):
            raise DemoFailed(f"{path} is not empty and was not made by this demo; pass another --workdir.")
    path.mkdir(parents=True, exist_ok=True)
    (path / MARKER).write_text("made by examples/demo.py; emptied on its next run\n")
    return path


def isolate_environment(ws: Path) -> None:
    """This process and its children use the demo's own caches and no outside hub or account.

    Runs before huggingface_hub, transformers or peft are imported: they read these at import.
    HF_ENDPOINT is deliberately not set here: hubver is told the hub's URL explicitly, and
    only the child that shows plain `from_pretrained` gets HF_ENDPOINT.
    """
    for name in _FOREIGN_ENV:
        os.environ.pop(name, None)
    os.environ.update(
        {
            "HF_HOME": str(ws / "hf-home"),
            "HUBVER_HOME": str(ws / "hubver-home"),
            "HF_HUB_DISABLE_TELEMETRY": "1",
            "HF_HUB_DISABLE_XET": "1",  # the embedded hub stores files with plain git-LFS
            "HF_HUB_DISABLE_PROGRESS_BARS": "1",
            "HF_DATASETS_DISABLE_PROGRESS_BARS": "1",
            "DISABLE_SAFETENSORS_CONVERSION": "1",
            "TOKENIZERS_PARALLELISM": "false",
            # Scratch files of every process (hubver's callback snapshots among them) stay here.
            "TMPDIR": str(ws / "tmp"),
        }
    )
    (ws / "tmp").mkdir(exist_ok=True)


def child_env(**extra: str) -> dict[str, str]:
    return {**os.environ, **extra}


def hubver_command() -> list[str]:
    script = Path(sys.executable).with_name("hubver")
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-c", "from hubver.cli import main; main()"]


# -- the hub ----------------------------------------------------------------------------------------


def start_hub(ws: Path, token: str, timeout: float = 60.0) -> tuple[subprocess.Popen, str]:
    """Start `hubver hub serve` on a free port; return the process and the URL it printed first."""
    log_path = ws / "logs" / "hub.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    cmd = [*hubver_command(), "hub", "serve", "--port", "0", "--data-dir", str(ws / "hub")]
    # The token goes through the environment, not argv, where `ps` would show it.
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            cmd, cwd=ws, env=child_env(HUBVER_HUB_TOKEN=token), stdout=log, stderr=subprocess.STDOUT
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        first = log_path.read_text(errors="replace").partition("\n")
        if first[1] and first[0].startswith("http://"):
            return proc, first[0].strip()
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    stop_hub(proc)
    raise DemoFailed(f"The hub did not start. Its output:\n{_indent(log_path.read_text(errors='replace'))}")


def stop_hub(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# -- running commands -------------------------------------------------------------------------------


def run(
    cmd: list[str], ws: Path, *, shown: str, env: dict[str, str] | None = None, log: Path | None = None
) -> subprocess.CompletedProcess:
    """Run `cmd` in the work directory, echoing `shown` (a readable form of it) first."""
    print(f"  $ {shown}")
    result = subprocess.run(
        cmd, cwd=ws, env=env or child_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(result.stdout)
    return result


def require(result: subprocess.CompletedProcess, what: str, log: Path | None = None) -> None:
    if result.returncode != 0:
        tail = "\n".join(result.stdout.rstrip().splitlines()[-25:])
        where = f" (full log: {log})" if log else ""
        raise DemoFailed(f"{what} failed with exit code {result.returncode}{where}:\n{_indent(tail)}")


def lora_weights(path: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(path))


def same_tensors(a: dict, b: dict) -> bool:
    import torch

    return a.keys() == b.keys() and all(a[k].shape == b[k].shape and torch.equal(a[k], b[k]) for k in a)


# -- the demo ---------------------------------------------------------------------------------------


def demo(ws: Path, url: str, token: str, checks: Checklist, step: Callable[[str], None]) -> None:
    import hubver
    from hubver.testing import build_tiny_base, lora_ranks

    hv = hubver_command()
    where = ["--endpoint", url]
    # The hub's token reaches hubver and huggingface_hub through HF_TOKEN, never argv or output.
    authed = child_env(HF_TOKEN=token)

    step(f"A tiny GPT-2 base, published as {BASE_REPO}")
    base_dir = build_tiny_base(ws / "tiny-base")
    result = run(
        [*hv, "push", str(base_dir), "--repo", BASE_REPO, *where, "-m", "tiny random GPT-2 base"],
        ws,
        shown=f"hubver push tiny-base --repo {BASE_REPO} --endpoint {url} -m 'tiny random GPT-2 base'",
        env=authed,
    )
    require(result, f"Publishing the base to {BASE_REPO}")
    print(_indent(result.stdout))

    for r, _version in RUNS:
        step(f"Training LoRA r={r} with examples/train_lora.py")
        log = ws / "logs" / f"train-r{r}.log"
        cmd = [
            sys.executable,
            str(HERE / "train_lora.py"),
            "--base-model",
            BASE_REPO,
            "--output-dir",
            str(ws / "runs" / f"r{r}"),
            "--r",
            str(r),
            "--epochs",
            "2",
            "--lr",  # the tiny base has random weights: it needs far bigger steps than LoRA's usual 2e-4
            "1e-2",
            "--repo",
            REPO,
            *where,
            "--push",
            "end",
            "--message",
            f"LoRA r={r}",
        ]
        shown = (
            f"python examples/train_lora.py --base-model {BASE_REPO} --output-dir runs/r{r} --r {r} "
            f"--epochs 2 --lr 1e-2 --repo {REPO} --endpoint {url} --push end --message 'LoRA r={r}'"
        )
        # HF_ENDPOINT: the trainer downloads demo/tiny-base from this hub with plain from_pretrained.
        started = time.monotonic()
        result = run(cmd, ws, shown=shown, env={**authed, "HF_ENDPOINT": url}, log=log)
        require(result, f"Training r={r}", log)
        published = [line for line in result.stdout.splitlines() if line.startswith("Published ")]
        print(_indent("\n".join(published) or "(no version published)"))
        print(f"    trained and published in {time.monotonic() - started:.1f} s; log: {log.relative_to(ws)}")

    step("What the hub now holds")
    base_commit = hubver.resolve(BASE_REPO, "v1", endpoint=url, token=token)
    for _, version in RUNS:
        base = hubver.get_version(REPO, version, endpoint=url, token=token).metadata.get("base_model") or {}
        checks.check(
            base.get("name") == BASE_REPO and base.get("revision") == base_commit,
            f"{version} records its base as {BASE_REPO} at commit {base_commit[:8]} (its v1), not a local path",
            f"recorded: {base}",
        )
    versions = hubver.list_versions(REPO, endpoint=url, token=token)
    ids = [v.version for v in versions]
    checks.check(
        ids == [v for _, v in RUNS],
        "two training runs made exactly two versions, v1 and v2",
        f"versions: {ids}",
    )
    for (r, expected), v in zip(RUNS, versions, strict=False):
        checks.check(
            v.version == expected and "train_loss" in v.metrics and v.message.startswith(f"LoRA r={r}"),
            f"{expected} is the r={r} run, with its train_loss recorded "
            f"({v.metrics.get('train_loss', float('nan')):.4f})",
            f"{v.version}: message {v.message!r}, metrics {sorted(v.metrics)}",
        )
    result = run(
        [*hv, "list", "--repo", REPO, *where], ws, shown=f"hubver list --repo {REPO} --endpoint {url}"
    )
    require(result, "hubver list")
    print(_indent(result.stdout))
    checks.check("TRAIN_LOSS" in result.stdout, "`hubver list` shows each version's train_loss")

    result = run(
        [*hv, "diff", "v1", "v2", "--repo", REPO, *where],
        ws,
        shown=f"hubver diff v1 v2 --repo {REPO} --endpoint {url}",
    )
    require(result, "hubver diff")
    print(_indent(result.stdout))
    d = hubver.diff(REPO, "v1", "v2", endpoint=url, token=token)
    checks.check(
        d.lora_rank == (4, 8) and "4 -> 8" in result.stdout,
        "`hubver diff v1 v2` reads LoRA rank 4 -> 8 from the weights",
        f"lora_rank: {d.lora_rank}",
    )

    step("Checking out v1 and v2")
    checkouts = {}
    for _, version in RUNS:
        target = ws / "checkout" / version
        result = run(
            [*hv, "checkout", version, "--repo", REPO, *where, "--to", str(target)],
            ws,
            shown=f"hubver checkout {version} --repo {REPO} --endpoint {url} --to checkout/{version}",
        )
        require(result, f"hubver checkout {version}")
        print(_indent(result.stdout))
        checkouts[version] = target
    ranks = {version: set(lora_ranks(path).values()) for version, path in checkouts.items()}
    checks.check(
        ranks == {"v1": {4}, "v2": {8}},
        "the checked-out adapters have rank 4 (v1) and 8 (v2) in every module",
        f"ranks: {ranks}",
    )
    v1 = lora_weights(checkouts["v1"] / "adapter_model.safetensors")
    v2 = lora_weights(checkouts["v2"] / "adapter_model.safetensors")

    step('Loading v1 with plain AutoPeftModelForCausalLM.from_pretrained(repo, revision="v1")')
    out = ws / "loaded" / "autopeft-v1.safetensors"
    out.parent.mkdir(parents=True, exist_ok=True)
    # A stranger's process: HF_ENDPOINT, an empty cache, no token (the repos are public).
    fresh = child_env(HF_ENDPOINT=url, HF_HOME=str(ws / "hf-home-fresh"))
    print(f"    (a new Python process with HF_ENDPOINT={url} and an empty HF cache)")
    result = run(
        [sys.executable, "-c", AUTOPEFT_LOAD, REPO, str(out)],
        ws,
        shown=f'AutoPeftModelForCausalLM.from_pretrained("{REPO}", revision="v1")',
        env=fresh,
    )
    require(result, "Loading v1 with AutoPeftModelForCausalLM")
    base_named = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    print(f"    base model loaded from: {base_named}")
    checks.check(
        base_named == BASE_REPO,
        f"AutoPeftModelForCausalLM found v1's base by the hub id in its adapter_config.json ({BASE_REPO})",
        f"base_model_name_or_path: {base_named!r}",
    )
    loaded = lora_weights(out)
    checks.check(
        same_tensors(loaded, v1) and not same_tensors(loaded, v2),
        "AutoPeftModelForCausalLM.from_pretrained(repo, revision=\"v1\") gives v1's LoRA weights, not v2's",
    )

    step(f'Loading v1 with hubver.load("{REPO}", "v1", endpoint=..., token=...)')
    from peft import get_peft_model_state_dict

    model = hubver.load(REPO, "v1", endpoint=url, token=token)
    # save_embedding_layers=False: "auto" looks the base's config.json up on the global
    # endpoint (huggingface.co in this process) to see whether the vocabulary changed.
    lora = get_peft_model_state_dict(model, save_embedding_layers=False)
    loaded = {k: v.detach() for k, v in lora.items()}
    print(
        f"    {type(model).__name__} on {type(model.get_base_model()).__name__}, eval mode: {not model.training}"
    )
    checks.check(
        same_tensors(loaded, v1) and not same_tensors(loaded, v2),
        "hubver.load(repo, \"v1\") gives v1's LoRA weights, not v2's",
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--workdir",
        type=Path,
        default=Path("demo-output"),
        help="Where the hub's data, logs and checkouts go; emptied first (default: ./demo-output).",
    )
    args = parser.parse_args(argv)
    started = time.monotonic()
    checks = Checklist()
    steps = iter(range(1, 100))

    def step(title: str) -> None:
        print(f"\n[{next(steps)}] {title}  ({time.monotonic() - started:.0f} s)")

    proc = None
    try:
        ws = prepare_workdir(args.workdir)
        isolate_environment(ws)
        step("Starting the embedded hub")
        token = "hv_demo_" + secrets.token_hex(16)
        print(f"  $ hubver hub serve --port 0 --data-dir {ws / 'hub'}   (token in $HUBVER_HUB_TOKEN)")
        proc, url = start_hub(ws, token)
        print(f"    serving at {url}")
        checks.check(url.startswith("http://127.0.0.1:"), f"the hub serves on loopback only ({url})")
        demo(ws, url, token, checks, step)
    except DemoFailed as e:
        checks.check(False, "the demo ran to the end", str(e))
    except Exception as e:  # a bug, in hubver or here: the traceback says where
        traceback.print_exc()
        checks.check(False, "the demo ran to the end", f"{type(e).__name__}: {e}")
    except KeyboardInterrupt:
        print("\nInterrupted.")
        return 130
    finally:
        if proc is not None:
            stop_hub(proc)

    print(f"\nWhat the demo verified ({time.monotonic() - started:.0f} s):")
    for ok, text in checks.items:
        print(f"  {_mark(ok)} {text}")
    if checks.failed:
        print(f"\n{checks.failed} check(s) failed.")
        return 1
    print(f"\nAll {len(checks.items)} checks passed. Files: {args.workdir} (the hub has been stopped).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
