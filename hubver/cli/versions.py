"""Commands on versions: push, list, show, diff, checkout, verify."""

from __future__ import annotations

from pathlib import Path

import click

from .common import emit_json, fmt, repo_options, table, warn


@click.command()
@click.argument("directory", required=False, default=".", type=click.Path(path_type=Path))
@repo_options
@click.option(
    "--version", "version_id", metavar="ID", help="Version id to use (default: the next one of --scheme)."
)
@click.option(
    "--scheme",
    type=click.Choice(["counter", "timestamp", "semver"]),
    default="counter",
    show_default=True,
    help="How the next version id is chosen: v1, v2...; v_YYYYMMDD_HHMMSS; or vX.Y.Z.",
)
@click.option(
    "--bump", type=click.Choice(["major", "minor", "patch"]), help="Part to bump with --scheme semver."
)
@click.option("--message", "-m", help="What changed in this run; shown in `hubver list` and the card.")
@click.option("--private", is_flag=True, help="Create the repository as private if it does not exist.")
@click.option(
    "--metric", "metrics", multiple=True, metavar="NAME=VALUE", help="A metric to record (repeatable)."
)
@click.option("--metrics-file", type=click.Path(path_type=Path), help="JSON file of metrics to record.")
@click.option(
    "--param", "params", multiple=True, metavar="NAME=VALUE", help="A hyperparameter to record (repeatable)."
)
@click.option(
    "--dataset", metavar="NAME[@REV]|FILE", help="Training data: a Hub data set id or a local file (hashed)."
)
@click.option("--num-samples", type=int, help="Number of training samples.")
@click.option(
    "--base-model", metavar="ID[@REV]", help="Base model to record (and write into adapter_config.json)."
)
@click.option("--template", type=click.Path(path_type=Path), help="Your own Jinja2 model card template.")
@click.option(
    "--exclude", "excludes", multiple=True, metavar="GLOB", help="Leave out matching files (repeatable)."
)
@click.option("--dry-run", is_flag=True, help="Show what would be uploaded and the card; change nothing.")
def push(settings, as_json, directory, version_id, scheme, bump, message, private, metrics, metrics_file, params,
         dataset, num_samples, base_model, template, excludes, dry_run):  # fmt: skip
    """Publish DIRECTORY (default: .) as a new version."""
    from ..ci import in_github_actions, step_outputs, summary_markdown, write_outputs, write_summary
    from ..publish import push as do_push
    from ..redact import known_secrets
    from ..training import parse_pairs

    result = do_push(
        directory,
        version=version_id,
        scheme=scheme,
        bump=bump,
        message=message,
        private=private,
        metrics=parse_pairs(metrics, "metric", numeric=True),
        metrics_file=metrics_file,
        params=parse_pairs(params, "param", numeric=False),
        dataset=dataset,
        num_samples=num_samples,
        base_model=base_model,
        template=template,
        excludes=tuple(excludes),
        dry_run=dry_run,
        settings=settings,
    )
    if not dry_run and in_github_actions():
        write_outputs(step_outputs(result))
        write_summary(summary_markdown(result), known_secrets([settings.token]))
    if as_json:
        data = result.to_dict()
        if dry_run:
            data["card"] = result.card
            data["metadata"] = result.metadata
        emit_json(data)
        return
    for version in result.repaired:
        warn(f"repaired the missing tag of {version} (an earlier push stopped after its commit)")
    if dry_run:
        click.echo(f"Dry run: would publish {result.version} of {result.repo} (branch {result.branch}).")
        for path in result.uploaded:
            click.echo(f"  upload  {path}")
        for path in result.unchanged:
            click.echo(f"  same    {path}")
        for path in result.deleted:
            click.echo(f"  delete  {path}")
        for path, reason in result.skipped:
            click.echo(f"  skip    {path} ({reason})")
        click.echo("\n--- README.md ---\n" + (result.card or ""))
        return
    if not result.created:
        click.echo(
            f"No new version: {result.reason}: {result.version} (commit {fmt((result.commit or '')[:12])})."
        )
        click.echo(f"  url: {result.url}")
        return
    click.echo(f"Published {result.version} of {result.repo} (commit {result.commit[:12]}).")
    click.echo(
        f"  {len(result.uploaded)} file(s) uploaded, {len(result.unchanged)} unchanged, {len(result.deleted)} removed"
    )
    click.echo(f"  url: {result.url}")
    click.echo(f'  load: from_pretrained("{result.repo}", revision="{result.version}")')


