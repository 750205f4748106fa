"""HubverCallback the way real training breaks it: several processes, kill -9, Ctrl-C, a crash
in evaluation, a hub that stops answering or is slow, several eval sets, a reused callback.

Training runs as users run it (`python script.py`, `torchrun`, `accelerate launch`) in its own
process group, against the session's real hub; faults are planted in the hub's request path
(`app.dispatch`, as `helpers.recorded_requests` does) or sent as real signals.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

import hubver
from hubver import HubverCallback

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::FutureWarning"),
    pytest.mark.filterwarnings("ignore::UserWarning"),
]
SCRIPT = Path(__file__).with_name("training_script.py")
ROOT = Path(__file__).resolve().parent.parent


def _env(token: str, **extra: str) -> dict[str, str]:
    env = dict(os.environ, HF_TOKEN=token, PYTHONPATH=str(ROOT), **extra)
    env.pop("PYTEST_CURRENT_TEST", None)
    return env


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_training(config: dict, token: str, *, launcher: list[str] | None = None, **env: str):
    """The script as its own process group (a job), like a scheduler or a terminal starts it."""
    cmd = [*(launcher or [sys.executable]), str(SCRIPT), json.dumps(config)]
    return subprocess.Popen(
        cmd,
        env=_env(token, **env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def finish(proc, timeout: float = 300) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def versions(hub, token, repo) -> list[dict]:
    """(version, step, metadata) of every version, in order, read back through hubver."""
    out = []
    for v in hubver.list_versions(repo, endpoint=hub.url, token=token):
        meta = hubver.get_version(repo, v.version, endpoint=hub.url, token=token).metadata
        out.append({"version": v.version, "step": meta["training"]["global_step"], "meta": meta})
    return out


def lora_of(hub, token, repo, version) -> dict:
    from huggingface_hub import hf_hub_download
    from safetensors.torch import load_file

    path = hf_hub_download(repo, "adapter_model.safetensors", revision=version, endpoint=hub.url, token=token)
    return load_file(path)


def same_lora(published: dict, dumped: dict) -> bool:
    import torch

    def norm(k: str) -> str:  # peft saves without the adapter name, the live model has it
        return k.replace(".default", "")

    a = {norm(k): v for k, v in published.items()}
    b = {norm(k): v for k, v in dumped.items()}
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@contextlib.contextmanager
def on_commit(app, action):
    """Run `action(request, original)` for every commit request the hub receives."""
    original = app.dispatch

    async def dispatch(request):
        if request.method == "POST" and "/commit/" in request.url.path:
            return await action(request, original)
        return await original(request)

    app.dispatch = dispatch
    try:
        yield
    finally:
        del app.dispatch


def kill_job(proc) -> None:
    """What a scheduler's preemption does: SIGKILL to the trainer's group and everything it started."""
    with contextlib.suppress(psutil.Error):
        family = psutil.Process(proc.pid).children(recursive=True)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        for child in family:
            with contextlib.suppress(psutil.Error):
                child.kill()


def wait_for_outbox_to_empty(outbox: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while outbox.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not outbox.exists(), f"outbox still holds {sorted(p.name for p in outbox.iterdir())}"


def assert_clean_history(hub, token, repo, steps: list[int]) -> list[dict]:
    found = versions(hub, token, repo)
    assert [v["step"] for v in found] == steps, [(v["version"], v["step"]) for v in found]
    assert [v["version"] for v in found] == [f"v{i}" for i in range(1, len(steps) + 1)]
    reports = hubver.verify(repo, endpoint=hub.url, token=token)
    assert reports and all(r.ok for r in reports), [r.__dict__ for r in reports if not r.ok]
    return found


# -- several processes ---------------------------------------------------------------------------


@pytest.mark.parametrize("launcher", ["torchrun", "accelerate"])
def test_two_processes_publish_one_version_per_epoch(hub, hub_token, tiny_base, repo_id, tmp_path, launcher):
    port = str(free_port())  # not the launchers' default 29500, which an earlier job may still hold
    command = {
        "torchrun": [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc_per_node",
            "2",
            "--master_port",
            port,
        ],
        "accelerate": [
            *(sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2"),
            *("--main_process_port", port),
            *("--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"),
        ],
    }[launcher]
    config = {
        "base": str(tiny_base),
        "out": str(tmp_path / "out"),
        "repo": repo_id,
        "endpoint": hub.url,
        "epochs": 2,
        "dump_dir": str(tmp_path / "dump"),
    }
    code, out, err = finish(start_training(config, hub_token, launcher=command))
    assert code == 0, err[-3000:]
    found = assert_clean_history(hub, hub_token, repo_id, [3, 6])  # 40 texts / (8 x 2 ranks) per epoch
    for n, v in enumerate(found, start=1):
        dist = v["meta"]["training"]["distributed"]
        assert dist["world_size"] == 2 and dist["effective_batch_size"] == 16
        assert dist["distributed_type"] == "MULTI_CPU"
        assert same_lora(
            lora_of(hub, hub_token, repo_id, v["version"]),
            _load(tmp_path / "dump" / f"epoch-{n}.safetensors"),
        )
    assert not (tmp_path / "out" / ".hubver").exists()


def test_a_rank_that_aborts_at_exit_costs_no_version(hub, hub_token, tiny_base, repo_id, tmp_path):
    """Rank 1 aborts as training ends (gloo's finalisation crash, when a script does not call
    destroy_process_group); torchrun then SIGTERMs rank 0 while it waits for its uploads. The
    upload process is in its own session: both epochs are still published, in order."""
    config = {
        "base": str(tiny_base),
        "out": str(tmp_path / "out"),
        "repo": repo_id,
        "endpoint": hub.url,
        "epochs": 2,
        "abort_at_exit": True,
    }
    launcher = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2"]
    launcher += ["--master_port", str(free_port())]
    release = threading.Event()

    async def held(request, original):  # rank 0 is still waiting for v1 when the launcher kills it
        await asyncio.to_thread(release.wait, 240)
        return await original(request)

    log = tmp_path / "job.log"  # a file, not a pipe: the upload process, still at work, holds stderr
    with on_commit(hub.app, held), log.open("w") as sink:
        try:
            cmd = [*launcher, str(SCRIPT), json.dumps(config)]
            job = subprocess.Popen(cmd, env=_env(hub_token), stdout=sink, stderr=sink, start_new_session=True)
            code = job.wait(timeout=300)
            err = log.read_text()
            assert code != 0 and "SIGABRT" in err and "SIGTERM" in err, err[-3000:]  # rank 1, then rank 0
            assert hubver.list_versions(repo_id, endpoint=hub.url, token=hub_token) == []
        finally:
            release.set()
        wait_for_outbox_to_empty(tmp_path / "out" / ".hubver" / "outbox")
    assert_clean_history(hub, hub_token, repo_id, [3, 6])


def _load(path: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(path))


# -- preemption -----------------------------------------------------------------------------------


@pytest.mark.parametrize("moment", ["before-commit", "between-commit-and-tag"])
def test_a_killed_job_loses_no_epoch_once_resumed(hub, hub_token, tiny_base, repo_id, tmp_path, moment):
    """kill -9 of the whole job at v1's commit; the resumed run publishes every epoch once, in order."""
    config = {
        "base": str(tiny_base),
        "out": str(tmp_path / "out"),
        "repo": repo_id,
        "endpoint": hub.url,
        "epochs": 3,
        "save_strategy": "epoch",
        "sleep_per_epoch": 1.5,
    }
    proc = start_training(config, hub_token)
    killed = threading.Event()

    async def kill(request, original):
        if killed.is_set():
            return await original(request)
        if moment == "before-commit":
            await asyncio.to_thread(kill_job, proc)
            killed.set()
            raise ConnectionError("the job was killed before this commit")
        response = await original(request)  # the commit lands, its answer never arrives
        await asyncio.to_thread(kill_job, proc)
        killed.set()
        return response

    with on_commit(hub.app, kill):
        code, _out, _err = finish(proc)
        assert killed.is_set() and code == -signal.SIGKILL
    outbox = tmp_path / "out" / ".hubver" / "outbox"
    assert outbox.is_dir()  # what was handed over is on disk, waiting
    if moment == "before-commit":
        assert hubver.list_versions(repo_id, endpoint=hub.url, token=hub_token) == []

    code, out, err = finish(start_training({**config, "resume": True, "sleep_per_epoch": 0}, hub_token))
    assert code == 0, err[-3000:]
    found = assert_clean_history(hub, hub_token, repo_id, [5, 10, 15])
    assert not outbox.exists() and not (tmp_path / "out" / ".hubver").exists()
    first_run = found[0]["meta"]["training"]["run"]["id"]
    assert all(v["meta"]["training"]["run"]["id"] == first_run for v in found)
    resumed = [v for v in found if v["meta"]["training"]["run"].get("resumed_from")]
    assert all(v["meta"]["training"]["run"]["resumed_from"].startswith("checkpoint-") for v in resumed)


