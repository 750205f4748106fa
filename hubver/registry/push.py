"""Publishing a version (`hubver push`): one commit, one tag, never an overwrite.

The commit holds the artifact at the repo root, `hubver.json`, the model card and the
version index, and removes the previous version's files that the new one lacks. It is
made with `parent_commit`, so a concurrent push makes the Hub refuse it (412); we then
re-read the branch and retry with the next id. A push that died between its commit and
its tag is noticed (the index names a version without a tag) and the tag is repaired.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import random
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import ids, index, layout
from ..artifact import Artifact, ArtifactFile, hashed, manifest_digest, scan
from ..card_charts import CardChart, card_charts
from ..ci import github_context
from ..client import HubClient, Refs, RemoteFile, retry_budget
from ..errors import (
    ArtifactError,
    ConfigError,
    ConflictError,
    HubError,
    HubverError,
    IntegrityError,
    RefConflict,
    RepoNotFound,
    TransientError,
    VersionIdError,
)
from ..jsonio import dumps, finite
from ..layout import commit_title, titled_version
from ..metadata import base_model_of, build, local_lora_ranks
from ..record import VersionRecord
from ..redact import known_secrets, scrub, strip_url_credentials
from ..training import check_metrics, dataset_facts, finite_metrics, from_trainer_state, load_metrics_file
from ..trust import GIT_ID_LIMIT, check_commit, entry_hash, git_blob_sha, published_commit
from . import Connection, Registry, connect
from .browse import load_remote_metadata, read_alias_records
from .early_upload import EarlyUpload
from .request import PushRequest

MAX_ATTEMPTS = 12

if TYPE_CHECKING:
    from typing_extensions import Unpack  # typing.Unpack is 3.11+


@dataclass
class PushResult:
    repo: str
    version: str
    commit: str | None
    url: str
    branch: str
    created: bool  # False when an existing version was reported instead
    reason: str | None = None
    dry_run: bool = False
    uploaded: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    card: str | None = None
    attempts: int = 1
    previous_metrics: dict[str, Any] | None = None  # the parent version's key metrics, from the index
    charts: list[str] = field(default_factory=list)  # the card's pictures this version's commit holds

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k not in ("metadata", "card")}
        out["skipped"] = [{"path": p, "reason": r} for p, r in self.skipped]
        out["metrics"] = self.metadata.get("metrics", {})
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PushResult:
        """The inverse of `to_dict` (metadata keeps only the metrics)."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["skipped"] = [(s["path"], s["reason"]) for s in data.get("skipped", [])]
        values["metadata"] = {"metrics": data.get("metrics", {})}
        return cls(**values)


@dataclass
class BranchState:
    """What a push needs to know about the target branch: refs, files, index and card (4 requests)."""

    head: str | None
    files: dict[str, RemoteFile]
    entries: list[dict[str, Any]]
    problems: list[str]
    tags: dict[str, str]
    branches: dict[str, str]
    readme: str | None
    history_ids: set[str] = field(default_factory=set)  # ids named by commit titles on the branch

    def entry(self, version: str) -> dict[str, Any] | None:
        return next((e for e in self.entries if e["version"] == version), None)


def read_state(client: HubClient, repo: str, branch: str, *, refs: Refs | None = None) -> BranchState:
    refs = refs or client.refs(repo)
    if branch not in refs.branches:
        return BranchState(None, {}, [], [], refs.tags, refs.branches, None)
    head = refs.branches[branch]
    head_sha, files = client.files(repo, head)
    raw, _ = client.read_file(repo, layout.INDEX_PATH, head) if layout.INDEX_PATH in files else (None, None)
    entries, problems = index.parse(raw)
    readme = None
    if layout.CARD_PATH in files:
        data, _ = client.read_file(repo, layout.CARD_PATH, head)
        readme = data.decode("utf-8", "replace") if data else None
    return BranchState(head_sha, files, entries, problems, refs.tags, refs.branches, readme)


def _with_git_id(entry: dict[str, Any], local: Path) -> dict[str, Any]:
    """A manifest entry plus, for a file small enough to be stored in git rather than LFS, its
    git blob id: reads can then check it from a tree listing alone."""
    if entry["size"] > GIT_ID_LIMIT:
        return entry
    return {**entry, "git": git_blob_sha(local.read_bytes())}


