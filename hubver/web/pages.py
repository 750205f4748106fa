"""The page builders: a `Source` and a request's parameters in, a template's context out.

Nothing here knows HTTP or who serves the pages. Everything read from a repository is untrusted
(anyone with write access may have edited it): values are type-checked here and escaped by the
templates. A repo page costs the refs, the index at the head, the card and one small record per
alias, however many versions there are.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import quote

from .. import charts
from ..versiondiff import diff_documents, files_of, is_number, obj
from .render import format_value, render_card
from .source import NotFound, RefSet, Source

DEFAULT_BRANCH = "main"
INDEX_PATH = ".hubver/versions.jsonl"
METADATA_PATH = "hubver.json"
CARD_PATH = "README.md"
ALIAS_PATH = ".hubver/alias.json"
TYPE_DIRS = {"model": "", "dataset": "datasets/"}
MAX_COMMITS = 200


class BadRequest(Exception):
    """A parameter the page cannot take (a malformed compare range): a 400 page saying the form."""


@dataclass(frozen=True)
class RepoRef:
    repo_type: str
    repo_id: str
    root: str = ""  # the site's path prefix: `hubver ui` serves every page under `/s/<key>`

    def named(self, repo_id: str) -> RepoRef:
        return replace(self, repo_id=repo_id)

    @property
    def base(self) -> str:
        """The repository's page path: `ROOT/NS/NAME` or `ROOT/datasets/NS/NAME`."""
        ns, name = self.repo_id.split("/")
        return f"{self.root}/{TYPE_DIRS.get(self.repo_type, '')}{quote(ns, safe='')}/{quote(name, safe='')}"

    def resolve_url(self, rev: str, path: str) -> str:
        return f"{self.base}/resolve/{quote(rev, safe='')}/{quote(path, safe='/')}"


_number = is_number  # finite, and convertible to a float (no 400-digit integers)


def _text(x: Any) -> str | None:
    return x if isinstance(x, str) else None


def read_json(source: Source, ref: RepoRef, commit: str, path: str) -> Any:
    raw = source.read_file(ref.repo_type, ref.repo_id, commit, path)
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None


def parse_index(raw: bytes | None) -> list[dict[str, Any]]:
    """The index's entries with a version id (unreadable lines are skipped, as `hubver list` does)."""
    entries: list[dict[str, Any]] = []
    for line in (raw or b"").decode("utf-8", "replace").split("\n"):
        if not line.strip():
            continue
        try:
            e = json.loads(line)
        except (ValueError, RecursionError):
            continue
        if isinstance(e, dict) and isinstance(e.get("version"), str):
            entries.append(e)
    return entries


@dataclass
class RepoState:
    """What every page of a repo starts from: refs, the index at the head, the alias records."""

    ref: RepoRef
    refs: RefSet
    head: str | None
    entries: list[dict[str, Any]]
    aliases: dict[str, dict[str, Any]]  # alias -> its record (version, history)
    by_version: dict[str, list[str]] = field(default_factory=dict)

    def position(self, version: str) -> int | None:
        return next((i for i, e in enumerate(self.entries) if e["version"] == version), None)


def repo_state(source: Source, ref: RepoRef, *, with_aliases: bool = True) -> RepoState:
    refs = source.refs(ref.repo_type, ref.repo_id)
    head = refs.branches.get(DEFAULT_BRANCH)
    raw = source.read_file(ref.repo_type, ref.repo_id, head, INDEX_PATH) if head else None
    entries = parse_index(raw)
    aliases: dict[str, dict[str, Any]] = {}
    if with_aliases:
        for branch, sha in sorted(refs.branches.items()):
            if branch == DEFAULT_BRANCH:
                continue
            record = read_json(source, ref, sha, ALIAS_PATH)
            if isinstance(record, dict) and isinstance(record.get("version"), str):
                history = record.get("history")
                record["history"] = (
                    [h for h in history if isinstance(h, dict)] if isinstance(history, list) else []
                )
                aliases[branch] = record
    state = RepoState(ref, refs, head, entries, aliases)
    for alias, record in aliases.items():
        state.by_version.setdefault(record["version"], []).append(alias)
    return state


