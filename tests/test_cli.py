"""The command line: what a user sees for good and bad input, and how fast it starts."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import click
import pytest

from hubver.cli import cli as group

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")
HUBVER = str(Path(sys.executable).with_name("hubver"))


def _no_traceback(result) -> None:
    assert "Traceback" not in result.output and "Traceback" not in (result.stderr or "")


def test_push_list_show_diff_checkout_via_cli(cli, adapters, repo_id, tmp_path):
    r = cli("push", adapters[4], "-m", "rank 4", "--metric", "eval_loss=2.0", repo=repo_id)
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith(f"Published v1 of {repo_id}")
    r = cli("push", adapters[8], "--metric", "eval_loss=1.5", "--json", repo=repo_id)
    data = json.loads(r.stdout)
    assert data["version"] == "v2" and data["created"] is True and len(data["commit"]) == 40
    r = cli("list", "--json", repo=repo_id)
    rows = json.loads(r.stdout)
    assert [row["version"] for row in rows] == ["v1", "v2"]
    assert {"version", "commit", "created_at", "metrics", "aliases"} <= set(rows[0])
    table = cli("list", repo=repo_id).stdout
    assert "EVAL_LOSS" in table and "rank 4" in table
    assert "LoRA rank (from weights): 4 -> 8" in cli("diff", "v1", "v2", repo=repo_id).stdout
    assert "r=4" in cli("show", "v1", repo=repo_id).stdout
    out = cli("checkout", "v1", "--to", tmp_path / "co", repo=repo_id)
    assert out.exit_code == 0 and (tmp_path / "co" / "adapter_model.safetensors").exists()
    assert "production" in cli("promote", "v2", "production", repo=repo_id).stdout
    assert "v2" in cli("aliases", repo=repo_id).stdout
    assert "v2" in cli("history", "production", repo=repo_id).stdout
    assert cli("verify", repo=repo_id).exit_code == 0
    dry = cli("push", adapters[4], "--dry-run", "--version", "v9", repo=repo_id)
    assert "Dry run: would publish v9" in dry.stdout and "--- README.md ---" in dry.stdout


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


BAD_INPUTS = [
    # (name, argv builder, words expected in stderr)
    ("missing dir", lambda p, a: ["push", p / "nope"], "No such directory"),
    ("empty dir", lambda p, a: ["push", p / "empty"], "has no files"),
    ("no model files", lambda p, a: ["push", p / "notes"], "No model or adapter files"),
    ("corrupt adapter_config", lambda p, a: ["push", p / "corrupt"], "line 2"),
    (
        "corrupt metrics file",
        lambda p, a: ["push", a, "--metrics-file", p / "bad.json"],
        "bad.json is not valid JSON",
    ),
    ("bad metric", lambda p, a: ["push", a, "--metric", "loss=abc"], "is not a number"),
    ("invalid version id", lambda p, a: ["push", a, "--version", "v1..2"], "Invalid version id"),
    ("unknown version", lambda p, a: ["show", "v42"], "Version v42 not found"),
    ("unknown version diff", lambda p, a: ["diff", "v1", "v42"], "Version v42 not found"),
    ("checkout not empty", lambda p, a: ["checkout", "v1", "--to", p / "notes"], "is not empty"),
    ("bad repo id", lambda p, a: ["list", "--repo", "no-slash"], "Invalid repository id"),
]


@pytest.mark.parametrize(("name", "argv", "words"), BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_bad_input_is_a_clear_error(cli, adapters, repo_id, tmp_path, name, argv, words):
    cli("push", adapters[4], repo=repo_id)
    (tmp_path / "empty").mkdir()
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "notes.txt").write_text("hello")
    corrupt = shutil.copytree(adapters[4], tmp_path / "corrupt")
    (corrupt / "adapter_config.json").write_text('{"r": 4,\n "oops"}')
    (tmp_path / "bad.json").write_text("{not json")
    args = argv(tmp_path, adapters[8])
    result = cli(*args, repo=None if "--repo" in args else repo_id)
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("Error: ")
    assert words in result.stderr
    assert len(result.stderr.strip().splitlines()) >= 2, "every error comes with a hint"
    _no_traceback(result)


def test_duplicate_version_id(cli, adapters, repo_id):
    cli("push", adapters[4], "--version", "best", repo=repo_id)
    result = cli("push", adapters[8], "--version", "best", repo=repo_id)
    assert result.exit_code == 1 and "Version best already exists" in result.stderr
    assert "--version" in result.stderr


def test_repo_not_found_and_no_token(cli, adapters, repo_id):
    missing = cli("list", repo="nobody/nothing-here")
    assert missing.exit_code == 1 and "not found" in missing.stderr
    anonymous = cli("push", adapters[4], repo=repo_id, token=None)
    assert anonymous.exit_code == 1
    assert "needs a token" in anonymous.stderr and "HF_TOKEN" in anonymous.stderr
    wrong = cli("push", adapters[4], repo=repo_id, token="hv_not_a_real_token")
    assert wrong.exit_code == 1 and "refused" in wrong.stderr
    assert "hv_not_a_real_token" not in wrong.stderr
    _no_traceback(wrong)


def test_dead_endpoint_fails_within_seconds(cli, adapters, repo_id):
    endpoint = f"http://127.0.0.1:{_closed_port()}"
    start = time.monotonic()
    result = cli("push", adapters[4], repo=repo_id, endpoint=endpoint)
    elapsed = time.monotonic() - start
    assert result.exit_code == 1 and f"Cannot reach the Hub at {endpoint}" in result.stderr
    assert elapsed < 10, elapsed
    _no_traceback(result)


def test_debug_shows_the_traceback(cli, repo_id):
    result = cli("--debug", "show", "v1", repo="nobody/nothing-here")
    assert result.exit_code == 1
    assert "Traceback (most recent call last)" in result.output and "RepoNotFound" in result.output


def test_every_command_and_option_has_help():
    def walk(command: click.Command, path: str):
        yield path, command
        if isinstance(command, click.Group):
            for name, sub in command.commands.items():
                yield from walk(sub, f"{path} {name}")

    for path, command in walk(group, "hubver"):
        assert command.help or command.short_help, f"{path} has no help"
        for param in command.params:
            if isinstance(param, click.Option):
                assert param.help, f"{path} {param.opts} has no help"


def _heavy_modules(args: list[str], env: dict[str, str]) -> tuple[subprocess.CompletedProcess, str]:
    code = (
        "import sys, atexit\n"
        "atexit.register(lambda: sys.stderr.write('\\nHEAVY=' + ','.join(m for m in "
        "('torch', 'transformers', 'peft', 'trl') if m in sys.modules) + '\\n'))\n"
        "from hubver.cli import main\n"
        f"sys.argv = ['hubver', *{args!r}]\n"
        "main()\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    heavy = proc.stderr.rsplit("HEAVY=", 1)[-1].strip()
    return proc, heavy


def test_fast_commands_never_import_torch(hub, hub_token, adapters, repo_id, tmp_path):
    env = {**os.environ, "HF_TOKEN": hub_token, "HUBVER_ENDPOINT": hub.url, "HUBVER_REPO": repo_id}
    for args in (
        ["--help"],
        ["push", str(adapters[4])],
        ["list"],
        ["checkout", "v1", "--to", str(tmp_path / "co")],
        ["sync", hub.url, hub.url, "--to-repo", f"{repo_id}-copy"],
        ["resolve", "latest~0"],
        ["lock", "latest", "-o", str(tmp_path / "hubver.lock")],
        ["verify", "--lock", str(tmp_path / "hubver.lock")],
    ):
        proc, heavy = _heavy_modules(args, env)
        assert proc.returncode == 0, proc.stderr
        assert heavy == "", f"hubver {args[0]} imported {heavy}"


def test_installed_entry_point(hub, hub_token, adapters, repo_id):
    env = {**os.environ, "HF_TOKEN": hub_token}
    proc = subprocess.run(
        [HUBVER, "push", str(adapters[4]), "--repo", repo_id, "--endpoint", hub.url, "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["version"] == "v1"
    bad = subprocess.run([HUBVER, "list", "--repo", "x"], env=env, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1 and bad.stderr.startswith("Error: Invalid repository id")
    assert subprocess.run([HUBVER, "--version"], capture_output=True, text=True).stdout.startswith(
        "hubver, version"
    )


def test_config_file_supplies_the_repo(cli, adapters, repo_id, tmp_path):
    (tmp_path / "pyproject.toml").write_text(f'[project]\nname = "x"\n\n[tool.hubver]\nrepo = "{repo_id}"\n')
    assert cli("push", adapters[4]).exit_code == 0
    assert "v1" in cli("list").stdout
    (tmp_path / "pyproject.toml").write_text("[tool.hubver\nrepo=")
    broken = cli("list")
    assert broken.exit_code == 1 and "pyproject.toml" in broken.stderr


def test_local_embedded_hub(adapters, tmp_path, monkeypatch):
    """--local: an in-process hub in $HUBVER_HOME/hub, no token to manage."""
    from click.testing import CliRunner

    monkeypatch.setenv("HUBVER_HOME", str(tmp_path / "home"))
    runner = CliRunner()
    r = runner.invoke(
        group, ["push", str(adapters[4]), "--local", "--repo", "me/model"], catch_exceptions=False
    )
    assert r.exit_code == 0, r.output
    r = runner.invoke(group, ["list", "--local", "--repo", "me/model", "--json"], catch_exceptions=False)
    assert json.loads(r.stdout)[0]["version"] == "v1"
    token_file = tmp_path / "home" / "hub" / "admin.token"
    assert token_file.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "home" / "hub").stat().st_mode & 0o777 == 0o700


def test_add_user_with_a_bad_name_is_a_clear_error(tmp_path):
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "hubver", "hub", "add-user", "Bad Name", "--data-dir", str(tmp_path / "hub")],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 1
    assert "Invalid user name 'Bad Name'" in out.stderr and "unexpected" not in out.stderr, out.stderr
    assert not (tmp_path / "hub" / "tokens.json").exists()


def test_debug_tracebacks_keep_url_credentials_out(tmp_path):
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "hubver", "--debug", "list", "--repo", "me/x",
         "--endpoint", "http://someone:s3cretpassw0rd@127.0.0.1:9"],
        capture_output=True, text=True, env={**os.environ, "HUBVER_HTTP_TIMEOUT": "2"},
    )  # fmt: skip
    assert out.returncode == 1 and "Traceback" in out.stderr, out.stderr
    assert "s3cretpassw0rd" not in out.stderr and "someone:" not in out.stderr