def _same_as_remote(f: ArtifactFile, remote: RemoteFile | None) -> bool:
    if remote is None or remote.size != f.size:
        return False
    if remote.sha256:
        return remote.sha256 == f.sha256
    if f.size > (16 << 20):
        return False
    return remote.blob_id == git_blob_sha(f.local.read_bytes())


def version_url(client: HubClient, repo: str, version: str) -> str:
    """Where a version can be seen: its Hub page, or for the in-process hub, its git repository."""
    if client.local_dir is not None:  # the in-process hub's port dies with this command
        return f"file://{client.local_dir}/repos/models/{repo}.git"
    return f"{client.endpoint}/{repo}/tree/{version}"


def _training_inputs(
    artifact: Artifact,
    training: dict[str, Any] | None,
    metrics_file: Path | None,
    metrics: dict[str, Any] | None,
    params: dict[str, Any] | None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(training section, merged metrics): trainer_state < callback < metrics file < flags."""
    merged_training: dict[str, Any] = {}
    merged_metrics: dict[str, Any] = {}
    if artifact.trainer_state:
        ts = from_trainer_state(artifact.trainer_state)
        merged_metrics.update(ts.pop("metrics"))
        merged_training.update(ts)
    if training:
        t = dict(training)
        merged_metrics.update(finite_metrics(t.pop("metrics", None) or {}))
        hyper = {**merged_training.get("hyperparameters", {}), **(t.pop("hyperparameters", None) or {})}
        merged_training.update({k: v for k, v in t.items() if v is not None})
        merged_training["hyperparameters"] = hyper
    if metrics_file:
        merged_metrics.update(load_metrics_file(metrics_file))
    merged_metrics.update(check_metrics(metrics or {}, "--metric"))
    if params:
        merged_training["hyperparameters"] = {**merged_training.get("hyperparameters", {}), **params}
    return merged_training, merged_metrics


def _resolve_base(
    client: HubClient, artifact: Artifact, base_model: str | None
) -> tuple[dict[str, Any] | None, bytes | None]:
    """The base model record, and a rewritten adapter_config.json when it gains a hub id or revision."""
    base = base_model_of(artifact)
    if base_model:
        name, _, rev = base_model.partition("@")
        base = {"name": name, "revision": rev or None, "source": "--base-model"}
    if base is None:
        return None, None
    if ids.is_hub_id(base["name"]) and not _is_local_path(base["name"]) and not base.get("revision"):
        try:
            sha, _ = client.files(base["name"], "main")
            base["revision"] = sha
        except HubverError:
            base["revision"] = None  # not on this endpoint: recorded by name only
    elif not ids.is_hub_id(base["name"]):
        base["local"] = True
    rewritten = None
    cfg = artifact.adapter_config
    if cfg is not None and ids.is_hub_id(base["name"]):
        wanted = {"base_model_name_or_path": base["name"], "revision": base.get("revision")}
        if any(cfg.get(k) != v for k, v in wanted.items()):
            rewritten = (dumps({**cfg, **wanted})).encode()
    return base, rewritten


def _is_local_path(name: str) -> bool:
    try:
        return Path(name).exists()
    except (OSError, ValueError):  # ENAMETOOLONG, a NUL: not a path on this machine
        return False


def repair_tags(client: HubClient, repo: str, branch: str, state: BranchState) -> list[str]:
    """Create the tags of versions whose commit landed but whose tag did not.

    A tag is recreated only on the commit the index chain names for it (the next entry's
    link, or the branch head for the latest version), and only if that commit's recomputed
    content matches the entry: a commit title is never trusted.
    """
    repaired = []
    pruned = index.tombstones(state.entries)
    for i, entry in enumerate(state.entries):
        version = entry["version"]
        if version in state.tags or version in pruned or index.is_tombstone(entry):
            continue  # a pruned version's tag is gone on purpose
        commit = published_commit(state.entries, i, state.head)
        if commit is None:
            continue
        try:
            check = check_commit(client, repo, version, commit, entry, position=state.entries[: i + 1])
        except HubverError:
            continue
        if not check.ok:
            continue
        try:
            client.create_tag(repo, version, commit, message=f"hubver version {version} (tag repaired)")
        except RefConflict:
            continue
        state.tags[version] = commit
        repaired.append(version)
    return repaired


def check_history(client: HubClient, repo: str, branch: str, state: BranchState) -> None:
    """Record every version id the branch's history names, and refuse an index that lost some.

    Commit titles are not trusted to say where a version is, only that an id was used: a
    version whose commit is in the history but whose entry is gone means the index was
    shortened, and pushing on top of it would hide that version (and could reuse its id).
    """
    if state.head is None:
        return
    titled: dict[str, str] = {}
    for c in client.commits(repo, state.head):  # the head the index was read at, not a newer one
        version = titled_version(c.title)
        if version:
            titled.setdefault(version, c.commit_id)
    state.history_ids = set(titled)
    listed = {e["version"] for e in state.entries}
    lost = sorted(v for v in titled if v not in listed)
    if lost:
        raise IntegrityError(
            f"The version index of {repo}@{branch} has lost {', '.join(lost)}: the branch history has "
            f"their commits ({', '.join(titled[v][:12] for v in lost)}) but the index no longer lists them.",
            f"Nothing was pushed. Run `hubver verify --repo {repo}` and restore the index before pushing.",
        )


def _existing_version(
    state: BranchState, artifact_digest: str, ci_key: str | None, push_id: str, *, explicit: bool = False
) -> tuple[dict[str, Any], str] | None:
    """The version that already stands for this push, if any. With an explicit `--version`,
    content identical to the latest version is still published under the id asked for.
    Pruned versions stand for nothing: their tag is gone on purpose."""
    live = index.live(state.entries)
    for e in reversed(live):
        if e.get("push_id") == push_id:
            return e, "published by this push"
    if ci_key:
        for e in reversed(live):
            if e.get("ci_key") == ci_key:
                return e, f"already published by this CI run ({ci_key})"
    if not explicit and live and live[-1] is _latest(state) and live[-1].get("digest") == artifact_digest:
        return live[-1], "identical to the latest version"
    return None


def _latest(state: BranchState) -> dict[str, Any] | None:
    """The latest version line of the index (tombstones are not versions)."""
    found = index.last_version(state.entries)
    return found[1] if found else None


def _pick_version(state: BranchState, version: str | None, scheme: str, bump: str | None, repo: str) -> str:
    """The id of the new version: checked against every ref of the repo before anything is uploaded."""
    used = {e["version"] for e in state.entries} | set(state.tags) | state.history_ids
    if version:
        if version not in used and (clash := ids.ref_clash(version, state.tags, state.branches)):
            raise VersionIdError(
                f"Invalid version id {version!r} for {repo}: {clash}.",
                f"Pick another id with --version, or omit it to get the next one "
                f"({_free_id(used, state, 'counter', None)}).",
            )
        if version in used:
            existing = state.entry(version)
            when = f", published {existing.get('created_at')}" if existing else ""
            commit = state.tags.get(version)
            raise VersionIdError(
                f"Version {version} already exists in {repo}"
                f"{when}{f' at commit {commit[:12]}' if commit else ''}; versions are never overwritten.",
                f"Pick another id with --version, or omit it to get the next one ({ids.next_id(used, 'counter')}).",
            )
        return version
    return _free_id(used, state, scheme, bump)


def _free_id(used: set[str], state: BranchState, scheme: str, bump: str | None) -> str:
    """The next id of `scheme` that clashes with no tag or branch (an alias named v3 is skipped)."""
    taken = set(used)
    while True:
        candidate = ids.next_id(taken, scheme, bump=bump)
        if not ids.ref_clash(candidate, state.tags, state.branches):
            return candidate
        taken.add(candidate)


def push(
    path: str | Path,
    repo: str | None = None,
    *,
    version: str | None = None,
    scheme: str = "counter",
    bump: str | None = None,
    message: str | None = None,
    private: bool = False,
    metrics: dict[str, Any] | None = None,
    metrics_file: str | Path | None = None,
    params: dict[str, Any] | None = None,
    dataset: str | dict[str, Any] | None = None,
    num_samples: int | None = None,
    base_model: str | None = None,
    template: str | Path | None = None,
    excludes: tuple[str, ...] = (),
    training: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
    dry_run: bool = False,
    push_id: str | None = None,
    chart_metric: str | None = None,
    **connection: Unpack[Connection],
) -> PushResult:
    """Publish the model or adapter in `path` as a new version of `repo`.

    Returns a `PushResult` (version id, commit, URL). If the content equals the latest
    version, or this CI run already published, the existing version is returned with
    `created=False`. Raises a `HubverError` subclass with a hint on any bad input.
    `push_id` names this push for good: pushing again with the same id after a lost answer
    (or a kill between commit and tag) reports the version it made instead of a second one.
    `chart_metric` is the metric the card's picture shows across versions (default: the first
    eval loss-like metric; see `hubver.card_charts`).

    >>> hubver.push("out/", "me/my-adapter", message="r=8, 3 epochs")  # doctest: +SKIP
    """
    request = PushRequest(
        version=version,
        scheme=scheme,
        bump=bump,
        message=message,
        private=private,
        metrics=metrics,
        metrics_file=None if metrics_file is None else str(metrics_file),
        params=params,
        dataset=dataset,
        num_samples=num_samples,
        base_model=base_model,
        template=None if template is None else str(template),
        excludes=excludes,
        training=training,
        extra=extra,
        dry_run=dry_run,
        push_id=push_id,
        chart_metric=chart_metric,
    )
    with connect(repo, **connection) as registry:
        return registry.push(path, request)


def push_to(registry: Registry, path: str | Path, request: PushRequest) -> PushResult:
    """`Registry.push`: see `push`."""
    settings, repo = registry.settings, registry.repo
    if settings.branch:
        ids.validate(settings.branch, reserved=(), what="branch name")
    if request.scheme not in ids.SCHEMES:
        raise VersionIdError(
            f"Unknown version scheme {request.scheme!r}.", f"Use one of: {', '.join(ids.SCHEMES)}."
        )
    if request.version:
        ids.validate(request.version, reserved=("main", settings.branch))
    if request.chart_metric is not None and (
        not isinstance(request.chart_metric, str) or not request.chart_metric.strip()
    ):
        raise ConfigError(
            f"Invalid chart metric {request.chart_metric!r}.",
            "Pass the name of a recorded metric, e.g. --chart-metric eval_loss.",
        )
    # Everything local first: a bad directory or file fails before any request. The files are
    # hashed in the background meanwhile, while the branch is read (see _PreparedPush.hashing).
    if request.template:  # a broken template fails before any request, and before any upload
        from .. import card

        card.check_template(Path(request.template))
    artifact = scan(path, excludes=request.excludes, hash_files=False)
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hubver-hash")
    hashing = pool.submit(hashed, artifact)
    pool.shutdown(wait=False)
    # The code's commit (a few git calls) and the package versions, meanwhile too: the
    # upload starts only after the first request, and they are needed only for the card.
    from ..provenance import code_provenance, environment  # imported here: off the upload's path

    context = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hubver-context")
    code, env = context.submit(code_provenance), context.submit(environment)
    context.shutdown(wait=False)
    local_lora_ranks(artifact)  # every safetensors header checked before the first request
    train_section, merged_metrics = _training_inputs(
        artifact,
        request.training,
        Path(request.metrics_file) if request.metrics_file else None,
        request.metrics,
        request.params,
    )
    ci = github_context()
    secrets = known_secrets([settings.token, *registry.secrets])
    req = _PreparedPush(
        repo=repo,
        branch=settings.branch,
        options=request,
        artifact=artifact,
        training=train_section,
        metrics=merged_metrics,
        dataset=request.dataset
        if isinstance(request.dataset, dict)
        else _dataset(request.dataset, request.num_samples),
        template=Path(request.template) if request.template else None,
        ci=ci,
        ci_key=scrub(ci["idempotency_key"], secrets) if ci else None,
        code=None,
        environment={},
        context=(code, env),
        secrets=secrets,
        hashing=hashing,
    )
    if request.push_id:
        req.push_id = request.push_id
    return _push(registry.client, req)


def _dataset(spec: str | None, num_samples: int | None) -> dict[str, Any] | None:
    """`--dataset`: a URL is recorded as a URL (without its credentials), never split at its `@`."""
    if spec and "://" in spec:
        facts: dict[str, Any] = {"name": strip_url_credentials(spec), "revision": None}
        if num_samples is not None:
            facts["num_samples"] = num_samples
        return facts
    return dataset_facts(spec, num_samples)


@dataclass
class _PreparedPush:
    """A push: the caller's options, plus everything worked out from them before talking to the Hub."""

    repo: str
    branch: str
    options: PushRequest
    artifact: Artifact
    training: dict[str, Any]
    metrics: dict[str, Any]
    dataset: dict[str, Any] | None
    template: Path | None
    ci: dict[str, Any] | None
    ci_key: str | None
    code: dict[str, Any] | None
    environment: dict[str, Any]
    secrets: set[str]
    push_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    # The files' sha256, computed in threads while the branch is read: `artifact` has no
    # hashes until `hashed_artifact()` waited for them.
    hashing: Future[Artifact] | None = None
    # `code` and `environment`, worked out in a thread until `_push` needs them
    context: tuple[Future[dict[str, Any] | None], Future[dict[str, Any]]] | None = None

    def resolve_context(self) -> None:
        if self.context is not None:
            code, env = self.context
            self.code, self.environment, self.context = code.result(), env.result(), None

    def hashed_artifact(self) -> Artifact:
        if self.hashing is not None:
            self.artifact, self.hashing = self.hashing.result(), None
        return self.artifact


