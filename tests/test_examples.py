"""The examples run as users run them: train_lora.py against the session hub, and `make demo`."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

import hubver

pytest.importorskip("trl")
pytest.importorskip("peft")

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _run(args: list[str], *, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, timeout=timeout, env=dict(os.environ)
    )


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_train_lora_publishes_one_version_per_epoch(hub, hub_token, repo_id, tmp_path):
    result = _run(
        [
            str(EXAMPLES / "train_lora.py"),
            "--output-dir",
            str(tmp_path / "run"),
            "--r",
            "4",
            "--epochs",
            "2",
            "--push",
            "epoch",
            "--repo",
            repo_id,
            "--endpoint",
            hub.url,
            "--token",
            hub_token,
            "--message",
            "example run",
        ],
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr

    versions = hubver.list_versions(repo_id, endpoint=hub.url, token=hub_token)
    assert [v.version for v in versions] == ["v1", "v2"]
    for v in versions:
        assert v.kind == "adapter"
        assert v.message.startswith("example run")
        assert isinstance(v.metrics.get("train_loss"), float)
    assert "v1" in result.stdout and "v2" in result.stdout
    assert f'from_pretrained("{repo_id}", revision="v2")' in result.stdout
    assert hub_token not in result.stdout + result.stderr
    # The adapter is also kept locally, and it is the rank we asked for.
    from hubver.testing import lora_ranks

    assert set(lora_ranks(tmp_path / "run" / "adapter").values()) == {4}


def test_train_lora_exits_1_when_publishing_fails(tmp_path):
    dead = f"http://127.0.0.1:{_closed_port()}"
    result = _run(
        [
            str(EXAMPLES / "train_lora.py"),
            "--output-dir",
            str(tmp_path / "run"),
            "--epochs",
            "1",
            "--repo",
            "tests/unreachable",
            "--endpoint",
            dead,
            "--wait-timeout",
            "3",
        ],
        timeout=300,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Error: publishing the end snapshot" in result.stderr
    assert f"hubver push {tmp_path / 'run' / 'adapter'} --repo tests/unreachable --endpoint {dead}" in (
        result.stderr
    )
    assert (tmp_path / "run" / "adapter" / "adapter_model.safetensors").is_file()


def test_train_lora_refuses_a_bad_repo_before_training(tmp_path):
    result = _run(
        [str(EXAMPLES / "train_lora.py"), "--output-dir", str(tmp_path / "run"), "--repo", "no-namespace"],
        timeout=60,
    )
    assert result.returncode == 1
    assert "Invalid repository id 'no-namespace'" in result.stderr
    assert not (tmp_path / "run").exists()  # nothing was built or trained


@pytest.mark.slow
def test_demo_runs_end_to_end(tmp_path):
    workdir = tmp_path / "demo"
    result = _run([str(EXAMPLES / "demo.py"), "--workdir", str(workdir)], timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    checklist = result.stdout.partition("What the demo verified")[2]
    assert "✗" not in checklist
    for claim in (
        "two training runs made exactly two versions, v1 and v2",
        "reads LoRA rank 4 -> 8 from the weights",
        'AutoPeftModelForCausalLM.from_pretrained(repo, revision="v1") gives v1\'s LoRA weights',
        'hubver.load(repo, "v1") gives v1\'s LoRA weights',
    ):
        assert claim in checklist
    # It kept its files where it was told to, and stopped its hub.
    assert (workdir / "checkout" / "v1" / "adapter_model.safetensors").is_file()
    url = result.stdout.split("serving at ", 1)[1].split()[0]
    host, port = url.removeprefix("http://").split(":")
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((host, int(port)), timeout=5).close()
