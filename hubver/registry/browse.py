"""Reading versions: list them, show one, compare two, resolve an id to a commit.

A listing costs the same few requests however many versions exist: the refs (tags and
alias branches), the version index at the branch head, and one small record per alias.
"""

from __future__ import annotations

import contextlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from .. import ids, index, layout
from ..client import HubClient, Refs
from ..errors import HubverError, MetadataError, VersionNotFound, VersionPruned
from ..jsonio import parse_json
from ..tensors import lora_ranks, rank_summary
from ..trust import ContentCheck, chain_problems, check_commit, published_commit
from ..versiondiff import diff_documents
from ..versiondiff import files_of as _files
from . import Connection, Registry, connect

if TYPE_CHECKING:
    from typing_extensions import Unpack  # typing.Unpack is 3.11+


@dataclass
class VersionInfo:
    version: str
    commit: str | None
    created_at: str | None = None
    created_by: str | None = None
    message: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    aliases: list[str] = field(default_factory=list)
    kind: str | None = None
    base_model: str | None = None
    lora_rank: Any = None
    problems: list[str] = field(default_factory=list)
    pruned: dict[str, Any] | None = None  # a pruned version: {at, by, reason, commit}

    @property
    def short_commit(self) -> str:
        return (self.commit or "")[:8]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Listing:
    repo: str
    branch: str
    head: str | None
    versions: list[VersionInfo]
    aliases: dict[str, str]  # alias -> version
    problems: list[str]
    refs: Refs
    entries: list[dict[str, Any]] = field(default_factory=list)
    pruned: list[VersionInfo] = field(default_factory=list)  # `list --all`: versions pruned on purpose

    def pruned_record(self, version: str) -> dict[str, Any] | None:
        """Who pruned `version`, when and why; None if it was not pruned."""
        return next((v.pruned for v in self.pruned if v.version == version), None)


@dataclass
class VersionDetail:
    info: VersionInfo
    metadata: dict[str, Any]
    card: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {**self.info.to_dict(), "metadata": self.metadata, "card": self.card}


def read_alias_records(client: HubClient, repo: str, refs: Refs, branch: str) -> dict[str, dict[str, Any]]:
    """alias -> its record, for every branch that hubver promoted (one small read each, in parallel)."""
    candidates = [b for b in refs.branches if b != branch and b != "main"]
    version_commits = {sha: v for v, sha in refs.tags.items()}

    def read(alias: str) -> tuple[str, dict[str, Any] | None]:
        head = refs.branches[alias]
        try:
            raw, _ = client.read_file(repo, layout.ALIAS_PATH, head)
        except HubverError:
            raw = None
        if raw:
            with contextlib.suppress(MetadataError):
                record = parse_json(raw, f"{layout.ALIAS_PATH} on {alias}")
                if isinstance(record, dict) and record.get("version"):
                    return alias, {**record, "head": head}
        if head in version_commits:  # promoted, but the record commit never landed
            return alias, {"alias": alias, "version": version_commits[head], "commit": head, "head": head}
        return alias, None

    if not candidates:
        return {}
    with ThreadPoolExecutor(max_workers=min(8, len(candidates))) as pool:
        return {a: r for a, r in pool.map(read, candidates) if r}