def _push(client: HubClient, req: _PreparedPush) -> PushResult:
    repo_exists = True
    try:
        refs = client.refs(req.repo)
    except RepoNotFound:
        if req.options.dry_run:
            refs, repo_exists = None, False
        else:
            client.ensure_repo(req.repo, private=req.options.private)
            refs = client.refs(req.repo)
    uploads: list[EarlyUpload] = []
    try:
        req.resolve_context()
        return _push_from(client, req, refs, repo_exists, uploads)
    finally:
        for early in uploads:
            early.wait()  # never leave a thread sending files after the push returned


def _push_from(
    client: HubClient, req: _PreparedPush, refs: Refs | None, repo_exists: bool, uploads: list[EarlyUpload]
) -> PushResult:
    base, adapter_config = _resolve_base(client, req.artifact, req.options.base_model)
    manifest: list[dict[str, Any]] = []
    digest = ""
    result = PushResult(req.repo, "", None, "", req.branch, created=False, skipped=req.artifact.skipped)
    result.dry_run = req.options.dry_run
    transient_deadline: float | None = None  # set by the first 5xx or lost answer of a commit
    for attempt in range(1, MAX_ATTEMPTS + 1):
        result.attempts = attempt
        if repo_exists:
            state = read_state(client, req.repo, req.branch, refs=refs)
        else:  # a dry run for a repository that push would create
            state = BranchState(None, {}, [], [], {}, {}, None)
        refs = None  # later attempts re-read everything
        check_history(client, req.repo, req.branch, state)
        if not req.options.dry_run:
            result.repaired += repair_tags(client, req.repo, req.branch, state)
        if not manifest:  # the hashes are needed from here on
            manifest = _manifest(req.hashed_artifact(), adapter_config)
            digest = manifest_digest(manifest)
        found = _existing_version(state, digest, req.ci_key, req.push_id, explicit=bool(req.options.version))
        if found:
            return _report_existing(client, req, state, *found, result)
        # The upload starts once the version id is known to be free (a refused push sends no
        # byte) and, with the user's own card template, once the card rendered: a template
        # that fails at render time is not found out after the whole model was sent.
        start_upload = not uploads and state.head is not None and not req.options.dry_run
        if start_upload and req.template is None:
            _pick_version(state, req.options.version, req.options.scheme, req.options.bump, req.repo)
            uploads.append(EarlyUpload(client, req.repo, req.branch, req.hashed_artifact))
        aliases = _alias_records(client, req, state) if repo_exists else {}
        meta, readme, entries, charts = _compose(req, state, base, manifest, aliases)
        if start_upload and not uploads:
            uploads.append(EarlyUpload(client, req.repo, req.branch, req.hashed_artifact))
        early = uploads[0] if uploads else None
        ops = _operations(req, state, adapter_config, meta, readme, entries, charts, result, early)
        result.version, result.metadata, result.card = meta["version"], dict(meta), readme
        result.url = version_url(client, req.repo, meta["version"])
        if req.options.dry_run:
            return result
        if state.head is None:  # a new versions branch starts from main
            start = client.refs(req.repo).branches.get("main")
            if start is None:
                raise HubError(f"{req.repo} has no 'main' branch to start branch {req.branch!r} from.")
            try:
                client.create_branch(req.repo, req.branch, start)
            except HubverError:
                if req.branch not in client.refs(req.repo).branches:
                    raise
                # another push created it first: re-read it and take the next id, as for any race
            continue
        title = commit_title(meta["version"], req.options.message)
        sent = time.monotonic()
        try:
            if early is not None:
                early.raise_transient()  # a 5xx while it uploaded: retried like the commit's own
            _commit_hashed_bytes(client, req, ops)
            commit = client.commit(
                req.repo,
                req.branch,
                ops,
                message=title,
                description=f"hubver push {req.push_id}",
                parent=state.head,
            )
        except ConflictError:
            # Someone else committed first: re-read and try again.
            time.sleep(random.uniform(0.05, 0.3) * attempt)
            continue
        except TransientError:
            # A 5xx (the hub's store down) or a lost answer: not a concurrent writer. Re-read (it
            # may have landed) while the retry budget lasts, counting the time huggingface_hub
            # already spent retrying inside the commit; then say what the hub said.
            now = time.monotonic()
            if transient_deadline is None:
                transient_deadline = sent + retry_budget()
            if now + (now - sent) > transient_deadline or attempt == MAX_ATTEMPTS:
                raise
            time.sleep(random.uniform(0.05, 0.3) * attempt)
            continue
        _tag(client, req.repo, meta["version"], commit)
        result.commit, result.created = commit, True
        return result
    raise ConflictError(
        f"Gave up after {MAX_ATTEMPTS} attempts: {req.repo}@{req.branch} kept changing under this push.",
        "Retry the push; if it persists, check who else is writing to this branch.",
    )