def metric_names(entries: list[dict[str, Any]]) -> list[str]:
    names = {k for e in entries for k, v in obj(e.get("metrics")).items() if _number(v)}
    return sorted(names)


_cards: OrderedDict[tuple[str, str, str], str] = OrderedDict()  # (type, page base, commit) -> HTML
_cards_lock = threading.Lock()
MAX_CARDS = 64


def card(source: Source, ref: RepoRef, commit: str) -> str:
    """The rendered card at `commit`, from a small LRU: a commit never changes, and rendering a
    long card (a table of every version) is most of a repo page's time."""
    key = (ref.repo_type, ref.base, commit)
    with _cards_lock:
        if key in _cards:
            _cards.move_to_end(key)
            return _cards[key]
    raw = source.read_file(ref.repo_type, ref.repo_id, commit, CARD_PATH)
    html = render_card(raw.decode("utf-8", "replace"), f"{ref.base}/resolve/{DEFAULT_BRANCH}") if raw else ""
    with _cards_lock:
        _cards[key] = html
        while len(_cards) > MAX_CARDS:
            _cards.popitem(last=False)
    return html


# -- pages -------------------------------------------------------------------------------------


def home_page(source: Source, q: str, root: str = "") -> dict[str, Any]:
    repos = [r for t in ("model", "dataset") for r in source.list_repos(t)]
    needle = q.strip().lower()
    if needle:
        repos = [r for r in repos if needle in r.repo_id.lower()]
    repos.sort(key=lambda r: -(r.updated or 0))
    rows = [
        {
            "id": r.repo_id,
            "url": RepoRef(r.repo_type, r.repo_id, root).base,
            "type": r.repo_type,
            "owner": r.repo_id.split("/")[0],
            "updated": r.updated,
            "versions": r.versions,
            "private": r.private,
        }
        for r in repos
    ]
    return {"title": "Repositories", "repos": rows, "q": q}


def _sort_key(sort: str) -> tuple[str, bool]:
    return sort.lstrip("-"), sort.startswith("-")


def repo_page(source: Source, ref: RepoRef, *, sort: str = "", q: str = "") -> dict[str, Any]:
    summary = source.repo(ref.repo_type, ref.repo_id)
    ref = ref.named(summary.repo_id)
    state = repo_state(source, ref)
    card_html = card(source, ref, state.head) if state.head else ""
    metrics = metric_names(state.entries)
    rows = []
    for e in state.entries:
        v = e["version"]
        m = obj(e.get("metrics"))
        rows.append(
            {
                "version": v,
                "date": _text(e.get("created_at")) or "",
                "commit": (state.refs.tags.get(v) or "")[:8],
                "aliases": sorted(state.by_version.get(v, [])),
                "metrics": {k: m[k] for k in metrics if _number(m.get(k))},
                "message": _text(e.get("message")) or "",
                "url": f"{ref.base}/versions/{quote(v, safe='')}",
                "tree": f"{ref.base}/tree/{quote(v, safe='')}",
            }
        )
    needle = q.strip().lower()
    if needle:
        rows = [
            r
            for r in rows
            if needle in r["version"].lower()
            or needle in r["message"].lower()
            or any(needle in a.lower() for a in r["aliases"])
        ]
    name, descending = _sort_key(sort)
    if name in metrics:
        have = [r for r in rows if name in r["metrics"]]
        have.sort(key=lambda r: r["metrics"][name], reverse=descending)
        rows = have + [r for r in rows if name not in r["metrics"]]
    elif name == "date":
        rows.sort(key=lambda r: r["date"], reverse=descending)
    elif name == "version" and descending:
        rows.reverse()
    for r in rows:  # formatted here, once: a 500-version table is 5000 cells
        r["cells"] = [format_value(r["metrics"].get(k)) for k in metrics]
    return {
        "title": ref.repo_id,
        "repo": ref,
        "private": summary.private,
        "card": card_html,
        "metrics": metrics,
        "rows": rows,
        "sort": sort,
        "q": q,
        "total": len(state.entries),
    }