def read_listing(client: HubClient, repo: str, branch: str) -> Listing:
    refs = client.refs(repo)
    head = refs.branches.get(branch)
    problems: list[str] = []
    entries: list[dict[str, Any]] = []
    if head is not None:
        raw, _ = client.read_file(repo, layout.INDEX_PATH, head)
        entries, problems = index.parse(raw)
        if raw is None:
            entries, more = _entries_from_tags(client, repo, refs)
            problems += more
    alias_records = read_alias_records(client, repo, refs, branch)
    aliases = {a: r["version"] for a, r in alias_records.items()}
    by_version: dict[str, list[str]] = {}
    for a, v in sorted(aliases.items()):
        by_version.setdefault(v, []).append(a)
    versions = []
    pruned_records = index.tombstones(entries)
    pruned: list[VersionInfo] = []
    for e in index.versions(entries):
        v = e["version"]
        # Index lines are written by anyone with write access: keep only values of the right type.
        info = VersionInfo(
            version=v,
            commit=refs.tags.get(v),
            created_at=_text(e.get("created_at")),
            created_by=_text(e.get("created_by")),
            message=_text(e.get("message")),
            metrics=_obj(e.get("metrics")),
            aliases=by_version.get(v, []),
            kind=_text(e.get("kind")),
            base_model=_text(e.get("base_model")),
            lora_rank=e.get("lora_rank"),
            problems=[str(p) for p in e.get("problems", []) if isinstance(p, str)]
            if isinstance(e.get("problems"), list)
            else [],
        )
        if v in pruned_records:
            info.pruned = {k: _text(x) for k, x in pruned_records[v].items()}
            pruned.append(info)
            continue
        if info.commit is None:
            info.problems.append(f"tag {v} is missing: run `hubver verify {v} --repair --repo {repo}`")
        versions.append(info)
    for a, v in sorted(aliases.items()):
        if v in pruned_records:
            r = pruned_records[v]
            problems.append(
                f"alias {a} points at {v}, which was pruned by {_text(r.get('by')) or 'someone'} at "
                f"{_text(r.get('at')) or 'an unrecorded time'}: promote a live version to {a}."
            )
    # Free marks (no request): breaks in the index chain, tags that moved off the commit the
    # next version was published on. Content is checked when a version is read.
    for who, problem in chain_problems(entries, refs.tags):
        for info in versions:
            if info.version == who:
                info.problems.append(f"{problem} Run `hubver verify --repo {repo}`.")
    found = index.last_version(entries)
    last = versions[-1] if versions and found and found[1]["version"] == versions[-1].version else None
    if (
        found is not None
        and last is not None
        and last.commit
        and head
        and last.commit != head
        and "problems" not in found[1]
    ):
        # The latest version has no successor whose link could vouch for its tag; normally it
        # is the head, and only when it is not (another commit, a pruning) does the listing pay
        # for a content check.
        i, line = found
        with contextlib.suppress(HubverError):
            check = check_commit(client, repo, last.version, last.commit, line, position=entries[: i + 1])
            last.problems += [f"{p} Run `hubver verify --repo {repo}`." for p in check.problems]
    return Listing(repo, branch, head, versions, aliases, problems, refs, entries, pruned)


def check_version(
    client: HubClient, listing: Listing, version: str, commit: str, *, metadata_bytes: bytes | None = None
) -> ContentCheck:
    """Check that `commit` holds `version` (a version id, or an alias and the version it names)
    as the index at the branch head recorded it: one tree listing and hubver.json."""
    repo = listing.repo
    alias = version not in listing.refs.tags and version in listing.aliases
    wanted = listing.aliases[version] if alias else version
    position = next(
        (i for i, e in enumerate(listing.entries) if e["version"] == wanted and not index.is_tombstone(e)),
        None,
    )
    if position is None:
        check = ContentCheck(wanted, commit)
        check.problems.append(
            f"{wanted} is not in the version index of {repo}@{listing.branch} "
            "(a tag made by hand, a version of another branch, or an index that lost it)."
        )
        return check
    entries = listing.entries
    check = check_commit(
        client,
        repo,
        wanted,
        commit,
        entries[position],
        position=entries[: position + 1],
        alias=alias,
        metadata_bytes=metadata_bytes,
    )
    if not alias:
        named = published_commit(entries, position, None)
        if named and named != commit:
            check.problems.insert(
                0,
                f"TAG MOVED: {version} points at {commit[:12]}, but the next version was published "
                f"on top of {named[:12]}.",
            )
    return check


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _entries_from_tags(client: HubClient, repo: str, refs: Refs) -> tuple[list[dict[str, Any]], list[str]]:
    """No index (versions from an older hubver, or tags made by hand): read each tag's hubver.json."""
    entries = []
    for tag in ids.sort(refs.tags):
        try:
            meta = load_remote_metadata(client, repo, tag, refs.tags[tag])
        except MetadataError as e:
            entries.append({"version": tag, "problems": [e.message]})
            continue
        entries.append(index.entry_for(meta, push_id="", ci_key=None))
    return entries, ([f"{repo} has no version index; versions were read from each tag."] if entries else [])


