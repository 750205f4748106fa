"""Security: the hub keeps its secrets private and its requests bounded; hubver leaks no token
into anything it writes, logs or says; loading runs no pickle and no remote code by itself."""

from __future__ import annotations

import json
import logging
import os
import pickle
import shutil
import socket
import stat
import subprocess
import sys
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest
from helpers import git_dir, raw_request
from huggingface_hub import HfApi, hf_hub_download

import hubver
from hubver.errors import HubverError

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")
MiB = 1 << 20


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# -- the embedded hub's secrets ---------------------------------------------------------------------


def test_tokens_are_stored_hashed_in_private_files(tmp_path):
    """A hub without --token: admin.token is the one plaintext; tokens.json has only hashes."""
    from click.testing import CliRunner

    from hubver.cli import cli
    from hubver.server import HubConfig, start_in_thread
    from hubver.server.auth import hash_token

    data = tmp_path / "hub"
    data.mkdir(mode=0o755)  # made by someone else, too open: the hub closes it
    with start_in_thread(HubConfig(data_dir=data)) as running:
        admin = (data / "admin.token").read_text().strip()
        added = CliRunner().invoke(cli, ["hub", "add-user", "bob", "--data-dir", str(data), "--json"])
        assert added.exit_code == 0, added.output
        bob = json.loads(added.stdout)["token"]
        alice = running.app.tokens.create_user("alice", orgs=("team",))
        for token, name in ((admin, "admin"), (bob, "bob"), (alice, "alice")):
            assert HfApi(endpoint=running.url, token=token).whoami()["name"] == name
        HfApi(endpoint=running.url, token=admin).create_repo("admin/model")  # writes a repo, a lock

    stored = (data / "tokens.json").read_text()
    for token in (admin, bob, alice):
        assert token not in stored and token[3:] not in stored
        assert hash_token(token) in json.loads(stored)
    assert _mode(data) == 0o700
    for name in ("admin.token", "tokens.json", "secret", "hubver.lock"):
        assert _mode(data / name) == 0o600, name
    assert len((data / "secret").read_text().strip()) == 64
    # Nothing in the data dir (repos included) holds a plaintext token but admin.token itself.
    for path in data.rglob("*"):
        if path.is_file() and path.name != "admin.token":
            content = path.read_bytes()
            assert not any(t.encode() in content for t in (admin, bob, alice)), path


def test_the_session_hub_stores_no_plaintext_token(hub, hub_token):
    carol = hub.app.tokens.create_user("carol")
    stored = (hub.data_dir / "tokens.json").read_text()
    assert carol not in stored and hub_token not in stored
    assert not (hub.data_dir / "admin.token").exists()  # the token was given: nothing to read back
    assert _mode(hub.data_dir) == 0o700
    assert _mode(hub.data_dir / "tokens.json") == _mode(hub.data_dir / "secret") == 0o600


# -- traversal: what tests/test_hub_refusals.py does not cover yet ---------------------------------

GIT_CONTROL_PATHS = [
    ".GIT/config",
    ".Git/hooks/post-checkout",
    "a/.git./x",
    "a/.git /x",
    "git~1/x",
    "a/GIT~1/config",
    ".git\u200c/hooks/x",  # macOS ignores U+200C: this is .git there
    ".gitmodules",
    "sub/.GITMODULES",
    ".gitmodules.",
    "gitmod~1",
    ".git:stream/x",
]