@click.command("list")
@repo_options
@click.option("--sort", metavar="METRIC", help="Order by a metric (prefix '-' for descending).")
@click.option("--limit", type=int, help="Show at most N versions (the newest, or the best with --sort).")
def list_(settings, as_json, sort, limit):
    """List the versions, with their metrics and aliases."""
    from ..training import key_metric_names
    from ..versions import read_listing, session, sort_versions

    with session(settings) as (s, repo, hub):
        listing = read_listing(hub, repo, s.branch)
    versions = sort_versions(listing.versions, sort, limit)
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
            v.short_commit or "(no tag)",
            ",".join(v.aliases),
            *[fmt(v.metrics.get(m)) for m in metric_names],
            (v.message or "").splitlines()[0][:60] if v.message else "",
        ]
        for v in versions
    ]
    click.echo(
        table(rows, ["VERSION", "DATE", "COMMIT", "ALIASES", *[m.upper() for m in metric_names], "MESSAGE"])
    )
    for v in versions:
        for problem in v.problems:
            warn(f"{v.version}: {problem}")


@click.command()
@click.argument("version")
@repo_options
@click.option("--unchecked", is_flag=True, help="Read it even if it fails the integrity check (forensics).")
def show(settings, as_json, version, unchecked):
    """Show one version: metadata, files and model card summary."""
    from ..training import key_hyperparameters
    from ..versions import get_version

    detail = get_version(version=version, settings=settings, unchecked=unchecked)
    if as_json:
        emit_json(detail.to_dict())
        return
    m = detail.metadata
    info = detail.info
    click.echo(f"{settings.repo} {info.version}  commit {info.commit}")
    if info.aliases:
        click.echo(f"aliases:   {', '.join(info.aliases)}")
    click.echo(f"created:   {m.get('created_at')} by {m.get('created_by')}")
    if m.get("message"):
        click.echo(f"message:   {m['message']}")
    click.echo(f"kind:      {m.get('kind')}")
    base = m.get("base_model") or {}
    if base:
        click.echo(f"base:      {base.get('name')} @ {base.get('revision') or 'unrecorded revision'}")
    peft = m.get("peft") or {}
    if peft:
        click.echo(
            f"peft:      {peft.get('peft_type')} r={peft.get('r')} alpha={peft.get('lora_alpha')} "
            f"dropout={peft.get('lora_dropout')} targets={','.join(peft.get('target_modules') or [])}"
        )
    if m.get("metrics"):
        click.echo("metrics:")
        for k, v in sorted(m["metrics"].items()):
            click.echo(f"  {k}: {fmt(v)}")
    hyper = (m.get("training") or {}).get("hyperparameters") or {}
    if hyper:
        shown = key_hyperparameters(hyper)
        click.echo("hyperparameters:")
        for k, v in shown.items():
            click.echo(f"  {k}: {fmt(v)}")
        if len(hyper) > len(shown):
            click.echo(
                f"  ... {len(hyper) - len(shown)} more in hubver.json (`hubver show {version} --json`)"
            )
    code = m.get("code") or {}
    if code.get("commit"):
        click.echo(
            f"code:      {code['commit'][:12]}{' (dirty)' if code.get('dirty') else ''} {code.get('remote') or ''}"
        )
    ci = m.get("ci") or {}
    if ci.get("run_url"):
        pr = ci.get("pull_request") or {}
        click.echo(
            f"ci:        {ci['run_url']}" + (f"  PR #{pr.get('number')} {pr.get('title')}" if pr else "")
        )
    click.echo("files:")
    for f in m.get("files") or []:
        click.echo(f"  {f['path']}  {f['size']} bytes  sha256:{f['sha256'][:12]}")
    card = detail.card
    if card:
        tags = ", ".join(card.get("tags") or [])
        click.echo(
            f"card:      library={card.get('library_name')} base_model={card.get('base_model')} tags={tags}"
        )


