"""`hubver verify`: is every version what was published?"""

from __future__ import annotations

import click

from ..settings import Settings
from .common import emit_json, repo_options


@click.command()
@click.argument("version", required=False)
@repo_options
@click.option("--repair", is_flag=True, help="Create tags that an interrupted push left missing.")
@click.option("--deep", is_flag=True, help="Also download and hash every file of every version.")
def verify(settings: Settings, as_json: bool, version: str | None, repair: bool, deep: bool) -> None:
    """Check that VERSION (default: all) is intact: tag, commit, content, index chain, aliases."""
    from ..registry import connect

    with connect(settings=settings) as registry:
        reports = registry.verify(version, repair=repair, deep=deep)
    if as_json:
        emit_json([r.to_dict() for r in reports])
    else:
        for r in reports:
            status = "ok" if r.ok else "FAILED"
            extra = " (tag repaired)" if r.repaired else ""
            click.echo(f"{r.version}: {status}{extra}  {r.files_checked} file(s) checked")
            for problem in r.problems:
                click.secho(f"  {problem}", fg="red", err=True)
            for note in r.notes:
                click.echo(f"  note: {note}")
    if any(not r.ok for r in reports):
        raise SystemExit(1)


COMMANDS = [verify]
