"""`hubver verify`: is every version what was published?"""

from __future__ import annotations

from pathlib import Path

import click

from ..settings import Settings
from .common import emit_json, repo_options


@click.command()
@click.argument("version", required=False)
@repo_options
@click.option("--repair", is_flag=True, help="Create tags that an interrupted push left missing.")
@click.option("--deep", is_flag=True, help="Also download and hash every file of every version.")
@click.option(
    "--lock",
    "lock_file",
    type=click.Path(path_type=Path),
    help="Offline: check the HF cache against this lockfile (no Hub needed).",
)
def verify(
    settings: Settings, as_json: bool, version: str | None, repair: bool, deep: bool, lock_file: Path | None
) -> None:
    """Check that VERSION (default: all) is intact: tag, commit, content, index chain, aliases.

    VERSION may be a selector (latest, best:METRIC, ALIAS@DATE, SEL~N, ...). With --lock, no Hub
    is asked: each file the lock pins is hashed in the local HF cache (ok, missing or modified).
    """
    from ..registry import connect

    if lock_file is not None:
        _verify_lock(lock_file, version, as_json)
        return

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


def _verify_lock(lock_file: Path, version: str | None, as_json: bool) -> None:
    from ..formatting import safe
    from ..lockfile import Lock, read_lock, verify_lock

    pinned = read_lock(lock_file)
    if version is not None:
        pinned = Lock(
            pinned.endpoint, pinned.created_at, pinned.generated_by, (pinned.pick(version, str(lock_file)),)
        )
    checks = verify_lock(pinned)
    if as_json:
        emit_json([c.to_dict() for c in checks])
    else:
        for c in checks:
            status = "ok" if c.ok else "FAILED"
            click.echo(
                f"{safe(c.repo)} {safe(c.version)} ({c.commit[:12]}): {status}  {len(c.files)} file(s)"
            )
            for f in c.files:
                line = f"  {safe(f.path)}: {f.status}" + (f" ({f.detail})" if f.detail else "")
                if f.status == "ok":
                    click.echo(line)
                else:
                    click.secho(line, fg="red", err=True)
            for note in c.notes:
                click.echo(f"  note: {note}")
    if any(not c.ok for c in checks):
        raise SystemExit(1)


COMMANDS = [verify]