def test_a_lost_outbox_is_recovered_from_the_checkpoints(hub, hub_token, tiny_base, repo_id, tmp_path):
    """The outbox was on a node-local disk that went with the node: checkpoints still say what to publish."""
    outbox = tmp_path / "node-local-outbox"
    config = {
        "base": str(tiny_base),
        "out": str(tmp_path / "out"),
        "repo": repo_id,
        "endpoint": hub.url,
        "epochs": 3,
        "save_strategy": "epoch",
        "sleep_per_epoch": 1.5,
        "callback": {"outbox": str(outbox)},
    }
    proc = start_training(config, hub_token)
    killed = threading.Event()

    async def kill(request, original):
        if not killed.is_set():
            await asyncio.to_thread(kill_job, proc)
            killed.set()
        raise ConnectionError("killed")

    with on_commit(hub.app, kill):
        finish(proc)
    import shutil

    shutil.rmtree(outbox)
    checkpoints = sorted(p.name for p in (tmp_path / "out").glob("checkpoint-*"))
    assert checkpoints and checkpoints[0] == "checkpoint-5"
    code, out, err = finish(start_training({**config, "resume": True, "sleep_per_epoch": 0}, hub_token))
    assert code == 0, err[-3000:]
    found = assert_clean_history(hub, hub_token, repo_id, [5, 10, 15])
    recovered = [v for v in found if v["meta"]["extra"].get("recovered")]
    assert recovered and all("(recovered)" in v["meta"]["message"] for v in recovered)