@click.command()
@click.argument("a")
@click.argument("b")
@repo_options
@click.option("--unchecked", is_flag=True, help="Read it even if it fails the integrity check (forensics).")
def diff(settings, as_json, a, b, unchecked):
    """Compare versions A and B (LoRA ranks are read from the weights)."""
    from ..training import RUN_LOCAL_ARGS, is_noise_metric
    from ..versions import diff as do_diff

    d = do_diff(a=a, b=b, settings=settings, unchecked=unchecked)
    if as_json:
        emit_json(d.to_dict())
        return
    click.echo(f"{d.repo}: {a} ({d.commits[0][:8]}) -> {b} ({d.commits[1][:8]})")
    if d.base_model[0] != d.base_model[1]:
        click.echo(f"base model: {d.base_model[0]} -> {d.base_model[1]}")
    if d.lora_rank != (None, None):
        click.echo(f"LoRA rank (from weights): {d.lora_rank[0]} -> {d.lora_rank[1]}")
        for module, (ra, rb) in d.lora_ranks.items():
            click.echo(f"  {module}: {ra} -> {rb}")
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
                click.echo(f"  {k}: {fmt(va)} -> {fmt(vb)}")
    metrics = {k: v for k, v in d.metrics.items() if not is_noise_metric(k)}
    if metrics:
        click.echo("metrics:")
        for k, (va, vb, delta) in metrics.items():
            change = f" ({delta:+.4g})" if delta is not None else ""
            click.echo(f"  {k}: {fmt(va)} -> {fmt(vb)}{change}")
    if d.files_added or d.files_removed or d.files_changed:
        click.echo("files:")
        for f in d.files_added:
            click.echo(f"  + {f['path']} ({f['size']} bytes)")
        for f in d.files_removed:
            click.echo(f"  - {f['path']} ({f['size']} bytes)")
        for f in d.files_changed:
            click.echo(f"  ~ {f['path']} ({f['size_a']} -> {f['size_b']} bytes)")
    else:
        click.echo("files: identical")


@click.command()
@click.argument("version")
@repo_options
@click.option(
    "--to", "target", type=click.Path(path_type=Path), help="Target directory (default: ./NAME-VERSION)."
)
@click.option("--force", is_flag=True, help="Replace the contents of a non-empty target directory.")
@click.option("--unchecked", is_flag=True, help="Read it even if it fails the integrity check (forensics).")
def checkout(settings, as_json, version, target, force, unchecked):
    """Download exactly VERSION's files into a directory, sha256-checked."""
    from ..download import checkout as do_checkout

    result = do_checkout(
        version=version, to=target, force=force, quiet=as_json, settings=settings, unchecked=unchecked
    )
    if as_json:
        emit_json(result.to_dict())
        return
    click.echo(
        f"Checked out {result.version} of {result.repo} (commit {result.commit[:12]}) into {result.path}"
    )
    click.echo(f"  {len(result.files)} file(s), {result.verified} verified against the manifest")
    if result.checked_against != "the Hub":
        click.echo(f"  checked against {result.checked_against}: the Hub could not be asked", err=True)


@click.command()
@click.argument("version", required=False)
@repo_options
@click.option("--repair", is_flag=True, help="Create tags that an interrupted push left missing.")
@click.option("--deep", is_flag=True, help="Also download and hash every file of every version.")
def verify(settings, as_json, version, repair, deep):
    """Check that VERSION (default: all) is intact: tag, commit, content, index chain, aliases."""
    from ..integrity import verify as do_verify

    reports = do_verify(version=version, repair=repair, deep=deep, settings=settings)
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


COMMANDS = [push, list_, show, diff, checkout, verify]
