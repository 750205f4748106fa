"""Commands that read versions: list, show, diff."""

from __future__ import annotations

import click

from ..formatting import fmt, safe, table
from ..settings import Settings
from .common import emit_json, obj, repo_options, text_list, warn


@click.command("list")
@repo_options
@click.option("--sort", metavar="METRIC", help="Order by a metric (prefix '-' for descending).")
@click.option("--limit", type=int, help="Show at most N versions (the newest, or the best with --sort).")
@click.option("--all", "show_all", is_flag=True, help="Show pruned versions too (marked as pruned).")
def list_(settings: Settings, as_json: bool, sort: str | None, limit: int | None, show_all: bool) -> None:
    """List the versions, with their metrics and aliases."""
    from ..registry import connect
    from ..registry.browse import sort_versions
    from ..training import key_metric_names

    with connect(settings=settings) as registry:
        listing = registry.listing()
    shown = listing.versions
    if show_all and listing.pruned:
        order = {e["version"]: i for i, e in enumerate(listing.entries) if "pruned" not in e}
        shown = sorted([*listing.versions, *listing.pruned], key=lambda v: order.get(v.version, len(order)))
    versions = sort_versions(shown, sort, limit)
    for problem in listing.problems:
        warn(problem)
    if as_json:
        emit_json([v.to_dict() for v in versions])
        return
    if not versions:
        click.echo(
            f"No versions in {listing.repo} yet. Publish one with `hubver push DIR --repo {listing.repo}`."
        )
        return
    metric_names = key_metric_names({k for v in versions for k in v.metrics})
    rows = [
        [
            v.version,
            (v.created_at or "")[:16].replace("T", " "),
            "(pruned)" if v.pruned else v.short_commit or "(no tag)",
            ",".join(v.aliases),
            *[fmt(v.metrics.get(m)) for m in metric_names],
            (v.message.splitlines() or [""])[0][:60] if v.message else "",
        ]
        for v in versions
    ]
    click.echo(
        table(rows, ["VERSION", "DATE", "COMMIT", "ALIASES", *[m.upper() for m in metric_names], "MESSAGE"])
    )
    for v in versions:
        if v.pruned:
            click.echo(
                f"  {safe(v.version)} pruned by {fmt(v.pruned.get('by'))} at {fmt(v.pruned.get('at'))}: "
                f"{fmt(v.pruned.get('reason'))}"
            )
        for problem in v.problems:
            warn(f"{v.version}: {problem}")


@click.command()
@click.argument("version")
@repo_options
@click.option("--unchecked", is_flag=True, help="Read it even if it fails the integrity check (forensics).")
def show(settings: Settings, as_json: bool, version: str, unchecked: bool) -> None:
    """Show one version: metadata, files and model card summary.

    VERSION is a version id, an alias or a selector (see `hubver resolve --help`).
    """
    from ..registry import connect
    from ..training import key_hyperparameters

    with connect(settings=settings) as registry:
        detail = registry.show(version, unchecked=unchecked)
    if as_json:
        emit_json(detail.to_dict())
        return
    # hubver.json may have been edited on the Hub by anyone: every value is shown whatever its type.
    m = detail.metadata
    info = detail.info
    click.echo(f"{safe(settings.repo)} {safe(info.version)}  commit {info.commit}")
    if info.aliases:
        click.echo(f"aliases:   {', '.join(map(safe, info.aliases))}")
    click.echo(f"created:   {fmt(m.get('created_at'))} by {fmt(m.get('created_by'))}")
    if m.get("message"):
        click.echo(f"message:   {fmt(m['message'])}")
    click.echo(f"kind:      {fmt(m.get('kind'))}")
    base = obj(m.get("base_model"))
    if base:
        click.echo(
            f"base:      {fmt(base.get('name'))} @ {fmt(base.get('revision') or 'unrecorded revision')}"
        )
    peft = obj(m.get("peft"))
    if peft:
        click.echo(
            f"peft:      {fmt(peft.get('peft_type'))} r={fmt(peft.get('r'))} alpha={fmt(peft.get('lora_alpha'))} "
            f"dropout={fmt(peft.get('lora_dropout'))} targets={','.join(text_list(peft.get('target_modules')))}"
        )
    metrics = obj(m.get("metrics"))
    if metrics:
        click.echo("metrics:")
        for k, v in sorted(metrics.items()):
            click.echo(f"  {safe(k)}: {fmt(v)}")
    hyper = obj(obj(m.get("training")).get("hyperparameters"))
    if hyper:
        shown = key_hyperparameters(hyper)
        click.echo("hyperparameters:")
        for k, v in shown.items():
            click.echo(f"  {safe(k)}: {fmt(v)}")
        if len(hyper) > len(shown):
            click.echo(
                f"  ... {len(hyper) - len(shown)} more in hubver.json (`hubver show {safe(version)} --json`)"
            )
    code = obj(m.get("code"))
    if isinstance(code.get("commit"), str):
        click.echo(
            f"code:      {safe(code['commit'][:12])}{' (dirty)' if code.get('dirty') else ''} "
            f"{fmt(code.get('remote') or '')}"
        )
    ci = obj(m.get("ci"))
    if ci.get("run_url"):
        pr = obj(ci.get("pull_request"))
        click.echo(
            f"ci:        {fmt(ci['run_url'])}"
            + (f"  PR #{fmt(pr.get('number'))} {fmt(pr.get('title'))}" if pr else "")
        )
    click.echo("files:")
    files = m.get("files")
    for f in files if isinstance(files, list) else []:
        f = obj(f)
        click.echo(f"  {fmt(f.get('path'))}  {fmt(f.get('size'))} bytes  sha256:{fmt(f.get('sha256'))[:12]}")
    card = detail.card
    if card:
        tags = ", ".join(text_list(card.get("tags")))
        click.echo(
            f"card:      library={fmt(card.get('library_name'))} base_model={fmt(card.get('base_model'))} tags={tags}"
        )


