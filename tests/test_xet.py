"""Xet: the embedded hub serves plain LFS; raw clients are told how to cope, hubver copes by itself."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HUBVER = str(Path(sys.executable).with_name("hubver"))


def _env_with_xet(hub_token: str) -> dict[str, str]:
    env = {**os.environ, "HF_TOKEN": hub_token}
    env.pop("HF_HUB_DISABLE_XET", None)  # hf_xet is installed: uploads would go through Xet
    return env


def test_a_raw_client_with_xet_is_told_to_disable_it(hub, hub_token, api, repo_id, tmp_path):
    pytest.importorskip("hf_xet")
    api.create_repo(repo_id)
    big = tmp_path / "w.safetensors"
    big.write_bytes(os.urandom(64 * 1024))
    code = (
        "from huggingface_hub import HfApi\n"
        f"HfApi(endpoint={hub.url!r}).upload_file(path_or_fileobj={str(big)!r}, "
        f"path_in_repo='w.safetensors', repo_id={repo_id!r})\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        env=_env_with_xet(hub_token),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode != 0
    assert "HF_HUB_DISABLE_XET=1" in proc.stderr


def test_hubver_turns_xet_off_for_a_non_hf_endpoint(hub, hub_token, adapters, repo_id):
    pytest.importorskip("hf_xet")
    proc = subprocess.run(
        [HUBVER, "push", str(adapters[4]), "--repo", repo_id, "--endpoint", hub.url, "--json"],
        env=_env_with_xet(hub_token),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["version"] == "v1"
