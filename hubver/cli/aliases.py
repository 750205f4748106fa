"""Commands on aliases: promote, aliases, history."""

from __future__ import annotations

import click

from ..formatting import table
from ..settings import Settings
from .common import emit_json, repo_options


@click.command()
@click.argument("version")
@click.argument("alias")
@repo_options
def promote(settings: Settings, as_json: bool, version: str, alias: str) -> None:
    """Point ALIAS (e.g. production) at VERSION; rollback is promoting an older one.

    VERSION may be a selector: `hubver promote best:eval_loss production`, or
    `hubver promote production~1 production` to roll back one version.
    """
    from ..registry import connect

    with connect(settings=settings) as registry:
        p = registry.promote(version, alias)
    if as_json:
        emit_json(p.to_dict())
        return
    if not p.changed:
        click.echo(f"{alias} already points at {p.version}.")
        return
    click.echo(f"{alias}: {p.previous or '(new)'} -> {p.version}  (commit {(p.commit or '')[:12]})")
    click.echo(f'  load: from_pretrained("{p.repo}", revision="{alias}")')


@click.command()
@repo_options
def aliases(settings: Settings, as_json: bool) -> None:
    """List the aliases and the version each points at."""
    from ..registry import connect

    with connect(settings=settings) as registry:
        rows = registry.aliases()
    if as_json:
        emit_json(rows)
        return
    if not rows:
        click.echo("No aliases yet. Create one with `hubver promote VERSION ALIAS`.")
        return
    click.echo(
        table(
            [[r["alias"], r["version"], r["promoted_by"] or "", (r["promoted_at"] or "")[:16]] for r in rows],
            ["ALIAS", "VERSION", "PROMOTED BY", "AT"],
        )
    )


@click.command()
@click.argument("alias")
@repo_options
def history(settings: Settings, as_json: bool, alias: str) -> None:
    """Show every promotion of ALIAS: who, when, from which version to which."""
    from ..registry import connect

    with connect(settings=settings) as registry:
        records = registry.alias_history(alias)
    if as_json:
        emit_json(records)
        return
    click.echo(
        table(
            [
                [(r.get("at") or "")[:19], r.get("from") or "-", r.get("to"), r.get("by") or ""]
                for r in records
            ],
            ["AT", "FROM", "TO", "BY"],
        )
    )


COMMANDS = [promote, aliases, history]