def test_git_control_paths_are_refused_everywhere(hub, hub_token, api, repo_id):
    """Each one would make `git fsck` fail, or a clone on macOS/Windows write into its .git."""
    api.create_repo(repo_id)
    auth = {"Authorization": f"Bearer {hub_token}"}
    header = json.dumps({"key": "header", "value": {"summary": "control file"}})
    for path in GIT_CONTROL_PATHS:
        op = json.dumps({"key": "file", "value": {"path": path, "content": "eA=="}})
        status, headers, _ = raw_request(
            hub.url,
            "POST",
            f"/api/models/{repo_id}/commit/main",
            body=f"{header}\n{op}".encode(),
            headers=auth,
        )
        assert (status, headers.get("x-error-code")) == (400, "BadRequest"), path
        body = json.dumps({"files": [{"path": path, "size": 1, "sample": "eA=="}]}).encode()
        status, _, _ = raw_request(
            hub.url, "POST", f"/api/models/{repo_id}/preupload/main", body=body, headers=auth
        )
        assert status == 400, path
    with pytest.raises(Exception, match="Invalid file path '.GIT/config'"):
        api.upload_file(path_or_fileobj=b"x", path_in_repo=".GIT/config", repo_id=repo_id)
    # Names that only look alike are fine.
    for path in (".github/workflows/x.yml", ".gitignore", "a.git", "gitmod", ".gitkeep", "git~1x"):
        api.upload_file(path_or_fileobj=b"x", path_in_repo=path, repo_id=repo_id)
    fsck = subprocess.run(
        ["git", "--git-dir", str(git_dir(hub, repo_id)), "fsck", "--full", "--strict"],
        capture_output=True,
        text=True,
    )
    assert fsck.returncode == 0, fsck.stdout + fsck.stderr


def test_traversal_in_json_paths_info_and_tag_bodies(hub, hub_token, api, repo_id):
    api.create_repo(repo_id)
    auth = {"Authorization": f"Bearer {hub_token}", "Content-Type": "application/json"}
    for path in ["..", "../x", "/etc/passwd", "a/../../b", ".git/HEAD", "a\x00b", ".GIT"]:
        body = json.dumps({"paths": [path]}).encode()
        status, _, _ = raw_request(
            hub.url, "POST", f"/api/models/{repo_id}/paths-info/main", body=body, headers=auth
        )
        assert status == 400, path
    for tag in ["v\ud800", "..\udc80", "a/\udfff"]:  # lone surrogates: no file name, no git object
        body = json.dumps({"tag": tag}).encode()
        status, _, _ = raw_request(
            hub.url, "POST", f"/api/models/{repo_id}/tag/main", body=body, headers=auth
        )
        assert status == 400, tag
        body = json.dumps({"startingPoint": tag}).encode()
        status, _, _ = raw_request(
            hub.url, "POST", f"/api/models/{repo_id}/branch/b", body=body, headers=auth
        )
        assert status == 400, tag
    assert [t.name for t in api.list_repo_refs(repo_id).tags] == []


# -- request sizes -------------------------------------------------------------------------------------


