"""What every hubver command shares: repository options, settings, and output."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

import click


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
    def wrapper(repo, endpoint, local, token, branch, as_json, **kwargs):
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
    click.echo(json.dumps(data, indent=2, sort_keys=True, default=str, ensure_ascii=False))


def table(rows: list[list[Any]], headers: list[str]) -> str:
    cells = [[("" if c is None else str(c)) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    return "\n".join(lines)


def fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if value is None:
        return "-"
    return str(value)


def warn(message: str) -> None:
    click.secho(f"Warning: {message}", fg="yellow", err=True)