def _manifest(artifact: Artifact, adapter_config: bytes | None) -> list[dict[str, Any]]:
    return [
        {
            "path": f.path,
            "size": len(adapter_config),
            "sha256": hashlib.sha256(adapter_config).hexdigest(),
            "git": git_blob_sha(adapter_config),
        }
        if f.path == "adapter_config.json" and adapter_config
        else _with_git_id(f.manifest_entry(), f.local)
        for f in artifact.files
    ]


def _report_existing(
    client: HubClient,
    req: _PreparedPush,
    state: BranchState,
    entry: dict[str, Any],
    reason: str,
    result: PushResult,
) -> PushResult:
    """The version that stands for this push: made by it on an earlier attempt, or an identical one."""
    v = entry["version"]
    if not req.options.dry_run and v not in state.tags and state.head:
        client.create_tag(req.repo, v, state.head, message=f"hubver version {v}")
        state.tags[v] = state.head
    result.version, result.commit = v, state.tags.get(v)
    result.url = version_url(client, req.repo, v)
    result.created = reason == "published by this push"
    result.reason = None if result.created else reason
    if not result.created and result.commit:
        with contextlib.suppress(HubverError):
            result.metadata = load_remote_metadata(client, req.repo, v, result.commit)
        lines = index.versions(state.entries)
        position = lines.index(entry)
        result.previous_metrics = lines[position - 1].get("metrics") if position else None
    return result


