"""What every hubver command shares: repository options, settings, and output."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

import click

from ..formatting import safe


def repo_options(func: Callable) -> Callable:
    """--repo, --endpoint/--local, --token, --branch and --json, resolved into `settings`."""

    @click.option(
        "--repo",
        "-r",
        metavar="NS/NAME",
        help="Hub repository (default: $HUBVER_REPO, then [tool.hubver] repo).",
    )
    @click.option(
        "--endpoint",
        metavar="URL",
        help="Hub URL (default: $HUBVER_ENDPOINT, $HF_ENDPOINT, config, then https://huggingface.co).",
    )
    @click.option(
        "--local", is_flag=True, help="Use the embedded hub in $HUBVER_HOME/hub (no account, no network)."
    )
    @click.option("--token", metavar="TOKEN", help="Hub token (default: $HF_TOKEN or your `hf auth login`).")
    @click.option("--branch", metavar="BRANCH", help="Branch that holds the versions (default: main).")
    @click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
    @functools.wraps(func)
    def wrapper(
        repo: str | None,
        endpoint: str | None,
        local: bool,
        token: str | None,
        branch: str | None,
        as_json: bool,
        **kwargs: Any,
    ) -> Any:
        from ..settings import resolve_settings

        settings = resolve_settings(repo=repo, endpoint=endpoint, local=local, token=token, branch=branch)
        ctx = click.get_current_context()
        ctx.meta["hubver.secrets"] = {token} if token else set()
        ctx.meta["hubver.flags"] = {
            "repo": repo,
            "endpoint": endpoint,
            "local": local or None,
            "branch": branch,
        }
        return func(settings=settings, as_json=as_json, **kwargs)

    return wrapper


def emit_json(data: Any) -> None:
    """Strict JSON (RFC 8259): a NaN someone wrote into the Hub's files is printed as null."""
    from ..jsonio import finite

    click.echo(
        json.dumps(finite(data), indent=2, sort_keys=True, default=str, ensure_ascii=False, allow_nan=False)
    )


def text_list(value: Any) -> list[str]:
    """A list of names from metadata written by anyone: a string is one name, other types none."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [safe(v) for v in value if isinstance(v, (str, int, float))]
    return []


def obj(value: Any) -> dict[str, Any]:
    """`value` if it is a JSON object, else empty (hubver.json edited on the Hub may hold anything)."""
    return value if isinstance(value, dict) else {}


def warn(message: str) -> None:
    click.secho(f"Warning: {safe(message)}", fg="yellow", err=True)