def tree_page(source: Source, ref: RepoRef, rev: str, path: str) -> dict[str, Any]:
    summary = source.repo(ref.repo_type, ref.repo_id)
    ref = ref.named(summary.repo_id)
    commit = source.resolve(ref.repo_type, ref.repo_id, rev)
    items = source.tree(ref.repo_type, ref.repo_id, commit, path)
    refs = source.refs(ref.repo_type, ref.repo_id)
    is_version = (
        refs.tags.get(rev) == commit
        and isinstance((meta := read_json(source, ref, commit, METADATA_PATH)), dict)
        and meta.get("version") == rev
    )
    parts = [p for p in path.strip("/").split("/") if p]
    crumbs = [{"name": p, "path": "/".join(parts[: i + 1])} for i, p in enumerate(parts)]
    return {
        "title": f"{ref.repo_id} at {rev}",
        "repo": ref,
        "rev": rev,
        "commit": commit,
        "path": path.strip("/"),
        "crumbs": crumbs,
        "items": [
            {
                "path": i.path,
                "name": i.path.rsplit("/", 1)[-1],
                "is_dir": i.is_dir,
                "size": i.size,
                "lfs": i.lfs,
            }
            for i in items
        ],
        "version": rev if is_version else None,
    }


def commits_page(source: Source, ref: RepoRef, rev: str) -> dict[str, Any]:
    summary = source.repo(ref.repo_type, ref.repo_id)
    ref = ref.named(summary.repo_id)
    commit = source.resolve(ref.repo_type, ref.repo_id, rev)
    refs = source.refs(ref.repo_type, ref.repo_id)
    tags_at: dict[str, list[str]] = {}
    for tag, sha in refs.tags.items():
        tags_at.setdefault(sha, []).append(tag)
    commits = source.commits(ref.repo_type, ref.repo_id, commit, MAX_COMMITS)
    return {
        "title": f"Commits of {ref.repo_id} at {rev}",
        "repo": ref,
        "rev": rev,
        "commits": [
            {
                "sha": c.sha,
                "title": c.title,
                "author": c.author,
                "time": c.time,
                "tags": sorted(tags_at.get(c.sha, [])),
            }
            for c in commits
        ],
    }


def _version_meta(source: Source, state: RepoState, version: str) -> tuple[str, dict[str, Any]]:
    commit = state.refs.tags.get(version)
    if commit is None:
        raise NotFound(f"Version {version} not found in {state.ref.repo_id}.")
    meta = read_json(source, state.ref, commit, METADATA_PATH)
    if not isinstance(meta, dict):
        raise NotFound(f"Version {version} of {state.ref.repo_id} has no readable {METADATA_PATH}.")
    return commit, meta


def lora_table(meta: dict[str, Any]) -> tuple[list[tuple[str, Any]], str]:
    """module -> rank, and where the ranks come from: the weights' shapes (recorded at push) or the config."""
    ranks = obj(meta.get("lora_ranks"))
    if ranks:
        return sorted(ranks.items()), "the weights"
    peft = obj(meta.get("peft"))
    targets = peft.get("target_modules")
    if isinstance(targets, str):
        targets = [targets]
    if isinstance(targets, list) and "r" in peft:
        return [(str(t), peft.get("r")) for t in sorted(map(str, targets))], "adapter_config.json"
    return [], ""


def load_code(repo_id: str, version: str, meta: dict[str, Any]) -> str:
    base = _text(obj(meta.get("base_model")).get("name"))
    r, v = json.dumps(repo_id), json.dumps(version)
    if meta.get("kind") == "adapter":
        lines = [
            "from peft import AutoPeftModelForCausalLM",
            f"model = AutoPeftModelForCausalLM.from_pretrained({r}, revision={v})",
        ]
        if base:
            lines.insert(0, f"# adapter on {base}")
    else:
        lines = [
            "from transformers import AutoModelForCausalLM",
            f"model = AutoModelForCausalLM.from_pretrained({r}, revision={v})",
        ]
    lines += [
        "",
        "# or, checking the files against the version's manifest first:",
        "import hubver",
        f"model = hubver.load({r}, {v})",
    ]
    return "\n".join(lines)


