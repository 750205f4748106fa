"""`hubver push`: publish a directory as a new version, or the snapshots a training run left."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from ..formatting import fmt
from ..settings import Settings
from .common import emit_json, repo_options, warn

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
    "--chart-metric",
    metavar="NAME",
    help="The metric the card charts across versions (default: the first eval loss-like one).",
)
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
         template: Path | None, chart_metric: str | None, excludes: tuple[str, ...], dry_run: bool,
         pending: bool, retry_failed: bool) -> None:  # fmt: skip
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
            chart_metric=chart_metric,
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
    from ..card_charts import metric_chart_path

    if chart_metric and result.created and metric_chart_path(chart_metric) not in result.charts:
        warn(f"--chart-metric {chart_metric}: no version records that metric, so the card has no chart of it")
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


COMMANDS = [push]
