"""`hubver prune`: keep the best and the last versions, drop the rest (a dry run unless --yes)."""

from __future__ import annotations

import click

from ..formatting import safe
from ..settings import Settings
from .common import emit_json, repo_options, warn


def _bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1000 or unit == "TB":
            return f"{n} B" if unit == "B" else f"{size:.1f} {unit} ({n} B)"
        size /= 1000
    return f"{n} B"


@click.command()
@repo_options
@click.option("--keep-last", type=click.IntRange(min=0), metavar="N", help="Keep the N newest versions.")
@click.option(
    "--keep-best",
    multiple=True,
    metavar="METRIC[:K]",
    help="Keep the K best versions by METRIC (default 1; lower is better for losses, errors, ...; "
    "min:METRIC or max:METRIC says the direction). Repeatable.",
)
@click.option(
    "--older-than", metavar="DURATION", help="Prune only versions older than this (30d, 12h, 90m, 2w)."
)
@click.option("--keep-promoted-ever", is_flag=True, help="Also keep every version an alias ever pointed at.")
@click.option("--reason", help="Why (recorded in each tombstone; default: the policy).")
@click.option("--yes", "--apply", "apply", is_flag=True, help="Carry the plan out (default: only print it).")
@click.option(
    "--reclaim",
    is_flag=True,
    help="Also delete, for good, the LFS files only the pruned versions referenced (needs --yes).",
)
def prune(
    settings: Settings,
    as_json: bool,
    keep_last: int | None,
    keep_best: tuple[str, ...],
    older_than: str | None,
    keep_promoted_ever: bool,
    reason: str | None,
    apply: bool,
    reclaim: bool,
) -> None:
    """Prune old versions: their tags go, a tombstone in the index says who, when and why.

    Versions an alias points at, and the latest, are always kept. Without --yes, prints the
    plan (kept and why, pruned) and the bytes --reclaim would free.
    """
    from ..errors import ConfigError
    from ..registry import connect
    from ..registry.prune import RECLAIM_WARNING, PrunePolicy

    if reclaim and not apply:
        raise ConfigError("--reclaim deletes files for good: it needs --yes.", "Add --yes to carry it out.")
    policy = PrunePolicy.of(
        keep_last=keep_last,
        keep_best=list(keep_best),
        older_than=older_than,
        keep_promoted_ever=keep_promoted_ever,
        reason=reason,
    )
    if reclaim and not as_json:
        warn(RECLAIM_WARNING)
    with connect(settings=settings) as registry:
        result = registry.prune(policy, apply=apply, reclaim=reclaim)
    if as_json:
        emit_json(result.to_dict())
        return
    for w in result.warnings:
        if w != RECLAIM_WARNING:
            warn(w)
    click.echo(f"{safe(result.repo)}@{safe(result.branch)}: {result.policy}")
    for d in result.kept:
        click.echo(f"  keep   {safe(d.version):<12} {'; '.join(map(safe, d.reasons))}")
    for d in result.pruned:
        click.echo(f"  prune  {safe(d.version):<12} {'; '.join(map(safe, d.reasons))}")
    n = len(result.pruned)
    click.echo(
        f"{len(result.kept)} kept, {n} {'pruned' if result.applied else 'to prune'}; "
        f"{_bytes(result.reclaimable_bytes)} in {len(result.reclaimable_objects)} LFS object(s) "
        "only the pruned versions reference."
    )
    if not result.applied:
        if n:
            click.echo(
                "Dry run: nothing changed. Run again with --yes to prune (and --reclaim to free the bytes)."
            )
        return
    if result.commit:
        click.echo(
            f"Tombstones committed ({result.commit[:12]}); tags deleted: {', '.join(result.tags_deleted)}."
        )
    if reclaim:
        click.echo(
            f"Reclaimed {_bytes(result.reclaimed_bytes)} ({len(result.reclaimed_objects)} LFS object(s))."
        )


COMMANDS = [prune]