def loss_chart(meta: dict[str, Any], version: str) -> str | None:
    history = obj(meta.get("training")).get("log_history")
    points = []
    for n, p in enumerate(history if isinstance(history, list) else []):
        if isinstance(p, dict) and _number(p.get("loss")):
            step = p.get("step")
            x = step if _number(step) else n
            points.append(charts.Point(float(x), float(p["loss"]), f"step {x}: loss {p['loss']:.4g}", str(x)))
    if not points:
        return None
    return charts.line_chart(
        points, title=f"Training loss of {version}", x_label="step", y_label="loss", css_class="loss"
    )


def version_page(source: Source, ref: RepoRef, version: str) -> dict[str, Any]:
    summary = source.repo(ref.repo_type, ref.repo_id)
    ref = ref.named(summary.repo_id)
    state = repo_state(source, ref)
    commit, meta = _version_meta(source, state, version)
    pos = state.position(version)
    prev = state.entries[pos - 1]["version"] if pos is not None and pos > 0 else None
    nxt = state.entries[pos + 1]["version"] if pos is not None and pos + 1 < len(state.entries) else None
    lora, lora_from = lora_table(meta)
    env = obj(meta.get("environment"))
    provenance = {
        "created_by": _text(meta.get("created_by")),
        "created_at": _text(meta.get("created_at")),
        "code": obj(meta.get("code")),
        "dataset": obj(meta.get("dataset")),
        "environment": {k: env.get(k) for k in ("python", "platform", "machine") if env.get(k) is not None},
        "packages": obj(env.get("packages")),
        "ci_url": _text(obj(meta.get("ci")).get("run_url")),
    }
    metrics = {k: v for k, v in sorted(obj(meta.get("metrics")).items())}
    settings = {
        "kind": meta.get("kind"),
        "base model": obj(meta.get("base_model")).get("name"),
        "message": meta.get("message"),
        "parent": obj(meta.get("parent")).get("version"),
        "epoch": obj(meta.get("training")).get("epoch"),
        "global step": obj(meta.get("training")).get("global_step"),
        "files": len(files_of(meta)),
        "size": sum(f.get("size", 0) for f in files_of(meta).values() if _number(f.get("size"))),
    }
    return {
        "title": f"{ref.repo_id} {version}",
        "repo": ref,
        "version": version,
        "commit": commit,
        "settings": settings,
        "hyperparameters": sorted(obj(obj(meta.get("training")).get("hyperparameters")).items()),
        "lora": lora,
        "lora_from": lora_from,
        "load_code": load_code(ref.repo_id, version, meta),
        "provenance": provenance,
        "prev": prev,
        "next": nxt,
        "loss_svg": loss_chart(meta, version),
        "metrics": metrics,
        "aliases": sorted(state.by_version.get(version, [])),
    }


def chart_page(source: Source, ref: RepoRef, metric: str) -> dict[str, Any]:
    summary = source.repo(ref.repo_type, ref.repo_id)
    ref = ref.named(summary.repo_id)
    state = repo_state(source, ref)
    names = metric_names(state.entries)
    base = {"repo": ref, "metric": metric, "metrics": names}
    if metric not in names:
        return {**base, "title": f"No metric {metric!r}", "missing": True, "svg": None}
    positions = {e["version"]: i for i, e in enumerate(state.entries)}
    points = []
    for i, e in enumerate(state.entries):
        value = obj(e.get("metrics")).get(metric)
        if _number(value):
            v = e["version"]
            points.append(
                charts.Point(
                    float(i),
                    float(value),
                    f"{v}: {metric} = {value:.6g}",
                    v,
                    f"{ref.base}/versions/{quote(v, safe='')}",
                )
            )
    markers = []
    for alias, record in sorted(state.aliases.items()):
        for h in record["history"]:
            to = _text(h.get("to"))
            if to is not None and to in positions:
                markers.append(
                    charts.Marker(
                        float(positions[to]), f"{alias} → {to} ({_text(h.get('at')) or '?'})", alias, to
                    )
                )
    ticks = [(float(i), e["version"]) for i, e in enumerate(state.entries)]
    if len(ticks) > 20:
        step = len(ticks) // 10 + 1
        ticks = ticks[::step]
    svg = charts.line_chart(
        points,
        title=f"{metric} across versions",
        x_label="version",
        y_label=metric,
        markers=markers,
        x_ticks=ticks,
        css_class="metric",
    )
    return {**base, "title": f"{metric} of {ref.repo_id}", "missing": False, "svg": svg}


