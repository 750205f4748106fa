"""Where settings come from: flag, then HUBVER_* environment, then the config file, then default."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hubver.errors import ConfigError
from hubver.settings import HF_ENDPOINT_DEFAULT, LOCAL, find_config, resolve_settings, validate_repo

pytestmark = pytest.mark.fast


def _project(tmp_path: Path, table: str, name: str = "pyproject.toml") -> Path:
    header = "[tool.hubver]\n" if name == "pyproject.toml" else ""
    (tmp_path / name).write_text(header + table)
    return tmp_path


def test_defaults_without_flags_env_or_config(tmp_path):
    s = resolve_settings(cwd=tmp_path, env={})
    assert (s.repo, s.endpoint, s.token, s.branch, s.config_file) == (
        None,
        HF_ENDPOINT_DEFAULT,
        None,
        "main",
        None,
    )
    assert not s.is_local


@pytest.mark.parametrize(
    ("field", "flag", "env_name", "key"),
    [
        ("repo", "flag/repo", "HUBVER_REPO", "repo"),
        ("endpoint", "http://flag:1", "HUBVER_ENDPOINT", "endpoint"),
        ("branch", "flag-branch", "HUBVER_BRANCH", "branch"),
    ],
)
def test_flag_beats_environment_beats_config_beats_default(tmp_path, field, flag, env_name, key):
    values = {
        "repo": ("env/repo", "cfg/repo"),
        "endpoint": ("http://env:2", "http://cfg:3"),
        "branch": ("e", "c"),
    }
    env_value, config_value = values[field]
    cwd = _project(tmp_path, f'{key} = "{config_value}"\n')
    assert getattr(resolve_settings(**{field: flag}, cwd=cwd, env={env_name: env_value}), field) == flag
    assert getattr(resolve_settings(cwd=cwd, env={env_name: env_value}), field) == env_value
    assert getattr(resolve_settings(cwd=cwd, env={}), field) == config_value
    assert getattr(resolve_settings(**{field: ""}, cwd=cwd, env={env_name: ""}), field) == config_value


def test_hf_endpoint_is_read_after_hubver_endpoint(tmp_path):
    env = {"HF_ENDPOINT": "http://hf:1/"}
    assert resolve_settings(cwd=tmp_path, env=env).endpoint == "http://hf:1"  # trailing / dropped
    assert (
        resolve_settings(cwd=tmp_path, env={**env, "HUBVER_ENDPOINT": "http://hv:2"}).endpoint
        == "http://hv:2"
    )


def test_the_token_is_never_read_from_a_config_file(tmp_path):
    cwd = _project(tmp_path, 'token = "hf_from_a_committed_file"\n')
    assert resolve_settings(cwd=cwd, env={}).token is None
    assert resolve_settings(cwd=cwd, env={"HUBVER_TOKEN": "t0ken-env"}).token == "t0ken-env"
    assert resolve_settings(token="t0ken-flag", cwd=cwd, env={"HUBVER_TOKEN": "x"}).token == "t0ken-flag"
    assert "t0ken-flag" not in repr(resolve_settings(token="t0ken-flag", cwd=cwd, env={}))


def test_local(tmp_path):
    s = resolve_settings(local=True, cwd=tmp_path, env={"HUBVER_ENDPOINT": "http://ignored:1"})
    assert s.endpoint == LOCAL and s.is_local
    assert resolve_settings(local=True, endpoint="local", cwd=tmp_path, env={}).is_local
    with pytest.raises(ConfigError, match="--local and --endpoint cannot be used together"):
        resolve_settings(local=True, endpoint="http://x:1", cwd=tmp_path, env={})


@pytest.mark.parametrize("bad", ["ftp://x", "huggingface.co", "http://", "http:// x"])
def test_an_endpoint_that_is_not_an_http_url_is_refused(tmp_path, bad):
    with pytest.raises(ConfigError, match="Invalid endpoint"):
        resolve_settings(endpoint=bad, cwd=tmp_path, env={})


def test_home_follows_hubver_home_read_at_resolve_time(tmp_path):
    s = resolve_settings(cwd=tmp_path, env={"HUBVER_HOME": str(tmp_path / "h")})
    assert s.home == tmp_path / "h"


def test_nearest_config_wins_and_hubver_toml_before_pyproject(tmp_path):
    _project(tmp_path, 'repo = "outer/repo"\n')
    inner = tmp_path / "a" / "b"
    inner.mkdir(parents=True)
    assert find_config(inner) == (tmp_path / "pyproject.toml", {"repo": "outer/repo"})
    _project(inner, 'repo = "inner/repo"\n', name="hubver.toml")
    _project(inner, 'repo = "inner/pyproject"\n')
    assert find_config(inner) == (inner / "hubver.toml", {"repo": "inner/repo"})


def test_a_pyproject_without_a_hubver_table_is_passed_over(tmp_path):
    _project(tmp_path, 'repo = "outer/repo"\n')
    inner = tmp_path / "pkg"
    inner.mkdir()
    (inner / "pyproject.toml").write_text('[project]\nname = "x"\n')
    assert find_config(inner)[1] == {"repo": "outer/repo"}


def test_broken_config_files_name_the_file(tmp_path):
    (tmp_path / "hubver.toml").write_text("repo = \n")
    with pytest.raises(ConfigError) as e:
        find_config(tmp_path)
    assert str(tmp_path / "hubver.toml") in e.value.message and "TOML" in (e.value.hint or "")
    (tmp_path / "hubver.toml").unlink()
    (tmp_path / "pyproject.toml").write_text('[tool]\nhubver = "not a table"\n')
    with pytest.raises(ConfigError, match="must be a table"):
        find_config(tmp_path)


def test_a_repo_from_the_config_is_validated_too(tmp_path):
    with pytest.raises(ConfigError, match="Invalid repository id 'no-namespace'"):
        resolve_settings(cwd=_project(tmp_path, 'repo = "no-namespace"\n'), env={})


_part = st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9._-]{0,20}\Z")


@given(_part, _part)
def test_namespace_slash_name_is_accepted_unless_it_has_dots_or_ends_in_git(ns, name):
    repo = f"{ns}/{name}"
    if ".." in repo or repo.endswith(".git"):
        with pytest.raises(ConfigError):
            validate_repo(repo)
    else:
        assert validate_repo(repo) == repo


@pytest.mark.parametrize("bad", ["model", "a/b/c", "/a", "a/", "-a/b", "a/-b", "a b/c", "a/b.git", "a/..b"])
def test_invalid_repo_ids_are_refused_with_an_example(bad):
    with pytest.raises(ConfigError) as e:
        validate_repo(bad)
    assert "my-org/my-model" in e.value.message and "--repo" in (e.value.hint or "")


def test_require_repo(tmp_path):
    with pytest.raises(ConfigError, match="No repository given") as e:
        resolve_settings(cwd=tmp_path, env={}).require_repo()
    assert "HUBVER_REPO" in (e.value.hint or "")
    assert resolve_settings(repo="a/b", cwd=tmp_path, env={}).require_repo() == "a/b"