@click.command()
@click.argument("a")
@click.argument("b")
@repo_options
@click.option("--unchecked", is_flag=True, help="Read it even if it fails the integrity check (forensics).")
def diff(settings: Settings, as_json: bool, a: str, b: str, unchecked: bool) -> None:
    """Compare versions A and B (LoRA ranks are read from the weights).

    A and B are version ids, aliases or selectors: `hubver diff latest~1 latest`.
    """
    from ..registry import connect
    from ..training import RUN_LOCAL_ARGS, is_noise_metric

    with connect(settings=settings) as registry:
        d = registry.diff(a, b, unchecked=unchecked)
    if as_json:
        emit_json(d.to_dict())
        return
    click.echo(f"{safe(d.repo)}: {safe(d.a)} ({d.commits[0][:8]}) -> {safe(d.b)} ({d.commits[1][:8]})")
    if d.base_model[0] != d.base_model[1]:
        click.echo(f"base model: {fmt(d.base_model[0])} -> {fmt(d.base_model[1])}")
    if d.lora_rank != (None, None):
        click.echo(f"LoRA rank (from weights): {fmt(d.lora_rank[0])} -> {fmt(d.lora_rank[1])}")
        for module, (ra, rb) in d.lora_ranks.items():
            click.echo(f"  {safe(module)}: {fmt(ra)} -> {fmt(rb)}")
    for problem in d.problems:
        warn(problem)
    hyper = {k: v for k, v in d.hyperparameters.items() if k not in RUN_LOCAL_ARGS}
    sections = [
        ("PEFT config", d.peft),
        ("hyperparameters", hyper),
        ("data", d.dataset),
        ("code", d.code),
    ]
    for title, changes in sections:
        if changes:
            click.echo(f"{title}:")
            for k, (va, vb) in changes.items():
                click.echo(f"  {safe(k)}: {fmt(va)} -> {fmt(vb)}")
    metrics = {k: v for k, v in d.metrics.items() if not is_noise_metric(k)}
    if metrics:
        click.echo("metrics:")
        for k, (va, vb, delta) in metrics.items():
            change = f" ({delta:+.4g})" if delta is not None else ""
            click.echo(f"  {safe(k)}: {fmt(va)} -> {fmt(vb)}{change}")
    if d.files_added or d.files_removed or d.files_changed:
        click.echo("files:")
        for f in d.files_added:
            click.echo(f"  + {fmt(f.get('path'))} ({fmt(f.get('size'))} bytes)")
        for f in d.files_removed:
            click.echo(f"  - {fmt(f.get('path'))} ({fmt(f.get('size'))} bytes)")
        for f in d.files_changed:
            click.echo(f"  ~ {fmt(f['path'])} ({fmt(f['size_a'])} -> {fmt(f['size_b'])} bytes)")
    else:
        click.echo("files: identical")


@click.command()
@click.argument("selector")
@repo_options
def resolve(settings: Settings, as_json: bool, selector: str) -> None:
    """Print the version and commit SELECTOR names.

    SELECTOR: a version id, an alias, latest, best:METRIC, min:METRIC, max:METRIC,
    ALIAS@DATE (production@2026-01-31, a date meaning the end of that day UTC) or SEL~N
    (v5~2, latest~1, production~1: N versions before).
    """
    from ..registry import connect

    with connect(settings=settings) as registry:
        got = registry.select(selector)
    if as_json:
        emit_json(got.to_dict())
        return
    click.echo(f"{safe(got.version)} {got.commit}")
    if got.how:
        click.echo(f"  {safe(got.how)}", err=True)


COMMANDS = [list_, show, diff, resolve]