def _alias_records(client: HubClient, req: _PreparedPush, state: BranchState) -> dict[str, dict[str, Any]]:
    """The alias records, for the promotions the metric picture marks (one small read per alias)."""
    if not state.entries:
        return {}  # no earlier version: nothing can have been promoted
    try:
        return read_alias_records(client, req.repo, Refs(state.branches, state.tags), req.branch)
    except HubverError:
        return {}  # a picture without marks rather than no version


def _compose(
    req: _PreparedPush,
    state: BranchState,
    base: dict[str, Any] | None,
    manifest: list[dict[str, Any]],
    aliases: dict[str, dict[str, Any]] | None = None,
) -> tuple[VersionRecord, str, list[dict[str, Any]], list[CardChart]]:
    """hubver.json, the model card, the index and the card's pictures of the next version on top of `state`."""
    new_version = _pick_version(state, req.options.version, req.options.scheme, req.options.bump, req.repo)
    previous = _latest(state)
    parent = (
        {"version": previous["version"], "commit": state.tags.get(previous["version"])} if previous else None
    )
    meta = build(
        req.artifact,
        version=new_version,
        message=req.options.message,
        created_by=_current_user(),
        base_model=base,
        training=req.training,
        metrics=req.metrics,
        dataset=req.dataset,
        code=req.code,
        ci=req.ci,
        environment=req.environment,
        parent=parent,
        files=manifest,
        extra=req.options.extra,
        secrets=req.secrets,
    )
    entry = index.entry_for(meta, push_id=req.push_id, ci_key=req.ci_key)
    entry["branch"] = req.branch
    entry["metadata_blob"] = git_blob_sha(dumps(meta).encode())
    if previous is not None:
        entry["prev"] = {
            "version": previous["version"],
            "hash": entry_hash(previous),
            "commit": state.tags.get(previous["version"]),
        }
    entries = [*state.entries, entry]
    charts = [
        dataclasses.replace(c, svg=scrub(c.svg, req.secrets))
        for c in card_charts(meta, entries, aliases, chart_metric=req.options.chart_metric)
    ]
    # Recorded in the entry (so in the index chain): verify tells a swapped picture from ours.
    entry["charts"] = {c.path: git_blob_sha(c.svg.encode()) for c in charts}
    from .. import card  # Jinja2 and YAML: imported while the early upload runs

    readme = card.render(
        meta,
        repo=req.repo,
        history=entries,
        previous=previous,
        existing=state.readme or _artifact_readme(req.artifact),
        template=req.template,
        extra={"charts": [c.to_card() for c in charts]},
    )
    return meta, scrub(readme, req.secrets), entries, charts


