"""Test harness: one real embedded hub per session, reached over HTTP on 127.0.0.1.

huggingface_hub, transformers and peft read HF_ENDPOINT (and the cache location) when
huggingface_hub is first imported, so the hub's socket is bound and the environment set
here, before any test module imports them. The server then starts on that very socket.
"""

from __future__ import annotations

import os
import secrets
import tempfile
import uuid
from pathlib import Path

import pytest

_SESSION_DIR = Path(tempfile.mkdtemp(prefix="hubver-tests-"))
_ADMIN_TOKEN = "hv_test_" + secrets.token_hex(16)

from hubver.server import bind  # noqa: E402  (hubver.server does not import huggingface_hub)

_SOCKET = bind("127.0.0.1", 0)
HUB_URL = f"http://127.0.0.1:{_SOCKET.getsockname()[1]}"

_ENV = {
    "HF_ENDPOINT": HUB_URL,
    "HF_HOME": str(_SESSION_DIR / "hf-home"),
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_HUB_DISABLE_XET": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "DISABLE_SAFETENSORS_CONVERSION": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "HUBVER_HOME": str(_SESSION_DIR / "hubver-home"),
}
_CLEARED = (
    "HF_TOKEN",
    "HUGGING_FACE_HUB_TOKEN",
    "HUBVER_TOKEN",
    "HUBVER_REPO",
    "HUBVER_ENDPOINT",
    "HF_HUB_OFFLINE",
)


def _cleared(environ) -> list[str]:
    """What a test must not inherit: tokens, hubver settings and, on a CI runner, its GITHUB_*
    variables, which describe the runner's own job (hubver would record them in every push)."""
    return [v for v in environ if v in _CLEARED or v.startswith("GITHUB_")]


os.environ.update(_ENV)
for _var in _cleared(os.environ):
    os.environ.pop(_var)


def pytest_sessionfinish(session, exitstatus):
    _SOCKET.close()  # a no-op when the hub served on it (uvicorn closed it already)


@pytest.fixture(scope="session", autouse=True)
def _published_metadata_matches_the_schema(tmp_path_factory):
    """After the last test: every hubver.json and index hubver committed, in every hub the tests
    started (the session hub, `--local` hubs in HUBVER_HOME, the hubs tests start in tmp_path),
    validates against docs/hubver.schema.json; otherwise the run fails, naming each document.

    Runs last (set up first, so torn down after the session hub has stopped). Hubs on a tmpfs
    that a test unmounts (test_disk_full) are gone by then and are not checked.
    """
    yield
    from helpers import hub_git_dirs, published, schema_problems, schema_validators

    validators = schema_validators()
    problems: list[str] = []
    checked = 0
    for root in (_SESSION_DIR, tmp_path_factory.getbasetemp()):
        for git in hub_git_dirs(root):
            for doc in published(git):
                checked += 1
                problems += schema_problems(doc, validators)
    if problems:
        shown = "\n".join(problems[:50]) + (
            f"\n... and {len(problems) - 50} more" if len(problems) > 50 else ""
        )
        pytest.fail(
            f"{len(problems)} problem(s) in the {checked} hubver.json/index files the tests published "
            f"(docs/hubver.schema.json):\n{shown}",
            pytrace=False,
        )


@pytest.fixture(scope="session")
def hub():
    """The session's embedded hub (a `RunningHub`: `.url`, `.data_dir`, `.app`)."""
    from hubver.server import HubConfig, start_in_thread

    config = HubConfig(
        data_dir=_SESSION_DIR / "hub-data",
        admin_token=_ADMIN_TOKEN,
        # Small thresholds so that multipart uploads happen with test-sized files.
        multipart_threshold=24 << 20,
        multipart_chunk=10 << 20,
    )
    running = start_in_thread(config, sock=_SOCKET)
    yield running
    running.stop()


@pytest.fixture
def unprotected(hub, monkeypatch):
    """The session hub with version protection off for one test: tags of versions can be
    deleted and moved, branches rewound, as on huggingface.co (which protects nothing)."""
    monkeypatch.setattr(hub.app.config, "protect_versions", False)
    return hub


@pytest.fixture(scope="session")
def hub_token(hub) -> str:
    return _ADMIN_TOKEN


@pytest.fixture
def api(hub, hub_token):
    """A plain huggingface_hub client logged in as the hub's administrator."""
    from huggingface_hub import HfApi

    return HfApi(endpoint=hub.url, token=hub_token)


@pytest.fixture
def repo_id() -> str:
    """A fresh repo name per test, so tests never see each other's data."""
    return f"tests/m-{uuid.uuid4().hex[:10]}"


@pytest.fixture(autouse=True)
def _isolate(monkeypatch, tmp_path):
    """Each test starts from the harness environment, in its own working directory."""
    for var in _cleared(os.environ):
        monkeypatch.delenv(var)
    for key, value in _ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def hf_cache(tmp_path) -> Path:
    """A private HF cache dir for one test."""
    return tmp_path / "hf-cache"


@pytest.fixture(scope="session")
def tiny_base() -> Path:
    """A tiny GPT-2 with its tokenizer, built offline once per session."""
    from hubver.testing import build_tiny_base

    return build_tiny_base(_SESSION_DIR / "tiny-base")


@pytest.fixture(scope="session")
def adapters(tiny_base) -> dict[int, Path]:
    """LoRA adapters of rank 4 and 8 on `tiny_base` (random, distinct weights); treat as read-only."""
    from hubver.testing import build_lora_adapter

    return {r: build_lora_adapter(tiny_base, _SESSION_DIR / f"adapter-r{r}", r=r, seed=r) for r in (4, 8)}


@pytest.fixture
def copy_of(tmp_path):
    """copy_of(dir) -> a private copy a test may change."""
    import shutil

    def copy(src: Path, name: str | None = None) -> Path:
        dest = tmp_path / (name or Path(src).name)
        shutil.copytree(src, dest)
        return dest

    return copy


@pytest.fixture
def cli(hub, hub_token):
    """cli("push", DIR, repo=...) runs a hubver command in-process against the session hub."""
    from click.testing import CliRunner

    from hubver.cli import cli as group

    runner = CliRunner()

    def run(
        *args: str, repo: str | None = None, token: str | None = hub_token, endpoint: str | None = HUB_URL
    ):
        argv = [str(a) for a in args]
        if repo:
            argv += ["--repo", repo]
        if endpoint:
            argv += ["--endpoint", endpoint]
        if token:
            argv += ["--token", token]
        return runner.invoke(group, argv, catch_exceptions=False)

    return run