def parse_range(spec: str) -> tuple[str, str]:
    a, sep, b = spec.partition("...")
    if not sep or not a or not b or "..." in b:
        raise BadRequest(f"{spec!r} is not a range: compare two versions as A...B (for example v1...v2).")
    return a, b


def compare_page(source: Source, ref: RepoRef, spec: str) -> dict[str, Any]:
    a, b = parse_range(spec)
    summary = source.repo(ref.repo_type, ref.repo_id)
    ref = ref.named(summary.repo_id)
    state = repo_state(source, ref, with_aliases=False)
    (ca, ma), (cb, mb) = _version_meta(source, state, a), _version_meta(source, state, b)
    la, from_a = lora_table(ma)
    lb, from_b = lora_table(mb)
    ranks_a = {m: r for m, r in la if isinstance(r, int)}
    ranks_b = {m: r for m, r in lb if isinstance(r, int)}
    d = diff_documents(ma, mb, ranks_a, ranks_b)
    files = (
        [
            {"path": f["path"], "change": "added", "size_a": None, "size_b": f.get("size")}
            for f in d.files_added
        ]
        + [
            {"path": f["path"], "change": "removed", "size_a": f.get("size"), "size_b": None}
            for f in d.files_removed
        ]
        + [{**f, "change": "changed"} for f in d.files_changed]
        + [
            {"path": f["path"], "change": "same", "size_a": f.get("size"), "size_b": f.get("size")}
            for f in d.files_same
        ]
    )
    files.sort(key=lambda f: str(f["path"]))
    all_ranks = sorted(set(ranks_a) | set(ranks_b))
    code_a, code_b = obj(ma.get("code")), obj(mb.get("code"))
    return {
        "title": f"{ref.repo_id}: {a}...{b}",
        "repo": ref,
        "a": a,
        "b": b,
        "commits": (ca, cb),
        "diff": d,
        "lora": [(m, ranks_a.get(m), ranks_b.get(m)) for m in all_ranks],
        "lora_from": (from_a, from_b),
        "files": files,
        "code": [(k, code_a.get(k), code_b.get(k)) for k in ("commit", "branch", "dirty", "remote")],
    }


def aliases_page(source: Source, ref: RepoRef) -> dict[str, Any]:
    summary = source.repo(ref.repo_type, ref.repo_id)
    ref = ref.named(summary.repo_id)
    state = repo_state(source, ref)
    events = []
    for alias, record in state.aliases.items():
        for h in record["history"] or [{"to": record["version"]}]:
            events.append(
                {
                    "alias": alias,
                    "from": _text(h.get("from")) or "",
                    "to": _text(h.get("to")) or "",
                    "by": _text(h.get("by")) or "",
                    "at": _text(h.get("at")) or "",
                }
            )
    # Newest first; promotions within one second keep their recorded order (reversed).
    order = {id(e): n for n, e in enumerate(events)}
    events.sort(key=lambda e: (e["at"], order[id(e)]), reverse=True)
    current = {a: r["version"] for a, r in sorted(state.aliases.items())}
    return {"title": f"Aliases of {ref.repo_id}", "repo": ref, "events": events, "current": current}
