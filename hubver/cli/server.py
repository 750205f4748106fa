"""Commands of the embedded hub: serve it, add users."""

from __future__ import annotations

from pathlib import Path

import click

from .common import emit_json


@click.group()
def hub() -> None:
    """Run the embedded, Hub-compatible server that hubver and the HF clients can use offline."""


def _data_dir(data_dir: Path | None) -> Path:
    from ..settings import local_hub_dir

    return (data_dir or local_hub_dir()).expanduser().resolve()


@hub.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", default=8088, show_default=True, type=int, help="Port to listen on (0 picks a free one)."
)
@click.option(
    "--data-dir", type=click.Path(path_type=Path), help="Where repositories live (default: $HUBVER_HOME/hub)."
)
@click.option(
    "--token",
    envvar="HUBVER_HUB_TOKEN",
    help="The administrator's token (also $HUBVER_HUB_TOKEN); default: generated on first start.",
)
@click.option(
    "--log-level",
    default="warning",
    type=click.Choice(["debug", "info", "warning", "error"]),
    help="Server log level.",
)
@click.option(
    "--public-url",
    metavar="URL",
    help="The URL clients reach the hub at (behind a proxy), used in the upload URLs it hands out "
    "(default: the address it listens on; never the request's Host header).",
)
@click.option(
    "--storage",
    metavar="local|s3://BUCKET/PREFIX",
    help="Where LFS objects live: the data dir's own disk (default), or an S3-compatible bucket "
    "(credentials from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE). Recorded in the "
    "data dir: later hubs on it use the same store.",
)
@click.option(
    "--s3-endpoint",
    metavar="URL",
    help="The S3 endpoint (MinIO, SeaweedFS, Ceph...); default AWS. Clients download from it directly.",
)
def serve(
    host: str,
    port: int,
    data_dir: Path | None,
    token: str | None,
    log_level: str,
    public_url: str | None,
    storage: str | None,
    s3_endpoint: str | None,
) -> None:
    """Serve the hub; the first line printed is its base URL."""
    from ..errors import ConfigError
    from ..server import HubApp, HubConfig, bind, serve_forever
    from ..server.run import base_url
    from ..server.storage_errors import StorageError

    directory = _data_dir(data_dir)
    try:
        sock = bind(host, port)
    except OSError as e:
        raise ConfigError(
            f"Cannot listen on {host}:{port}: {e.strerror}.", "Pick another --port (0 picks a free one)."
        ) from None
    if public_url is not None and not public_url.startswith(("http://", "https://")):
        raise ConfigError(
            f"--public-url {public_url!r} is not an http(s) URL.",
            "For example: --public-url https://hub.example.org",
        )
    if s3_endpoint is not None and (storage is None or not storage.startswith("s3://")):
        raise ConfigError("--s3-endpoint is for object storage.", "Add --storage s3://BUCKET/PREFIX.")
    config = HubConfig(
        data_dir=directory,
        admin_token=token,
        public_url=public_url or base_url(sock),
        storage=storage,
        s3_endpoint=s3_endpoint,
    )
    try:
        app = HubApp(config)
    except ValueError as e:  # a malformed --storage / --s3-endpoint
        raise ConfigError(
            str(e), "For example: --storage s3://models/hub --s3-endpoint http://s3.lan:9000"
        ) from None
    except StorageError as e:
        raise ConfigError(str(e), "Check --storage and --s3-endpoint (and the AWS_* credentials).") from None
    click.echo(base_url(sock))
    if app.admin_token_file is not None:
        click.echo(f"admin token: stored in {app.admin_token_file}")
    else:
        click.echo("admin token: the one given with --token / HUBVER_HUB_TOKEN")
    click.echo(f"data: {directory}", err=True)
    import sys

    sys.stdout.flush()
    serve_forever(app, sock, log_level=log_level)


