"""Where hubver's settings come from: flag, then `HUBVER_*` environment, then config file, then default.

The config file is the nearest `hubver.toml`, or `pyproject.toml` with a `[tool.hubver]`
table, found walking up from the working directory. Nothing is read at import time.
Tokens are never resolved here: `None` lets huggingface_hub find `HF_TOKEN` or the cached
login itself.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

HF_ENDPOINT_DEFAULT = "https://huggingface.co"
LOCAL = "local"


def hubver_home(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    if env.get("HUBVER_HOME"):
        return Path(env["HUBVER_HOME"]).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("hubver", appauthor=False))


def local_hub_dir(env: Mapping[str, str] | None = None) -> Path:
    return hubver_home(env) / "hub"


def find_config(start: Path | None = None) -> tuple[Path | None, dict[str, Any]]:
    """The nearest hubver config and its `[tool.hubver]` (or top-level hubver.toml) table."""
    here = (start or Path.cwd()).resolve()
    for directory in (here, *here.parents):
        for name in ("hubver.toml", "pyproject.toml"):
            path = directory / name
            if not path.is_file():
                continue
            try:
                data = tomllib.loads(path.read_text(encoding="utf-8"))
            except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
                raise ConfigError(f"Cannot read {path}: {e}", "Fix the TOML syntax in that file.") from None
            table = data if name == "hubver.toml" else data.get("tool", {}).get("hubver")
            if table is not None:
                if not isinstance(table, dict):
                    raise ConfigError(f"[tool.hubver] in {path} must be a table.")
                return path, table
    return None, {}


def validate_repo(repo: str) -> str:
    from .ids import is_repo_id

    if not is_repo_id(repo):
        raise ConfigError(
            f"Invalid repository id {repo!r}: expected NAMESPACE/NAME, e.g. my-org/my-model.",
            "Pass --repo my-org/my-model (or set HUBVER_REPO).",
        )
    return repo


@dataclass(frozen=True)
class Settings:
    repo: str | None
    endpoint: str  # a URL, or "local" for the embedded hub
    token: str | None = field(repr=False, default=None)
    branch: str = "main"
    home_env: str | None = None  # $HUBVER_HOME when the settings were read; see `home`
    config_file: Path | None = None
    config: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def home(self) -> Path:
        """hubver's data dir; resolved only when needed (platformdirs costs a start-up import)."""
        return hubver_home({"HUBVER_HOME": self.home_env} if self.home_env else {})

    @property
    def is_local(self) -> bool:
        return self.endpoint == LOCAL

    def require_repo(self) -> str:
        if not self.repo:
            raise ConfigError(
                "No repository given.",
                'Pass --repo NAMESPACE/NAME, set HUBVER_REPO, or add `repo = "..."` under [tool.hubver] '
                "in pyproject.toml.",
            )
        return self.repo


def resolve_settings(
    *,
    repo: str | None = None,
    endpoint: str | None = None,
    local: bool = False,
    token: str | None = None,
    branch: str | None = None,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> Settings:
    env = dict(os.environ if env is None else env)
    config_file, config = find_config(cwd)

    def pick(flag: Any, env_names: tuple[str, ...], key: str | None, default: Any) -> Any:
        if flag not in (None, ""):
            return flag
        for name in env_names:
            if env.get(name):
                return env[name]
        value = config.get(key) if key else None
        return default if value in (None, "") else value

    if local and endpoint not in (None, "", LOCAL):
        raise ConfigError("--local and --endpoint cannot be used together.", "Pick one of them.")
    endpoint_value = LOCAL if local else pick(endpoint, ("HUBVER_ENDPOINT", "HF_ENDPOINT"), "endpoint", None)
    endpoint_value = str(endpoint_value or HF_ENDPOINT_DEFAULT).rstrip("/")
    if endpoint_value != LOCAL and not re.match(r"^https?://[^/\s]+", endpoint_value):
        raise ConfigError(
            f"Invalid endpoint {endpoint_value!r}: expected an http(s) URL or 'local'.",
            "Pass --endpoint https://huggingface.co, --endpoint http://127.0.0.1:PORT, or --local.",
        )
    repo_value = pick(repo, ("HUBVER_REPO",), "repo", None)
    return Settings(
        repo=validate_repo(str(repo_value)) if repo_value else None,
        endpoint=endpoint_value,
        # Never from a config file: those get committed. None lets huggingface_hub find HF_TOKEN.
        token=pick(token, ("HUBVER_TOKEN",), None, None),
        branch=str(pick(branch, ("HUBVER_BRANCH",), "branch", "main")),
        home_env=env.get("HUBVER_HOME"),
        config_file=config_file,
        config=config,
    )
