"""`hubver checkout`: a version's files in a directory, sha256-checked."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import click

from ..settings import Settings
from .common import emit_json, repo_options


@click.command()
@click.argument("version", required=False)
@repo_options
@click.option(
    "--to", "target", type=click.Path(path_type=Path), help="Target directory (default: ./NAME-VERSION)."
)
@click.option("--force", is_flag=True, help="Replace the contents of a non-empty target directory.")
@click.option("--unchecked", is_flag=True, help="Read it even if it fails the integrity check (forensics).")
@click.option(
    "--lock",
    "lock_file",
    type=click.Path(path_type=Path),
    help="Check out exactly what this lockfile pins (VERSION picks one of several).",
)
@click.option(
    "--link",
    is_flag=True,
    help="Hard-link the files to the HF cache (read-only; no byte copied), even as root.",
)
@click.option(
    "--copy",
    "copy_files",
    is_flag=True,
    help="Independent copies you can edit in place (reflinks where the filesystem has them).",
)
def checkout(
    settings: Settings,
    as_json: bool,
    version: str | None,
    target: Path | None,
    force: bool,
    unchecked: bool,
    lock_file: Path | None,
    link: bool,
    copy_files: bool,
) -> None:
    """Download exactly VERSION's files into a directory, sha256-checked.

    VERSION is a version id, an alias, latest, best:METRIC, min:METRIC, max:METRIC, ALIAS@DATE
    or SEL~N (see `hubver resolve --help`).

    Files come from the HF cache: by default as read-only hard links (no byte copied; a copy
    for root, whom read-only files do not stop, or across filesystems), or reflinks where the
    filesystem has them. Pass --copy for files you will rewrite in place (`save_pretrained`
    into the same directory would otherwise fail with "Permission denied").
    """
    from ..registry import connect

    if link and copy_files:
        raise click.UsageError("--link and --copy contradict each other: pass one of them.")
    place = "link" if link else "copy" if copy_files else "auto"
    if lock_file is not None:
        from ..lockfile import read_lock

        pinned = read_lock(lock_file)
        if unchecked:
            raise click.UsageError("--lock checks everything: it cannot be combined with --unchecked.")
        settings = replace(settings, repo=pinned.pick(version, f"the lockfile {lock_file}").repo)
        with connect(settings=settings) as registry:
            result = registry.checkout(
                version or "", target, force=force, quiet=as_json, lock=pinned, place=place
            )
    elif version is None:
        raise click.UsageError("Name the VERSION to check out, or pass --lock FILE.")
    else:
        with connect(settings=settings) as registry:
            result = registry.checkout(
                version, target, force=force, quiet=as_json, unchecked=unchecked, place=place
            )
    if as_json:
        emit_json(result.to_dict())
        return
    click.echo(
        f"Checked out {result.version} of {result.repo} (commit {result.commit[:12]}) into {result.path}"
    )
    how = {"hardlink": ", read-only hard links to the HF cache (--copy to edit in place)"}
    click.echo(
        f"  {len(result.files)} file(s), {result.verified} verified against the manifest"
        + how.get(result.placed, "")
    )
    if link and result.placed != "hardlink":
        click.echo(
            f"  {result.placed}, not hard links: the HF cache ({result.cache_dir}) cannot be linked from "
            "there (another filesystem?)",
            err=True,
        )
    if result.checked_against != "the Hub":
        click.echo(f"  checked against {result.checked_against}: the Hub could not be asked", err=True)


COMMANDS = [checkout]