def test_ctrl_c_right_after_a_snapshot_loses_nothing(hub, hub_token, tiny_base, repo_id, tmp_path):
    config = {
        "base": str(tiny_base),
        "out": str(tmp_path / "out"),
        "repo": repo_id,
        "endpoint": hub.url,
        "epochs": 3,
        "sigint_after_first_epoch": True,
    }
    code, _out, err = finish(start_training(config, hub_token))
    assert code != 0 and "KeyboardInterrupt" in err
    wait_for_outbox_to_empty(tmp_path / "out" / ".hubver" / "outbox")
    assert_clean_history(hub, hub_token, repo_id, [5])


def test_a_crash_in_evaluation_keeps_the_order_and_the_right_metrics(
    hub, hub_token, tiny_base, repo_id, tmp_path
):
    config = {
        "base": str(tiny_base),
        "out": str(tmp_path / "out"),
        "repo": repo_id,
        "endpoint": hub.url,
        "epochs": 3,
        "eval": "one",
        "fail_in_eval_epoch": 2,
    }
    code, _out, err = finish(start_training(config, hub_token))
    assert code != 0 and "evaluation failed" in err
    wait_for_outbox_to_empty(tmp_path / "out" / ".hubver" / "outbox")
    v1, v2 = assert_clean_history(hub, hub_token, repo_id, [5, 10])
    assert "eval_loss" in v1["meta"]["metrics"]
    assert "eval_loss" not in v2["meta"]["metrics"]  # epoch 2 was never evaluated
    assert v2["meta"]["training"]["last_eval"]["step"] == 5  # epoch 1's, labelled as such
    assert "evaluation" in v2["meta"]["extra"]["incomplete"]


# -- a hub that stops answering, or is slow -------------------------------------------------------