def _operations(
    req: _PreparedPush,
    state: BranchState,
    adapter_config: bytes | None,
    meta: VersionRecord,
    readme: str,
    entries: list[dict[str, Any]],
    charts: list[CardChart],
    result: PushResult,
    early: EarlyUpload | None = None,
) -> list[Any]:
    """The commit: changed artifact files, removals of the previous version's extra files, hubver's
    files (the card's pictures included: those of the previous version this one lacks are removed)."""
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete

    ops: list[Any] = []
    result.uploaded, result.unchanged = [], []
    for f in req.artifact.files:
        remote = state.files.get(f.path)
        if f.path == "adapter_config.json" and adapter_config:
            if remote and not remote.sha256 and remote.blob_id == git_blob_sha(adapter_config):
                result.unchanged.append(f.path)
                continue
            op = CommitOperationAdd(path_in_repo=f.path, path_or_fileobj=adapter_config)
        elif _same_as_remote(f, remote):
            result.unchanged.append(f.path)
            continue
        elif early is not None and (sent := early.operation(f)) is not None:
            op = sent  # uploaded to the LFS store while the version was composed
        else:  # see _commit_hashed_bytes for the files the Hub takes in the commit itself
            if not f.local.is_file():
                raise _unreadable(f, "it is gone")
            op = CommitOperationAdd(path_in_repo=f.path, path_or_fileobj=str(f.local))
            op.upload_info.sha256 = bytes.fromhex(f.sha256)  # hashed once, in scan()
        ops.append(op)
        result.uploaded.append(f.path)
    result.deleted = sorted(
        p for p in state.files if p not in req.artifact.paths and not layout.is_managed(p)
    )
    ops += [CommitOperationDelete(path_in_repo=p) for p in result.deleted]
    drawn = {c.path for c in charts}
    ops += [
        CommitOperationDelete(path_in_repo=p)
        for p in sorted(state.files)
        if layout.is_chart(p) and p not in drawn
    ]
    ops += [CommitOperationAdd(path_in_repo=c.path, path_or_fileobj=c.svg.encode()) for c in charts]
    result.charts = [c.path for c in charts]
    ops += [
        CommitOperationAdd(path_in_repo=layout.METADATA_PATH, path_or_fileobj=dumps(meta).encode()),
        CommitOperationAdd(path_in_repo=layout.CARD_PATH, path_or_fileobj=readme.encode()),
        # Lines written by others may hold NaN (Python's json reads it): the index stays strict JSON.
        CommitOperationAdd(path_in_repo=layout.INDEX_PATH, path_or_fileobj=index.render(finite(entries))),
    ]
    previous = _latest(state)
    result.previous_metrics = previous.get("metrics") if previous else None
    return ops


