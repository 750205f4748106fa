"""No secret in git history: commit titles, tag messages, remotes, parameters, data set URLs.

A secret planted in each place a user really puts one is searched for in every byte the push
wrote: the repository's git objects (decompressed), everything else in its hub directory, the
HF cache a checkout filled, the command's output and the logs.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import zlib
from pathlib import Path

import pytest
from helpers import git_dir
from huggingface_hub import HfApi

from hubver.redact import strip_url_credentials

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")

PASSWORD = "Pl4ntedPASSWORDvalue" + "77aa"
REMOTES = (
    "HTTPS://oauth2:{s}@gitlab.example.com/team/code.git",
    "https://gitlab.example.com/team/code.git?access_token={s}",
    "ssh://deploy:{s}@git.example.com/team/code.git",
    "https://git.example.com/code.git?ref=main&private_token={s}",
    "Git+Https://x-token-auth:{s}@bitbucket.example.com/team/code.git",
)


@pytest.mark.parametrize(
    "text,want",
    [
        ("HTTPS://oauth2:glpat-abc@host/x.git", "HTTPS://host/x.git"),
        ("https://host/x.git?access_token=abc&page=2", "https://host/x.git?access_token=<redacted>&page=2"),
        ("see http://me:PASS@host/r and more", "see http://host/r and more"),
        ("https://h/d?Signature=abc&X-Amz-Credential=k", "https://h/d?Signature=<redacted>&X-Amz-Credential=<redacted>"),
        ("git@github.com:org/code.git", "git@github.com:org/code.git"),  # no secret in an scp-style user
        ("https://h/p?page=2&keyword=x", "https://h/p?page=2&keyword=x"),
    ],
)  # fmt: skip
def test_url_credentials_are_stripped(text, want):
    assert strip_url_credentials(text) == want


def _all_bytes(root: Path) -> dict[str, bytes]:
    """Every file under `root`, git objects decompressed."""
    out = {}
    for p in root.rglob("*"):
        if not p.is_file():
            continue
        data = p.read_bytes()
        if "objects" in p.parts and len(p.parent.name) == 2:
            try:
                data = zlib.decompress(data)
            except zlib.error:
                pass
        out[str(p)] = data
    return out


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def test_secrets_reach_no_byte_of_history(cli, hub, adapters, repo_id, tmp_path, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG, logger="hubver")
    token = hub.app.tokens.create_user("tests")
    monkeypatch.setenv("HF_TOKEN", token)  # the token this push really uses
    code = tmp_path / "code"
    code.mkdir()
    _git(code, "init", "-q")
    _git(code, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "start")
    monkeypatch.chdir(code)
    art = shutil.copytree(adapters[4], tmp_path / "art")
    outputs = []
    for n, remote in enumerate(REMOTES):
        if n:
            _git(code, "remote", "remove", "origin")
        _git(code, "remote", "add", "origin", remote.format(s=PASSWORD))
        (art / "step.txt").write_text(str(n))
        pushed = cli(
            "push", art, "-m", f"retrain, HF_TOKEN={token} see https://me:{PASSWORD}@host/run",
            "--param", f"report_url=https://me:{PASSWORD}@reports.example.com/r?sig={PASSWORD}",
            "--dataset", f"https://user:{PASSWORD}@data.example.com/d.jsonl",
            "--json", repo=repo_id, token=None,
        )  # fmt: skip
        assert pushed.exit_code == 0, pushed.stderr
        outputs.append(pushed.stdout + pushed.stderr)
        meta = json.loads(pushed.stdout)
        assert meta["version"] == f"v{n + 1}"
    shown = cli("show", "v1", "--json", repo=repo_id, token=None)
    assert shown.exit_code == 0, shown.stderr
    detail = json.loads(shown.stdout)["metadata"]
    assert detail["dataset"]["name"] == "https://data.example.com/d.jsonl"  # parsed as a URL
    assert detail["code"]["remote"] == "HTTPS://gitlab.example.com/team/code.git"
    checked = cli("checkout", "v5", "--to", tmp_path / "co", repo=repo_id, token=None)
    assert checked.exit_code == 0, checked.stderr

    written = _all_bytes(hub.data_dir)  # every repository, the token store, the LFS objects
    assert any(name.startswith(str(git_dir(hub, repo_id))) for name in written)
    written |= _all_bytes(Path(os.environ["HF_HOME"]))
    written |= _all_bytes(tmp_path / "co")
    written["output"] = "".join(outputs).encode()
    written["logs"] = caplog.text.encode()
    titles = [c.title for c in HfApi(token=token).list_repo_commits(repo_id)]
    assert any("retrain, HF_TOKEN=<redacted>" in t for t in titles), titles
    for name, data in written.items():
        for secret in (token, PASSWORD):
            assert secret.encode() not in data, name


def test_a_token_pasted_into_the_message_is_redacted_everywhere(hub, hub_token, adapters, repo_id, api):
    """A token hubver was never told (a colleague's, pasted into -m) is recognised by its shape."""
    import hubver

    pasted = "hf_" + "Zq9" * 11
    result = hubver.push(adapters[4], repo_id, message=f"retrain {pasted}", endpoint=hub.url, token=hub_token)
    assert result.created
    log = subprocess.run(
        ["git", "-C", str(git_dir(hub, repo_id)), "cat-file", "--batch-all-objects", "--batch"],
        capture_output=True,
        check=True,
    ).stdout
    assert pasted.encode() not in log and b"retrain <redacted>" in log
    listed = hubver.list_versions(repo_id, endpoint=hub.url, token=hub_token)
    assert listed[0].message == "retrain <redacted>"