def test_a_hub_that_stops_answering_never_hangs_training(
    hub, hub_token, tiny_base, repo_id, tmp_path, monkeypatch, cli, caplog
):
    from hubver.testing import train_lora

    monkeypatch.setenv("HUBVER_HTTP_TIMEOUT", "2")
    hang = threading.Event()
    hang.set()

    async def stall(request, original):
        while hang.is_set():
            await asyncio.sleep(0.1)
        return await original(request)

    cb = HubverCallback(repo=repo_id, push="epoch", endpoint=hub.url, token=hub_token, wait_timeout=6)
    with on_commit(hub.app, stall):
        started = time.monotonic()
        train_lora(
            tiny_base, tmp_path / "out", r=4, epochs=2, callbacks=[cb], extra_args={"disable_tqdm": True}
        )
        took = time.monotonic() - started
        hang.clear()
    assert took < 60
    assert [p.split(" (")[0] for p in cb.pending] == ["epoch snapshot", "epoch snapshot"]
    assert "hubver push --pending" in caplog.text and not cb.results
    result = cli("push", "--pending", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    assert "Published v1" in result.output and "Published v2" in result.output
    assert_clean_history(hub, hub_token, repo_id, [5, 10])
    assert not (tmp_path / "out" / ".hubver").exists()
    again = cli("push", "--pending", str(tmp_path / "out"))
    assert again.exit_code == 0 and "Nothing pending" in again.output


def test_a_slow_hub_keeps_the_backlog_bounded(hub, hub_token, tiny_base, repo_id, tmp_path, caplog):
    from transformers import TrainerCallback

    from hubver.testing import train_lora

    # The hub answers no commit until epoch 4 has ended: snapshots pile up behind the first
    # upload whatever the machine's speed, so the backlog bound must supersede some of them.
    release = threading.Event()

    class OpenAfterEpoch4(TrainerCallback):
        def on_epoch_end(self, args, state, control, **kwargs):
            if state.epoch is not None and state.epoch >= 4:
                release.set()

    async def slow(request, original):
        await asyncio.to_thread(release.wait, 120)
        await asyncio.sleep(0.2)
        return await original(request)

    outbox = tmp_path / "out" / ".hubver" / "outbox"
    most, stop = [0], threading.Event()

    def watch():
        while not stop.is_set():
            with contextlib.suppress(OSError):
                snapshots = [p for p in outbox.iterdir() if p.name[:1].isdigit()]
                most[0] = max(most[0], len(snapshots))
            time.sleep(0.02)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    cb = HubverCallback(repo=repo_id, push="epoch", endpoint=hub.url, token=hub_token, max_pending=2)
    with on_commit(hub.app, slow):
        train_lora(
            tiny_base,
            tmp_path / "out",
            r=4,
            epochs=6,
            callbacks=[OpenAfterEpoch4(), cb],
            extra_args={"disable_tqdm": True},
        )
    stop.set()
    watcher.join()
    assert 1 <= most[0] <= 2
    assert cb.superseded and "superseded" in caplog.text
    found = versions(hub, hub_token, repo_id)
    steps = [v["step"] for v in found]
    assert steps == sorted(steps) and steps[-1] == 30  # the final epoch is never dropped
    assert len(steps) == len(cb.results) == 6 - len(cb.superseded)
    assert not outbox.exists()


# -- the right metrics, and reuse -----------------------------------------------------------------


def test_two_eval_sets_and_evaluations_off_the_epoch_boundary(hub, hub_token, tiny_base, repo_id, tmp_path):
    import training_script

    cb = HubverCallback(repo=repo_id, push="epoch", endpoint=hub.url, token=hub_token)
    config = {"base": str(tiny_base), "out": str(tmp_path / "out"), "epochs": 2, "eval": "two"}
    training_script.run(config, cb)
    v1, v2 = assert_clean_history(hub, hub_token, repo_id, [5, 10])
    for v in (v1, v2):
        metrics, steps = v["meta"]["metrics"], v["meta"]["training"]["metric_steps"]
        assert {"eval_first_loss", "eval_second_loss"} <= metrics.keys()
        assert steps["eval_first_loss"] == steps["eval_second_loss"] == v["step"]
    assert v1["meta"]["metrics"]["eval_first_loss"] != v2["meta"]["metrics"]["eval_first_loss"]

    # Evaluations at steps 4 and 8, and at the last step (10): step 5 has none of its own.
    other = repo_id + "-steps"
    cb = HubverCallback(repo=other, push="epoch", endpoint=hub.url, token=hub_token)
    config = {
        **config,
        "out": str(tmp_path / "out2"),
        "eval": "one",
        "eval_strategy": "steps",
        "eval_steps": 4,
    }
    training_script.run(config, cb)
    v1, v2 = assert_clean_history(hub, hub_token, other, [5, 10])
    assert "eval_loss" not in v1["meta"]["metrics"]  # step 4's is never presented as step 5's
    assert v1["meta"]["training"]["last_eval"]["step"] == 4
    assert "eval_loss" in v1["meta"]["training"]["last_eval"]["metrics"]
    assert v1["meta"]["training"]["metric_steps"]["train_loss"] == 5
    assert v2["meta"]["training"]["metric_steps"]["eval_loss"] == 10
    assert v2["meta"]["training"]["last_eval"]["step"] == 8


def test_a_reused_callback_starts_each_run_clean(hub, hub_token, tiny_base, repo_id, tmp_path):
    from hubver.testing import train_lora

    template = tmp_path / "card.j2"
    template.write_text("# {{ repo }} {{ version }}\n\nmy own card\n")
    cb = HubverCallback(repo=repo_id, push="end", endpoint=hub.url, token=hub_token, template=template)
    train_lora(
        tiny_base, tmp_path / "a", r=4, epochs=1, callbacks=[cb], eval=True, extra_args={"disable_tqdm": True}
    )
    assert [r.version for r in cb.results] == ["v1"] and not cb.failures
    train_lora(
        tiny_base,
        tmp_path / "b",
        r=4,
        epochs=1,
        learning_rate=5e-2,
        callbacks=[cb],
        extra_args={"disable_tqdm": True},
    )
    assert [r.version for r in cb.results] == ["v2"] and not cb.failures
    v1, v2 = assert_clean_history(hub, hub_token, repo_id, [5, 5])
    assert "eval_loss" in v1["meta"]["metrics"] and "eval_loss" not in v2["meta"]["metrics"]
    assert v1["meta"]["training"]["run"]["id"] != v2["meta"]["training"]["run"]["id"]
    from huggingface_hub import hf_hub_download

    card = Path(hf_hub_download(repo_id, "README.md", revision="v2", endpoint=hub.url, token=hub_token))
    assert "my own card" in card.read_text()


def test_a_full_fine_tune_records_its_base(hub, hub_token, tiny_base, repo_id, tmp_path):
    import training_script

    cb = HubverCallback(repo=repo_id, push="end", endpoint=hub.url, token=hub_token)
    training_script.run(
        {"base": str(tiny_base), "out": str(tmp_path / "out"), "epochs": 1, "lora": False}, cb
    )
    (v1,) = assert_clean_history(hub, hub_token, repo_id, [5])
    assert v1["meta"]["kind"] == "model"
    assert v1["meta"]["base_model"]["name"] == str(tiny_base)


def test_options_that_cannot_reach_the_upload_process_are_refused_at_once(hub_token):
    from hubver.errors import HubverError

    with pytest.raises(HubverError, match="cannot be sent to the upload process"):
        HubverCallback(repo="t/x", endpoint="http://127.0.0.1:9", token=hub_token, extra={"when": object()})
    with pytest.raises(HubverError, match="max_pending"):
        HubverCallback(repo="t/x", endpoint="http://127.0.0.1:9", token=hub_token, max_pending=0)


def test_pending_refuses_a_path_that_is_not_a_directory_and_keeps_damaged_snapshots(
    hub, hub_token, tmp_path, cli
):
    missing = cli("push", "--pending", str(tmp_path / "no-such-run"))
    assert missing.exit_code == 1 and "is not a directory" in missing.output
    (tmp_path / "run").mkdir()
    empty = cli("push", "--pending", str(tmp_path / "run"))
    assert empty.exit_code == 0 and "has no outbox" in empty.output
    # A snapshot whose job.json is damaged is set aside with the reason, never deleted.
    entry = tmp_path / "run" / ".hubver" / "outbox" / f"{time.time_ns():020d}-s000000005"
    (entry / "files").mkdir(parents=True)
    (entry / "files" / "adapter_model.safetensors").write_bytes(b"weights")
    (entry / "job.json").write_text("{not json")
    result = cli("push", "--pending", str(tmp_path / "run"))
    assert result.exit_code == 1 and "refused" in result.output
    kept = tmp_path / "run" / ".hubver" / "outbox" / "failed" / entry.name
    assert (kept / "files" / "adapter_model.safetensors").read_bytes() == b"weights"
    assert "cannot be read" in (kept / "error.txt").read_text()