HASHED_BYTES_MAX = 10 * 1000 * 1000  # huggingface.co takes files up to this size in the commit itself


def _unreadable(f: ArtifactFile, why: str) -> ArtifactError:
    return ArtifactError(
        f"{f.local} could not be read while it was being pushed ({why}); nothing was published.",
        "Push again once nothing is writing to the directory.",
    )


def _commit_hashed_bytes(client: HubClient, req: _PreparedPush, ops: list[Any]) -> None:
    """Send the artifact's LFS files now, and put the very bytes that were hashed in the commit
    for the files the Hub takes in the commit itself ("regular" files).

    The Hub checks an LFS upload against its sha256, but a regular file travels base64 in the
    commit, unchecked: read from disk at commit time, a file rewritten since it was hashed
    would be published under its old hash, as a version that fails verify. The upload modes
    come from the Hub (one preupload request, which the commit would have made anyway; it
    uploads the LFS files too); a transient failure there is retried as a failed commit is.
    A regular file has to fit in the commit body, so holding
    its bytes costs no more memory than huggingface_hub's base64 of it does.
    """
    from huggingface_hub import CommitOperationAdd

    files = {f.path: f for f in req.artifact.files}

    def from_disk(op: Any) -> ArtifactFile | None:
        """The artifact file an operation would read from disk at commit time, if any."""
        f = files.get(op.path_in_repo) if isinstance(op, CommitOperationAdd) else None
        if f is None or not isinstance(op.path_or_fileobj, str) or op._is_uploaded:
            return None
        return f

    pending = [op for op in ops if from_disk(op) is not None]
    if not pending:
        return
    client.preupload(req.repo, req.branch, pending)  # a TransientError is the commit's (see _push_from)
    for i, op in enumerate(ops):
        f = from_disk(op)
        if f is not None and op._upload_mode != "lfs" and f.size <= HASHED_BYTES_MAX:
            ops[i] = CommitOperationAdd(path_in_repo=f.path, path_or_fileobj=_bytes_as_hashed(f))


