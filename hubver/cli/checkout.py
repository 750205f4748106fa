"""`hubver checkout`: a version's files in a directory, sha256-checked."""

from __future__ import annotations

from pathlib import Path

import click

from ..settings import Settings
from .common import emit_json, repo_options


@click.command()
@click.argument("version")
@repo_options
@click.option(
    "--to", "target", type=click.Path(path_type=Path), help="Target directory (default: ./NAME-VERSION)."
)
@click.option("--force", is_flag=True, help="Replace the contents of a non-empty target directory.")
@click.option("--unchecked", is_flag=True, help="Read it even if it fails the integrity check (forensics).")
def checkout(
    settings: Settings, as_json: bool, version: str, target: Path | None, force: bool, unchecked: bool
) -> None:
    """Download exactly VERSION's files into a directory, sha256-checked."""
    from ..registry import connect

    with connect(settings=settings) as registry:
        result = registry.checkout(version, target, force=force, quiet=as_json, unchecked=unchecked)
    if as_json:
        emit_json(result.to_dict())
        return
    click.echo(
        f"Checked out {result.version} of {result.repo} (commit {result.commit[:12]}) into {result.path}"
    )
    click.echo(f"  {len(result.files)} file(s), {result.verified} verified against the manifest")
    if result.checked_against != "the Hub":
        click.echo(f"  checked against {result.checked_against}: the Hub could not be asked", err=True)


COMMANDS = [checkout]