def test_request_sizes_are_bounded(tmp_path):
    """Declared or streamed, a body over its limit is a 413 that arrives, and the hub goes on serving."""
    from hubver.server import HubConfig, start_in_thread

    token = "hv_limits_" + uuid.uuid4().hex
    config = HubConfig(
        data_dir=tmp_path / "hub",
        admin_token=token,
        max_json_body=64 << 10,
        max_commit_line=64 << 10,
        max_commit_body=1 * MiB,
    )
    auth = {"Authorization": f"Bearer {token}"}
    with start_in_thread(config) as small:
        HfApi(endpoint=small.url, token=token).create_repo("limits/m")
        commit = "/api/models/limits/m/commit/main"
        header = json.dumps({"key": "header", "value": {"summary": "big"}}) + "\n"
        line = json.dumps({"key": "file", "value": {"path": "a.txt", "content": "QUFB" * 10}}) + "\n"

        def chunked(data: bytes, size: int = 16 << 10):
            for i in range(0, len(data), size):
                yield data[i : i + size]

        cases = [
            ("declared JSON", "/api/repos/create", b'{"name": "' + b"x" * (65 << 10) + b'"}', None),
            ("streamed JSON", "/api/repos/create", b'{"name": "' + b"x" * (65 << 10) + b'"}', "chunked"),
            ("validate-yaml", "/api/validate-yaml", b'{"content": "' + b"x" * (65 << 10) + b'"}', None),
            ("LFS batch", "/limits/m.git/info/lfs/objects/batch", b" " * (65 << 10) + b"{}", "chunked"),
            (
                "commit line",
                commit,
                (header + '{"key": "file", "value": "' + "x" * (65 << 10)).encode(),
                "chunked",
            ),
            ("commit body", commit, (header + line * (MiB // len(line) + 10)).encode(), "chunked"),
        ]
        for name, path, body, mode in cases:
            status, headers, _ = raw_request(
                small.url, "POST", path, body=chunked(body) if mode else body, headers=auth
            )
            assert status == 413, (name, status)
            assert headers.get("x-error-code") == "PayloadTooLarge", name
        # Still serving, and nothing of the refused commits landed.
        assert HfApi(endpoint=small.url, token=token).list_repo_files("limits/m") == [".gitattributes"]


# -- secrets in everything hubver writes -------------------------------------------------------------

PLANTED = "hf_PLANTEDsecretTOKEN" + "0123456789abcdef"
API_KEY = "sk-planted-api-key-" + "9876543210"
TRAINING_TOKEN = "hf_TRAININGargsTOKEN" + "fedcba9876543210"


def _secrets_in(text: str, *more: str) -> list[str]:
    return [s for s in (PLANTED, API_KEY, TRAINING_TOKEN, *more) if s in text]


@pytest.fixture
def planted(hub, monkeypatch, tmp_path):
    """A real token in HF_TOKEN (that of user `tests`), an API key, and a GitHub Actions step
    whose pull request title and workflow name hold them."""
    token = hub.app.tokens.create_user("tests")
    monkeypatch.setenv("HF_TOKEN", token)
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    event = tmp_path / "event.json"
    event.write_text(
        json.dumps({"pull_request": {"number": 7, "title": f"Train with {token}", "merged": True}})
    )
    files = {"token": token, "summary": tmp_path / "summary.md", "output": tmp_path / "output.txt"}
    for key, value in {
        "GITHUB_ACTIONS": "true",
        "GITHUB_STEP_SUMMARY": str(files["summary"]),
        "GITHUB_OUTPUT": str(files["output"]),
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_REPOSITORY": "org/code",
        "GITHUB_SHA": "3f786850e387550fdab836ed7e6dc881de23001b",
        "GITHUB_RUN_ID": "42",
        "GITHUB_WORKFLOW": "train",
    }.items():
        monkeypatch.setenv(key, value)
    return files


def _published_texts(repo_id: str, version: str, cache: Path) -> dict[str, str]:
    return {
        name: Path(hf_hub_download(repo_id, name, revision=version, cache_dir=cache, token=False)).read_text()
        for name in ("hubver.json", "README.md", ".hubver/versions.jsonl")
    }


def test_planted_secrets_reach_nothing_the_cli_writes(cli, hub, adapters, repo_id, tmp_path, planted, caplog):
    caplog.set_level(logging.DEBUG, logger="hubver")
    caplog.set_level(logging.DEBUG, logger="huggingface_hub")
    token = planted["token"]  # HF_TOKEN: the token this push really uses
    art = shutil.copytree(adapters[4], tmp_path / "art")
    (art / "training_args.bin").write_bytes(b"pickled args with " + token.encode())
    (art / "trainer_state.json").write_text(
        json.dumps({"log_history": [{"loss": 1.0, "step": 1, "note": token}], "epoch": 1, "hub_token": token})
    )
    metrics = tmp_path / "metrics.json"
    metrics.write_text(
        json.dumps(
            {"eval_loss": 0.5, "hub_token": token, "nested": {"api_key": API_KEY}, "note": f"tok={token}"}
        )
    )
    pushed = cli(
        "push", art, "--metrics-file", metrics, "--param", f"hub_token={token}", "--param", f"run_name=run {API_KEY}",
        "-m", f"trained with {token}", "--json", repo=repo_id, token=None,
    )  # fmt: skip
    assert pushed.exit_code == 0, pushed.stderr
    version = json.loads(pushed.stdout)["version"]
    written = _published_texts(repo_id, version, tmp_path / "cache")
    written["job summary"] = planted["summary"].read_text()
    written["step outputs"] = planted["output"].read_text()
    written["stdout/stderr"] = pushed.stdout + pushed.stderr
    written["logs"] = caplog.text
    assert "published `v1`" in written["job summary"]
    for name, text in written.items():
        assert _secrets_in(text, token) == [], name
    meta = json.loads(written["hubver.json"])
    assert meta["training"]["hyperparameters"]["hub_token"] == "<redacted>"
    assert meta["metrics"]["hub_token"] == "<redacted>" and meta["metrics"]["nested/api_key"] == "<redacted>"
    assert "<redacted>" in meta["ci"]["pull_request"]["title"]

    # Errors whose message would carry a secret: the version id, a URL with credentials.
    shown = cli("checkout", token, "--to", tmp_path / "co", repo=repo_id, token=None)
    assert shown.exit_code == 1 and "not found" in shown.stderr
    dead = f"http://user:{token}@127.0.0.1:{_closed_port()}"
    unreachable = cli("list", repo=repo_id, endpoint=dead, token=None)
    assert unreachable.exit_code == 1 and "Cannot reach the Hub" in unreachable.stderr
    for result in (shown, unreachable):
        assert _secrets_in(result.stdout + result.stderr, token) == []
    # hubver's own logs (huggingface_hub logs each request URL at DEBUG, credentials included).
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("hubver"))
    assert _secrets_in(ours, token) == []


def test_secrets_in_training_arguments_reach_no_version(
    hub, hub_token, adapters, repo_id, tmp_path, monkeypatch, caplog
):
    caplog.set_level(logging.DEBUG, logger="hubver")
    monkeypatch.setenv("HF_TOKEN", PLANTED)
    result = hubver.push(
        adapters[4],
        repo_id,
        endpoint=hub.url,
        token=hub_token,
        training={
            "hyperparameters": {"hub_token": TRAINING_TOKEN, "push_to_hub_token": TRAINING_TOKEN, "lr": 1e-4},
            "metrics": {"eval_loss": 0.1, "wandb_api_key": API_KEY},
        },
        extra={"note": f"token {PLANTED}", "credentials": {"password": "p4ssw0rd-planted"}},
    )
    texts = _published_texts(repo_id, result.version, tmp_path / "cache")
    for name, text in texts.items():
        assert _secrets_in(text) == [] and "p4ssw0rd-planted" not in text and hub_token not in text, name
    assert _secrets_in(json.dumps(result.to_dict()) + (result.card or "")) == []
    assert hub_token not in caplog.text and _secrets_in(caplog.text) == []


def test_a_secret_in_the_ci_context_reaches_no_file(
    hub, hub_token, adapters, repo_id, tmp_path, planted, monkeypatch
):
    monkeypatch.setenv("GITHUB_WORKFLOW", f"train {API_KEY}")
    result = hubver.push(adapters[4], repo_id, endpoint=hub.url, token=hub_token)
    for name, text in _published_texts(repo_id, result.version, tmp_path / "cache").items():
        assert _secrets_in(text) == [], name


class _Model:
    """Just enough of a PEFT model for HubverCallback: save_pretrained writes the adapter."""

    def __init__(self, source: Path) -> None:
        self.source = source

    def save_pretrained(self, directory) -> None:
        shutil.copytree(self.source, directory, dirs_exist_ok=True)  # like save_pretrained


def _args(**extra):
    data = {
        "hub_token": TRAINING_TOKEN,
        "learning_rate": 1e-4,
        "run_name": f"run-{PLANTED}",
        "report_to": [],
        **extra,
    }
    return SimpleNamespace(to_dict=lambda: dict(data), save_strategy="no", eval_strategy="no", **data)


def _state(step: int = 3):
    return SimpleNamespace(
        global_step=step, epoch=1.0, log_history=[{"loss": 0.9, "step": step, "epoch": 1.0}]
    )


def test_callback_keeps_training_secrets_out_of_the_version(
    hub, hub_token, adapters, repo_id, tmp_path, monkeypatch, caplog
):
    caplog.set_level(logging.DEBUG, logger="hubver")
    monkeypatch.setenv("HF_TOKEN", PLANTED)
    cb = hubver.HubverCallback(repo_id, push="end", endpoint=hub.url, token=hub_token, background=False)
    cb.on_train_begin(_args(), _state(0), None)
    cb.on_train_end(_args(), _state(), None, model=_Model(adapters[4]))
    assert not cb.failures and [r.version for r in cb.results] == ["v1"]
    texts = _published_texts(repo_id, "v1", tmp_path / "cache")
    for name, text in texts.items():
        assert _secrets_in(text) == [] and hub_token not in text, name
    meta = json.loads(texts["hubver.json"])
    assert meta["training"]["hyperparameters"]["hub_token"] == "<redacted>"
    assert meta["training"]["hyperparameters"]["run_name"] == "run-<redacted>"
    assert _secrets_in(caplog.text) == [] and hub_token not in caplog.text


def test_callback_failure_messages_carry_no_secret(adapters, repo_id, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG, logger="hubver")
    monkeypatch.setenv("HF_TOKEN", PLANTED)
    monkeypatch.setenv("HUBVER_RETRY_SECONDS", "1")
    dead = f"http://user:{PLANTED}@127.0.0.1:{_closed_port()}"
    cb = hubver.HubverCallback(
        repo_id, push="end", endpoint=dead, token="hv_unused_0123456789", background=False
    )
    cb.on_train_begin(_args(), _state(0), None)
    cb.on_train_end(_args(), _state(), None, model=_Model(adapters[4]))
    assert [f.trigger for f in cb.failures] == ["end"] and "Cannot reach" in cb.failures[0].error
    assert "Cannot reach" in caplog.text
    assert _secrets_in(caplog.text + cb.failures[0].error) == []


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- loading -----------------------------------------------------------------------------------------

MARKER_CODE = """
from pathlib import Path
Path({marker!r}).write_text("remote code ran")
from transformers import GPT2Config, GPT2LMHeadModel


class EvilConfig(GPT2Config):
    model_type = "evil-gpt2"


class EvilModel(GPT2LMHeadModel):
    config_class = EvilConfig
"""


def _evil_model(tiny_base: Path, tmp_path: Path, marker: Path, *, known_type: bool) -> Path:
    """A model whose config.json sends transformers to `modeling_evil.py`, which writes `marker`."""
    art = shutil.copytree(tiny_base, tmp_path / ("evil-known" if known_type else "evil-custom"))
    config = json.loads((art / "config.json").read_text())
    config["auto_map"] = {
        "AutoConfig": "modeling_evil.EvilConfig",
        "AutoModelForCausalLM": "modeling_evil.EvilModel",
    }
    if not known_type:
        config["model_type"] = "evil-gpt2"  # only the repo's own code knows this type
    (art / "config.json").write_text(json.dumps(config))
    (art / "modeling_evil.py").write_text(MARKER_CODE.format(marker=str(marker)))
    return art


@pytest.mark.slow
def test_load_never_runs_the_repos_code(hub, hub_token, tiny_base, repo_id, tmp_path):
    marker = tmp_path / "remote-code-ran"
    conn = {"endpoint": hub.url, "token": hub_token}
    hubver.push(_evil_model(tiny_base, tmp_path, marker, known_type=True), repo_id, **conn)
    model = hubver.load(repo_id, "v1", **conn)
    assert type(model).__name__ == "GPT2LMHeadModel"  # transformers' own class, not the repo's
    custom = repo_id + "-custom"
    hubver.push(_evil_model(tiny_base, tmp_path, marker, known_type=False), custom, **conn)
    with pytest.raises(Exception, match="trust_remote_code|custom code"):
        hubver.load(custom, "v1", **conn)
    assert not marker.exists()


@pytest.mark.slow
def test_load_never_asks_to_run_the_repos_code(hub, hub_token, tiny_base, repo_id, tmp_path):
    """Run as a user at a terminal would: whatever stdin says, the code does not run."""
    marker = tmp_path / "remote-code-ran"
    hubver.push(
        _evil_model(tiny_base, tmp_path, marker, known_type=False), repo_id, endpoint=hub.url, token=hub_token
    )
    code = (
        "import hubver, sys\n"
        "try:\n"
        f"    hubver.load({repo_id!r}, 'v1', endpoint={hub.url!r}, token={hub_token!r})\n"
        "except hubver.HubverError as e:\n"
        "    print('HubverError:', e.message); sys.exit(3)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        input="y\n",
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ),
    )
    assert not marker.exists(), "the repository's modeling_evil.py ran"
    assert proc.returncode == 3 and "HubverError:" in proc.stdout, proc.stdout + proc.stderr[-2000:]


class _Evil:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (Path(self.marker), "pickle ran"))


