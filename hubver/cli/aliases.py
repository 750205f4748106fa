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
@click.option(
    "--require",
    multiple=True,
    metavar="COND",
    help="Promote only if the version's metric meets COND, e.g. 'eval_loss<=1.2' (<, <=, >, >=, ==, !=). Repeatable.",
)
@click.option(
    "--require-better",
    multiple=True,
    metavar="METRIC",
    help="Promote only if METRIC beats the alias's current version (lower is better for losses; "
    "min:METRIC or max:METRIC says the direction). Repeatable.",
)
def promote(
    settings: Settings,
    as_json: bool,
    version: str,
    alias: str,
    require: tuple[str, ...],
    require_better: tuple[str, ...],
) -> None:
    """Point ALIAS (e.g. production) at VERSION; rollback is promoting an older one.

    VERSION may be a selector: `hubver promote best:eval_loss production`, or
    `hubver promote production~1 production` to roll back one version.
    """
    from ..ci import gate_markdown, gate_outputs, in_github_actions, write_outputs, write_summary
    from ..errors import GateFailed
    from ..redact import known_secrets
    from ..registry import connect

    with connect(settings=settings) as registry:
        try:
            p = registry.promote(version, alias, require=require, require_better=require_better)
        except GateFailed as e:
            if in_github_actions():  # the verdict is an outcome the workflow reads, not only an error
                write_outputs(gate_outputs(False, e.verdict))
                write_summary(
                    gate_markdown(registry.repo, version, alias, False, e.verdict),
                    known_secrets([settings.token]),
                )
            raise
    if in_github_actions():
        write_outputs(gate_outputs(True, p.gate))
        write_summary(gate_markdown(p.repo, version, alias, True, p.gate), known_secrets([settings.token]))
    if as_json:
        emit_json(p.to_dict())
        return
    if p.gate:
        click.echo(f"gate passed: {p.gate['summary']}")
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