def sort_versions(versions: list[VersionInfo], sort: str | None, limit: int | None) -> list[VersionInfo]:
    if sort:
        name = sort.lstrip("-")
        descending = sort.startswith("-")
        have = [v for v in versions if isinstance(v.metrics.get(name), (int, float))]
        missing = [v for v in versions if v not in have]
        have.sort(key=lambda v: v.metrics[name], reverse=descending)
        versions = have + missing
        return versions[:limit] if limit else versions
    return versions[-limit:] if limit else versions


def list_versions(
    repo: str | None = None,
    *,
    sort: str | None = None,
    limit: int | None = None,
    **connection: Unpack[Connection],
) -> list[VersionInfo]:
    """Every version on the branch, oldest first (or by `sort`: a metric, '-metric' for descending)."""
    with connect(repo, **connection) as registry:
        return registry.list_versions(sort=sort, limit=limit)


def resolve(
    repo: str | None = None,
    version: str = "",
    **connection: Unpack[Connection],
) -> str:
    """The commit sha a version id (a tag) or an alias (a branch) stands for.

    Raises VersionNotFound when it is neither.
    """
    with connect(repo, **connection) as registry:
        return registry.resolve(version)


@dataclass
class Selected:
    """What a selector (`latest`, `best:eval_loss`, `production@2026-01-31`, `v5~2`, an id) names."""

    repo: str
    selector: str
    version: str
    commit: str  # the version's tag commit: what a lockfile pins
    alias: str | None = None  # the alias the selector went through, if any
    alias_commit: str | None = None  # that alias branch's head now
    how: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def select_version(client: HubClient, listing: Listing, selector: str) -> Selected:
    """Resolve `selector` against the branch's index and refs (alias histories read only for
    ALIAS@DATE). SelectorError (a VersionNotFound) says what is wrong and lists the forms."""
    from .. import selectors

    sel = selectors.parse(selector)
    repo = listing.repo

    def history(alias: str) -> list[dict[str, Any]]:
        record = read_alias_records(client, repo, listing.refs, listing.branch).get(alias) or {}
        found = record.get("history")
        return [h for h in found if isinstance(h, dict)] if isinstance(found, list) else []

    got = selectors.resolve(sel, listing.entries, listing.refs.tags, listing.aliases, history, repo=repo)
    alias_commit = listing.refs.branches.get(got.alias) if got.alias else None
    return Selected(
        repo, selector, got.version, listing.refs.tags[got.version], got.alias, alias_commit, got.how
    )


def expand(client: HubClient, listing: Listing, selector: str) -> str:
    """The name the verbs read for `selector`: itself when it is a ref (a version id, an alias,
    a branch: what every verb accepted before selectors), else the version id it selects."""
    from ..selectors import parse

    refs = listing.refs
    if selector in refs.tags or selector in refs.branches:
        return selector
    if parse(selector).plain:
        return selector  # an unknown name: resolve_ref says so, as before
    return select_version(client, listing, selector).version


def selected_name(registry: Registry, selector: str, *, offline: bool = False) -> str:
    """`selector` itself when it is a bare name (no request), else the version id it selects."""
    from ..errors import SelectorError
    from ..selectors import HINT, parse

    if parse(selector).plain:  # a selector that cannot be read says why, listing the forms
        return selector
    if offline:
        raise SelectorError(
            f"{selector!r} is a selector, and selectors are resolved on the Hub, which HF_HUB_OFFLINE "
            "forbids asking.",
            f"Offline, name the version id itself, or pin it with `hubver lock` while online. {HINT}",
        )
    return registry.select(selector).version