@hub.command("add-user")
@click.argument("name")
@click.option("--admin", is_flag=True, help="May write to every namespace.")
@click.option(
    "--org", "orgs", multiple=True, help="An organisation namespace this user may write to (repeatable)."
)
@click.option("--fullname", default="", help="The full name whoami shows (default: the user name).")
@click.option(
    "--data-dir", type=click.Path(path_type=Path), help="The hub's data dir (default: $HUBVER_HOME/hub)."
)
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def add_user(
    name: str, admin: bool, orgs: tuple[str, ...], fullname: str, data_dir: Path | None, as_json: bool
) -> None:
    """Create a user and print their new token (shown once; only its hash is stored)."""
    from ..errors import ConfigError
    from ..server.auth import TokenStore
    from ..server.names import check_name
    from ..server.storage_errors import StorageError

    try:
        check_name(name, "user name")
    except StorageError as e:
        raise ConfigError(
            str(e), "A user name is also their namespace (NAME/model): pick another, e.g. `alice`."
        ) from None
    directory = _data_dir(data_dir)
    try:
        store = TokenStore(directory)
        try:
            token = store.create_user(name, admin=admin, orgs=tuple(orgs), fullname=fullname)
        except StorageError as e:
            raise ConfigError(str(e), f"Use the existing spelling, or another name than {name!r}.") from None
    except OSError as e:
        from ..errors import ConfigError
        from ..server.errors import is_disk_full

        if is_disk_full(e):
            raise ConfigError(
                f"Cannot add user {name}: the disk of the hub's data directory {directory} is full; "
                "no user was added (tokens.json is unchanged).",
                "Free space on that disk, then run the command again.",
            ) from None
        raise ConfigError(
            f"Cannot add user {name} in the hub's data directory {directory}: {e.strerror}.",
            "Check that the directory exists and is writable (--data-dir).",
        ) from None
    if as_json:
        emit_json(
            {"name": name, "fullname": fullname or name, "admin": admin, "orgs": list(orgs), "token": token}
        )
    else:
        click.echo(token)
        click.echo(f"(token of {name}; it is not stored anywhere but here — keep it)", err=True)


_DATA_DIR = click.option(
    "--data-dir", type=click.Path(path_type=Path), help="The hub's data dir (default: $HUBVER_HOME/hub)."
)


@hub.command()
@_DATA_DIR
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def fsck(data_dir: Path | None, as_json: bool) -> None:
    """Re-hash every stored LFS object; report and quarantine the damaged ones (exit 1 if any)."""
    from ..errors import ConfigError
    from ..server.repos import RepoStore
    from ..server.storage_errors import StorageError

    try:
        damaged = RepoStore(_data_dir(data_dir)).fsck()
    except StorageError as e:
        raise ConfigError(str(e), "Check the hub's object store (storage.json in the data dir).") from None
    if as_json:
        emit_json([{"repo": r, "oid": oid, "quarantined": q} for r, oid, q in damaged])
    else:
        for repo, oid, moved in damaged:
            click.secho(
                f"DAMAGED: {repo} LFS object {oid}: its bytes no longer hash to it", fg="red", err=True
            )
            click.echo(f"  quarantined to {moved}; an upload of the good bytes restores it", err=True)
        if not damaged:
            click.echo("every LFS object hashes to its id")
    if damaged:
        raise SystemExit(1)


@hub.command()
@_DATA_DIR
@click.option("--repo", "repo_id", metavar="NS/NAME", help="Only this model repository (default: every one).")
@click.option(
    "--grace",
    default="1h",
    show_default=True,
    metavar="DURATION",
    help="Keep unreferenced objects younger than this (uploads whose commit has not landed yet).",
)
@click.option("--dry-run", is_flag=True, help="Only report what would be deleted.")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def gc(data_dir: Path | None, repo_id: str | None, grace: str, dry_run: bool, as_json: bool) -> None:
    """Delete LFS objects no branch, tag or pull-request tip refers to (what pruning left behind)."""
    from ..registry.prune import parse_duration
    from ..server.gc import collect
    from ..server.repos import RepoStore

    seconds = parse_duration(grace).total_seconds()
    report = collect(RepoStore(_data_dir(data_dir)), grace=seconds, dry_run=dry_run, repo_id=repo_id)
    if as_json:
        emit_json(report.to_dict())
        return
    verb = "would free" if dry_run else "freed"
    for r in report.repos:
        click.echo(
            f"{r.repo}: {verb} {r.bytes} bytes in {len(r.objects)} LFS object(s)"
            + (f"; {r.kept_recent} unreferenced but younger than {grace}, kept" if r.kept_recent else "")
        )
    click.echo(
        f"{'Dry run: ' if dry_run else ''}{verb} {report.bytes} bytes in {report.objects} LFS object(s)."
    )


@hub.command("remove-version")
@click.argument("repo")
@click.argument("version")
@click.option("--reason", required=True, help="Why the version is removed (kept in the record).")
@click.option("--by", default=None, help="Who removes it (default: the local user name).")
@_DATA_DIR
def remove_version(repo: str, version: str, reason: str, by: str | None, data_dir: Path | None) -> None:
    """Remove a protected version's tag, as an administrator, recording who, when and why."""
    from ..errors import HubverError
    from ..provenance import current_user
    from ..server.repos import RepoStore
    from ..server.storage_errors import StorageError

    try:
        commit = RepoStore(_data_dir(data_dir)).remove_version(
            "model", repo, version, by=by or current_user(), reason=reason
        )
    except StorageError as e:
        raise HubverError(str(e), f"Check the name with `hubver list --repo {repo}`.") from None
    click.echo(f"Removed tag {version} of {repo} (commit {commit[:12]}); recorded in removals.jsonl.")


COMMANDS = [hub]
