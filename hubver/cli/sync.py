"""`hubver sync SRC DST`: copy the versions one hub lacks from another."""

from __future__ import annotations

import click

from .common import emit_json


@click.command()
@click.argument("src")
@click.argument("dst")
@click.option(
    "--repo", "-r", "repos", multiple=True, metavar="NS/NAME", help="Repository to sync (repeatable)."
)
@click.option("--to-repo", metavar="NS/NAME", help="Name of the repository on DST (one --repo only).")
@click.option("--branch", metavar="BRANCH", help="Branch that holds the versions (default: main).")
@click.option(
    "--aliases", "with_aliases", is_flag=True, help="Also copy the aliases and their promotion history."
)
@click.option("--dry-run", is_flag=True, help="Show what would be copied; change nothing.")
@click.option(
    "--src-token", metavar="TOKEN", help="Token for SRC (default: $HUBVER_SRC_TOKEN, then as usual)."
)
@click.option(
    "--dst-token", metavar="TOKEN", help="Token for DST (default: $HUBVER_DST_TOKEN, then as usual)."
)
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def sync(
    src: str,
    dst: str,
    repos: tuple[str, ...],
    to_repo: str | None,
    branch: str | None,
    with_aliases: bool,
    dry_run: bool,
    src_token: str | None,
    dst_token: str | None,
    as_json: bool,
) -> None:
    """Copy to DST the versions of each --repo that DST lacks, in order, each one commit + its tag.

    SRC and DST are `local` (the embedded hub in $HUBVER_HOME), `hf` (huggingface.co) or a hub URL.
    Running it again copies only what is new; a sync that was interrupted finishes where it stopped.
    """
    import os

    from ..registry.sync import sync as run

    ctx = click.get_current_context()
    ctx.meta["hubver.secrets"] = {
        t
        for t in (
            src_token,
            dst_token,
            os.environ.get("HUBVER_SRC_TOKEN"),
            os.environ.get("HUBVER_DST_TOKEN"),
        )
        if t
    }
    result = run(
        src,
        dst,
        list(repos),
        to_repo=to_repo,
        aliases=with_aliases,
        dry_run=dry_run,
        src_token=src_token,
        dst_token=dst_token,
        branch=branch,
    )
    if as_json:
        emit_json(result.to_dict())
        return
    would = "would copy" if dry_run else "copied"
    for r in result.repos:
        name = r.repo if r.to_repo == r.repo else f"{r.repo} -> {r.to_repo}"
        if r.nothing_to_do:
            click.echo(f"{name}: nothing to do ({len(r.already)} version(s) already on {result.dst}).")
        else:
            click.echo(f"{name}: {would} {len(r.copied)} version(s) to {result.dst}")
        for v in r.repaired:
            click.echo(f"  {v}: tag repaired (an earlier sync or push stopped before it)")
        for c in r.copied:
            files = f"{len(c.uploaded)} file(s) to send" if dry_run else f"{len(c.uploaded)} file(s) sent"
            extra = f", {len(c.present)} already there" if c.present else ""
            at = f"  commit {c.commit[:12]}" if c.commit else ""
            click.echo(f"  {c.version}: {files}{extra}, {len(c.unchanged)} unchanged{at}")
        for a in r.aliases:
            if a.changed:
                click.echo(
                    f"  alias {a.alias} -> {a.version} ({a.promotions} promotion(s)){'' if dry_run else ' synced'}"
                )
        if r.only_on_dst:
            click.echo(f"  kept on DST only: {', '.join(r.only_on_dst)}")


COMMANDS = [sync]