def select(
    repo: str | None = None,
    selector: str = "",
    **connection: Unpack[Connection],
) -> Selected:
    """What `selector` names in `repo` (`latest`, `best:eval_loss`, `production@2026-01-31`,
    `v5~2`, an id or an alias): the version, its commit and how it was reached."""
    with connect(repo, **connection) as registry:
        return registry.select(selector)


def not_pruned(listing: Listing, version: str, *, tagged_too: bool = False) -> None:
    """Raise VersionPruned, saying by whom, when and why, if `version` was pruned (and is not a
    ref; with `tagged_too`, even if its tag is still there: promote never takes a pruned version)."""
    record = listing.pruned_record(version)
    if record is None or version in listing.refs.branches:
        return
    if version in listing.refs.tags and not tagged_too:
        return
    raise VersionPruned(
        f"Version {version} of {listing.repo} was pruned by {record.get('by') or 'someone'} "
        f"at {record.get('at') or 'an unrecorded time'}: {record.get('reason') or 'no reason recorded'}.",
        f"Its id is never reused. Run `hubver list --all --repo {listing.repo}` to see every version, "
        "pruned ones included.",
    )


def resolve_ref(refs: Refs, repo: str, version: str) -> str:
    if version in refs.tags:
        return refs.tags[version]
    if version in refs.branches:
        return refs.branches[version]
    known = ids.sort(refs.tags)
    raise VersionNotFound(
        f"Version {version} not found in {repo}."
        + (f" Known versions: {', '.join(known[-5:])}{' ...' if len(known) > 5 else ''}." if known else ""),
        f"Run `hubver list --repo {repo}` to see every version. {_FORMS_HINT}",
    )


_FORMS_HINT = "Or name one by a selector: latest, best:METRIC, min:METRIC, max:METRIC, ALIAS@DATE, SEL~N."


def get_version(
    repo: str | None = None,
    version: str = "",
    *,
    unchecked: bool = False,
    **connection: Unpack[Connection],
) -> VersionDetail:
    """One version: its index entry, its full hubver.json, and its model card's front matter.

    Raises IntegrityError if the tag's commit does not hold the version the index recorded
    (moved tag, changed files or metadata); `unchecked` reads it anyway, for forensics.
    """
    with connect(repo, **connection) as registry:
        return registry.get_version(version, unchecked=unchecked)


def read_version(registry: Registry, version: str, *, unchecked: bool = False) -> VersionDetail:
    """`Registry.get_version`: see `get_version`."""
    from ..card import split_card

    client, r = registry.client, registry.repo
    listing = read_listing(client, r, registry.branch)
    version = expand(client, listing, version)
    not_pruned(listing, version)
    commit = resolve_ref(listing.refs, r, version)
    info = next((v for v in listing.versions if v.version == version), None)
    if info is None:
        alias_version = listing.aliases.get(version)
        base = next((v for v in listing.versions if v.version == alias_version), None)
        info = (
            VersionInfo(version, commit)
            if base is None
            else VersionInfo(**{**base.to_dict(), "commit": commit})
        )
    if unchecked:
        metadata = load_remote_metadata(client, r, version, commit)
    else:
        check = check_version(client, listing, version, commit)
        check.raise_if_broken(r)
        metadata = check.metadata or {}
    raw_card, _ = client.read_file(r, layout.CARD_PATH, commit)
    card_meta, _, _ = split_card(raw_card.decode("utf-8", "replace") if raw_card else None)
    return VersionDetail(info, metadata, card_meta)