def _bytes_as_hashed(f: ArtifactFile) -> bytes:
    """The file's bytes, read now, if they are still those its sha256 was computed from."""
    try:
        data = f.local.read_bytes()
    except OSError as e:
        raise _unreadable(f, str(e.strerror or e)) from None
    if len(data) != f.size or hashlib.sha256(data).hexdigest() != f.sha256:
        raise ArtifactError(
            f"{f.local} changed while it was being pushed; nothing was published.",
            "Push again once nothing is writing to the directory (e.g. after training saved).",
        )
    return data


def _tag(client: HubClient, repo: str, version: str, commit: str) -> None:
    try:
        client.create_tag(repo, version, commit, message=f"hubver version {version}")
    except RefConflict:
        actual = client.refs(repo).tags.get(version)
        if actual != commit:
            raise VersionIdError(
                f"The tag {version} in {repo} was created by someone else (at {actual}) while this push "
                f"committed {commit}.",
                f"Run `hubver verify {version} --repo {repo}` and pick another id.",
            ) from None


def _artifact_readme(artifact: Artifact) -> str | None:
    readme = artifact.root / "README.md"
    if readme.is_file():
        try:
            return readme.read_text("utf-8")
        except (OSError, UnicodeDecodeError):
            return None
    return None


def _current_user() -> str:
    from ..provenance import current_user

    return current_user()