@pytest.mark.slow
def test_load_uses_safetensors_and_pickles_only_when_allowed(hub, hub_token, tiny_base, repo_id, tmp_path):
    import torch
    from safetensors.torch import load_file

    conn = {"endpoint": hub.url, "token": hub_token}
    marker = tmp_path / "pickle-ran"
    weights = load_file(tiny_base / "model.safetensors")

    # Both formats: the pickle is never opened.
    both = shutil.copytree(tiny_base, tmp_path / "both")
    (both / "pytorch_model.bin").write_bytes(pickle.dumps({"x": _Evil(str(marker))}))
    hubver.push(both, repo_id, **conn)
    model = hubver.load(repo_id, "v1", **conn)
    assert not marker.exists()
    assert torch.equal(model.state_dict()["transformer.wte.weight"], weights["transformer.wte.weight"])

    # Pickle only: refused by default, loaded with allow_pickle=True.
    pickled = shutil.copytree(tiny_base, tmp_path / "pickled")
    (pickled / "model.safetensors").unlink()
    torch.save(weights, pickled / "pytorch_model.bin")
    hubver.push(pickled, repo_id + "-pt", **conn)
    with pytest.raises(HubverError, match="pickle"):
        hubver.load(repo_id + "-pt", "v1", **conn)
    model = hubver.load(repo_id + "-pt", "v1", allow_pickle=True, **conn)
    state = model.state_dict()
    assert all(torch.equal(state[k], v) for k, v in weights.items() if k in state)
    assert not model.training

    # Even allowed, a pickle that runs code is not executed (transformers loads with weights_only).
    evil = shutil.copytree(pickled, tmp_path / "evil-pickle")
    (evil / "pytorch_model.bin").write_bytes(pickle.dumps({"transformer.wte.weight": _Evil(str(marker))}))
    hubver.push(evil, repo_id + "-evil", **conn)
    with pytest.raises(Exception):  # noqa: B017  (transformers' own error: weights_only refuses it)
        hubver.load(repo_id + "-evil", "v1", allow_pickle=True, **conn)
    assert not marker.exists()


def test_checkout_downloads_without_deserialising(hub, hub_token, tiny_base, repo_id, tmp_path):
    """checkout copies bytes and checks sha256: it never opens (unpickles) what it downloads."""
    marker = tmp_path / "pickle-ran"
    art = shutil.copytree(tiny_base, tmp_path / "art")
    (art / "pytorch_model.bin").write_bytes(pickle.dumps(_Evil(str(marker))))
    hubver.push(art, repo_id, endpoint=hub.url, token=hub_token)
    result = hubver.checkout(repo_id, "v1", to=tmp_path / "co", endpoint=hub.url, token=hub_token, quiet=True)
    assert "pytorch_model.bin" in result.files and not marker.exists()
    assert (tmp_path / "co" / "pytorch_model.bin").read_bytes() == (art / "pytorch_model.bin").read_bytes()