@dataclass
class VersionDiff:
    repo: str
    a: str
    b: str
    commits: tuple[str, str]
    kind: tuple[Any, Any]
    base_model: tuple[Any, Any]
    hyperparameters: dict[str, tuple[Any, Any]]
    peft: dict[str, tuple[Any, Any]]
    lora_rank: tuple[Any, Any]
    lora_ranks: dict[str, tuple[Any, Any]]
    metrics: dict[str, tuple[Any, Any, Any]]
    files_added: list[dict[str, Any]]
    files_removed: list[dict[str, Any]]
    files_changed: list[dict[str, Any]]
    code: dict[str, tuple[Any, Any]]
    dataset: dict[str, tuple[Any, Any]]
    problems: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def remote_lora_ranks(
    client: HubClient, repo: str, commit: str, meta: dict[str, Any], problems: list[str] | None = None
) -> dict[str, int]:
    """LoRA ranks read from the version's weight headers on the Hub (range requests, no download).

    A header that cannot be read (garbage published by someone else) is left out, and said in `problems`.
    """
    ranks: dict[str, int] = {}
    for path in _files(meta):
        if path.endswith(".safetensors") and path.rsplit("/", 1)[-1].startswith("adapter_model"):
            try:
                ranks.update(lora_ranks(client.safetensors_tensors(repo, path, commit)))
            except HubverError as e:
                if problems is not None:
                    problems.append(f"{path} at {commit[:12]}: {e.message} Its LoRA ranks are not compared.")
    return ranks


def diff(
    repo: str | None = None,
    a: str = "",
    b: str = "",
    *,
    unchecked: bool = False,
    **connection: Unpack[Connection],
) -> VersionDiff:
    """What changed from version `a` to version `b`: settings, LoRA ranks (from the weights), metrics, files."""
    with connect(repo, **connection) as registry:
        return registry.diff(a, b, unchecked=unchecked)


def diff_versions(registry: Registry, a: str, b: str, *, unchecked: bool = False) -> VersionDiff:
    """`Registry.diff`: see `diff`."""
    client, r = registry.client, registry.repo
    listing = read_listing(client, r, registry.branch)
    refs = listing.refs
    a, b = expand(client, listing, a), expand(client, listing, b)
    ca, cb = resolve_ref(refs, r, a), resolve_ref(refs, r, b)
    with ThreadPoolExecutor(max_workers=2) as pool:
        if unchecked:
            ma, mb = pool.map(lambda vc: load_remote_metadata(client, r, *vc), [(a, ca), (b, cb)])
        else:
            checks = list(pool.map(lambda vc: check_version(client, listing, *vc), [(a, ca), (b, cb)]))
            for check in checks:
                check.raise_if_broken(r)
            ma, mb = (c.metadata or {} for c in checks)
        problems: list[str] = []
        ra, rb = pool.map(
            lambda cm: remote_lora_ranks(client, r, cm[0], cm[1], problems), [(ca, ma), (cb, mb)]
        )
    d = diff_documents(ma, mb, ra, rb)
    return VersionDiff(
        repo=r,
        a=a,
        b=b,
        commits=(ca, cb),
        kind=d.kind,
        base_model=d.base_model,
        hyperparameters=d.hyperparameters,
        peft=d.peft,
        lora_rank=(rank_summary(ra), rank_summary(rb)),
        lora_ranks=d.lora_ranks,
        metrics=d.metrics,
        files_added=d.files_added,
        files_removed=d.files_removed,
        files_changed=d.files_changed,
        code=d.code,
        dataset=d.dataset,
        problems=problems,
    )


def load_remote_metadata(client: HubClient, repo: str, version: str, commit: str) -> dict[str, Any]:
    """hubver.json of a version; MetadataError naming the version and file if missing or broken."""
    raw, _ = client.read_file(repo, layout.METADATA_PATH, commit)
    if raw is None:
        raise MetadataError(
            f"Version {version} of {repo} has no {layout.METADATA_PATH} (commit {commit[:12]}).",
            "It was not published by hubver, or the file was removed.",
        )
    meta = parse_json(raw, f"{layout.METADATA_PATH} of version {version} in {repo}")
    if not isinstance(meta, dict):
        raise MetadataError(f"{layout.METADATA_PATH} of version {version} in {repo} is not a JSON object.")
    return meta
