"""`hubver lock`: pin selected versions, by commit and sha256, in a lockfile."""

from __future__ import annotations

from pathlib import Path

import click

from ..formatting import safe
from ..settings import Settings
from .common import emit_json, repo_options


@click.command()
@click.argument("selectors", nargs=-1)
@repo_options
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    default=Path("hubver.lock"),
    show_default=True,
    help="Where to write the lockfile.",
)
def lock(settings: Settings, as_json: bool, selectors: tuple[str, ...], output: Path) -> None:
    """Pin SELECTORS (default: latest) in a lockfile: version, commit, base model, every file's sha256.

    Each SELECTOR is a version id, an alias, latest, best:METRIC, min:METRIC, max:METRIC,
    ALIAS@DATE or SEL~N. Use the lock with `hubver checkout --lock`, `hubver verify --lock`
    (offline) and `hubver.load(lock=...)`. docs/lockfile.md describes the format.
    """
    from ..lockfile import write_lock
    from ..registry import connect

    with connect(settings=settings) as registry:
        pinned = registry.lock(list(selectors) or None)
    path = write_lock(pinned, output)
    if as_json:
        emit_json({"path": str(path), **pinned.to_dict()})
        return
    for v in pinned.versions:
        base = f", base {safe(v.base_model.name)}" if v.base_model else ""
        click.echo(
            f"Locked {safe(v.repo)} {safe(v.version)} ({safe(v.selector)}) at {v.commit[:12]}: "
            f"{len(v.files)} file(s){base}"
        )
    click.echo(f"Wrote {path}")


COMMANDS = [lock]
