"""Commands on versions: push, list, show, diff, checkout, verify."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from ..formatting import fmt, safe, table
from ..settings import Settings
from .common import emit_json, obj, repo_options, text_list, warn

if TYPE_CHECKING:
    from ..pending import Outcome


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
@click.option(
    "--pending",
    is_flag=True,
    help="Publish the snapshots HubverCallback left in DIRECTORY's outbox (a killed or timed-out run), oldest first.",
)
@click.option(
    "--retry-failed", is_flag=True, help="With --pending: also retry the snapshots the hub refused."
)
def push(settings: Settings, as_json: bool, directory: Path, version_id: str | None, scheme: str, bump: str | None,
         message: str | None, private: bool, metrics: tuple[str, ...], metrics_file: Path | None,
         params: tuple[str, ...], dataset: str | None, num_samples: int | None, base_model: str | None,
         template: Path | None, excludes: tuple[str, ...], dry_run: bool, pending: bool,
         retry_failed: bool) -> None:  # fmt: skip
    """Publish DIRECTORY (default: .) as a new version."""
    if pending or retry_failed:
        return _push_pending(settings, as_json, directory, retry_failed, dry_run)
    from ..ci import in_github_actions, step_outputs, summary_markdown, write_outputs, write_summary
    from ..redact import known_secrets
    from ..registry import connect
    from ..training import parse_pairs

    # Parsed before the repository is asked for: a bad --metric is reported first, as before.
    metric_values = parse_pairs(metrics, "metric", numeric=True)
    param_values = parse_pairs(params, "param", numeric=False)
    with connect(settings=settings) as registry:
        result = registry.push(
            directory,
            version=version_id,
            scheme=scheme,
            bump=bump,
            message=message,
            private=private,
            metrics=metric_values,
            metrics_file=metrics_file,
            params=param_values,
            dataset=dataset,
            num_samples=num_samples,
            base_model=base_model,
            template=template,
            excludes=tuple(excludes),
            dry_run=dry_run,
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
    click.echo(f"Published {result.version} of {result.repo} (commit {(result.commit or '')[:12]}).")
    click.echo(
        f"  {len(result.uploaded)} file(s) uploaded, {len(result.unchanged)} unchanged, {len(result.deleted)} removed"
    )
    click.echo(f"  url: {result.url}")
    click.echo(f'  load: from_pretrained("{result.repo}", revision="{result.version}")')


def _push_pending(
    settings: Settings, as_json: bool, directory: Path, retry_failed: bool, dry_run: bool
) -> None:
    from ..errors import HubverError
    from ..outbox import Outbox, outbox_for
    from ..pending import drain

    if not Path(directory).is_dir():
        raise HubverError(
            f"{directory} is not a directory.",
            "Pass the training output dir (the Trainer's output_dir, which holds .hubver/outbox).",
        )
    outbox = Outbox(outbox_for(directory))
    if not outbox.root.is_dir() and not as_json:
        click.echo(f"Nothing pending: {directory} has no outbox ({outbox.root} does not exist).")
        return
    if retry_failed:
        outbox.retry_failed()
    entries = outbox.entries()
    if dry_run or not entries:
        rows = [
            {"entry": e.name, "description": e.describe(), "repo": (e.job() or {}).get("repo")}
            for e in entries
        ]
        if as_json:
            emit_json(
                {"outbox": str(outbox.root), "pending": rows, "failed": [p.name for p in outbox.failed()]}
            )
        elif not entries:
            click.echo(f"Nothing pending in {outbox.root}.")
        else:
            click.echo(f"Would publish, in this order, from {outbox.root}:")
            for row in rows:
                click.echo(f"  {row['description']} -> {row['repo']}")
        for path in outbox.failed() if not as_json else []:
            warn(f"{path.name} was refused by the hub; `--retry-failed` tries it again")
        return
    # Each snapshot goes where its run was publishing unless a flag says otherwise (a hub that
    # moved); the token is this command's (--token, HF_TOKEN).
    flags = click.get_current_context().meta.get("hubver.flags") or {}
    with outbox.drain_lock(wait=30.0):
        outcomes = drain(
            outbox,
            token=settings.token,
            overrides=flags,
            on_outcome=lambda o: None if as_json else _print_outcome(o),
        )
    left, failed = outbox.entries(), outbox.failed()
    if as_json:
        emit_json(
            {
                "outbox": str(outbox.root),
                "outcomes": [o.to_dict() for o in outcomes],
                "pending": [e.describe() for e in left],
                "failed": [p.name for p in failed],
            }
        )
    if left or failed or any(not o.ok for o in outcomes):
        raise HubverError(
            f"{len(left)} snapshot(s) still pending and {len(failed)} refused in {outbox.root}.",
            "Fix what the errors above say, then run `hubver push --pending` again"
            + (" with --retry-failed." if failed else "."),
        )


def _print_outcome(outcome: Outcome) -> None:
    if outcome.ok:
        r = outcome.result
        what = "Published" if r.created else "Already published"
        click.echo(
            f"{what} {r.version} of {r.repo} from the {outcome.description} (commit {(r.commit or '')[:12]})."
        )
    else:
        state = "kept for another try" if outcome.kept else "set aside in failed/"
        warn(f"the {outcome.description} was not published ({state}): {outcome.error}")


@click.command("list")
@repo_options
@click.option("--sort", metavar="METRIC", help="Order by a metric (prefix '-' for descending).")
@click.option("--limit", type=int, help="Show at most N versions (the newest, or the best with --sort).")
def list_(settings: Settings, as_json: bool, sort: str | None, limit: int | None) -> None:
    """List the versions, with their metrics and aliases."""
    from ..registry import connect
    from ..registry.browse import sort_versions
    from ..training import key_metric_names

    with connect(settings=settings) as registry:
        listing = registry.listing()
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
            (v.message.splitlines() or [""])[0][:60] if v.message else "",
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
def show(settings: Settings, as_json: bool, version: str, unchecked: bool) -> None:
    """Show one version: metadata, files and model card summary."""
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
    """Compare versions A and B (LoRA ranks are read from the weights)."""
    from ..registry import connect
    from ..training import RUN_LOCAL_ARGS, is_noise_metric

    with connect(settings=settings) as registry:
        d = registry.diff(a, b, unchecked=unchecked)
    if as_json:
        emit_json(d.to_dict())
        return
    click.echo(f"{safe(d.repo)}: {safe(a)} ({d.commits[0][:8]}) -> {safe(b)} ({d.commits[1][:8]})")
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


COMMANDS = [push, list_, show, diff, checkout, verify]
