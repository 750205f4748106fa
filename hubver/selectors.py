"""Selectors: the words that name a version without its id (`latest`, `best:eval_loss`,
`production@2026-01-31`, `v5~2`), parsed and resolved against a branch's index. Pure: no request.

Grammar (`SEL~N` may follow any form, and repeats: `v5~1~1` is `v5~2`):

    latest            the newest live version of the branch
    best:METRIC       the version with the best METRIC (direction.py says which way is better)
    min:METRIC        ... the lowest METRIC
    max:METRIC        ... the highest METRIC
    ALIAS@DATE        the version ALIAS pointed at then (from its promotion history); DATE is an ISO
                      date (the end of that day, UTC) or datetime (UTC unless it has a zone)
    SEL~N             N live versions before SEL's version, in publication order
    ID or ALIAS       a version id (a tag) or an alias (a branch), as always

Version ids and alias names cannot hold ':', '@' or '~' (ids.py), so those characters make a
selector; a metric name may hold '@' or ':' (`best:recall@5`). The one word, `latest`, is taken
literally when a tag or alias of that name exists (repositories from before selectors), and hubver
refuses to create one.

A live version is one whose tag exists and that has no tombstone (`{"version": ID, "pruned":
{...}}`) in the index: a selector never resolves to a pruned version. Order is the index's, which
is the order versions were published in (what `hubver list` shows). `best:` skips versions without
a numeric value of the metric; on a tie the later version wins (the newer of two equally good runs
is the one with more behind it, and `latest` agrees with `best:` on a repo of equal runs).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from typing import Any, Literal

from .direction import direction, is_better, is_number
from .errors import SelectorError

LATEST = "latest"
RESERVED_NAMES = (LATEST,)

FORMS = (
    "latest, best:METRIC, min:METRIC, max:METRIC, ALIAS@DATE (e.g. production@2026-01-31 or "
    "production@2026-01-31T12:00:00Z), SEL~N (e.g. v5~2, latest~1, production~1), a version id or an alias"
)
HINT = f"A version is named by one of: {FORMS}."

Kind = Literal["name", "latest", "best", "min", "max", "at"]
_BACK = re.compile(r"~(\d*)$")


@dataclass(frozen=True)
class Selector:
    text: str
    kind: Kind
    name: str = ""  # version or alias name (name, at), or metric (best, min, max)
    when: datetime | None = None  # at: the instant, UTC, inclusive
    back: int = 0

    @property
    def plain(self) -> bool:
        """A bare version id or alias name: what every verb accepted before selectors."""
        return self.kind == "name" and self.back == 0


@dataclass(frozen=True)
class Resolution:
    selector: str
    version: str
    alias: str | None = None  # the alias the selector went through, if any
    how: str = ""  # one line: how the selector reached the version


def parse(text: str) -> Selector:
    """Read a selector; SelectorError saying what is wrong and listing the forms."""
    if not isinstance(text, str) or not text.strip():
        raise SelectorError("An empty version selector names no version.", HINT)
    if text != text.strip():
        raise SelectorError(f"Version selector {text!r} has spaces around it.", HINT)
    base, back = text, 0
    while (m := _BACK.search(base)) is not None:
        if not m.group(1):
            raise SelectorError(f"{text!r}: '~' must be followed by a number of versions (v5~2).", HINT)
        back += int(m.group(1))
        base = base[: m.start()]
    for kind in ("best", "min", "max"):
        if base.startswith(kind + ":"):
            metric = base[len(kind) + 1 :]
            if not metric:
                raise SelectorError(f"{text!r} names no metric: write {kind}:eval_loss.", HINT)
            return Selector(text, kind, metric, back=back)  # type: ignore[arg-type]
    if "~" in base:
        raise SelectorError(f"{text!r}: '~' must be followed by a number of versions (v5~2).", HINT)
    name, at, when = base.partition("@")  # a datetime holds ':', an alias never does
    if ":" in name:
        raise SelectorError(f"{text!r} is not a selector: before ':' only best, min or max may stand.", HINT)
    if at:
        if not name:
            raise SelectorError(f"{text!r} names no alias before '@': write production@2026-01-31.", HINT)
        return Selector(text, "at", name, parse_when(when, text), back=back)
    if not base:
        raise SelectorError(f"{text!r} names no version before '~'.", HINT)
    return Selector(text, "latest" if base == LATEST else "name", base, back=back)


def parse_when(value: str, text: str = "") -> datetime:
    """An ISO date (the end of that day, UTC) or datetime (UTC unless it names a zone)."""
    where = text or value
    if not value:
        raise SelectorError(f"{where!r} has no date after '@': write production@2026-01-31.", HINT)
    try:
        day = date.fromisoformat(value)
    except ValueError:
        pass
    else:
        return datetime.combine(day, time.max, tzinfo=timezone.utc)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise SelectorError(
            f"{where!r}: {value!r} is not an ISO date or datetime (2026-01-31, 2026-01-31T12:00:00Z).",
            HINT,
        ) from None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def live_versions(entries: Sequence[Mapping[str, Any]], tags: Mapping[str, str]) -> list[Mapping[str, Any]]:
    """Index entries of the versions a selector may name, in publication order: tagged, not pruned."""
    pruned = {e.get("version") for e in entries if "pruned" in e}
    seen: set[str] = set()
    out = []
    for e in entries:
        v = e.get("version")
        if isinstance(v, str) and v not in pruned and v in tags and v not in seen:
            seen.add(v)
            out.append(e)
    return out


History = Callable[[str], Sequence[Mapping[str, Any]]]


def resolve(
    selector: str | Selector,
    entries: Sequence[Mapping[str, Any]],
    tags: Mapping[str, str],
    aliases: Mapping[str, str],
    history: History,
    *,
    repo: str = "the repository",
) -> Resolution:
    """The live version `selector` names, given the branch index `entries`, the `tags`
    (version -> commit), `aliases` (alias -> version) and `history(alias)` (its promotions,
    oldest first: {"to": version, "at": ISO time, ...})."""
    sel = selector if isinstance(selector, Selector) else parse(selector)
    live = live_versions(entries, tags)
    order = [str(e["version"]) for e in live]
    pruned = {str(e.get("version")) for e in entries if "pruned" in e}
    alias: str | None = None
    if sel.kind == "name" or (sel.kind == "latest" and (sel.name in tags or sel.name in aliases)):
        if sel.name in tags:
            version, how = sel.name, ""
        elif sel.name in aliases:
            alias, version = sel.name, aliases[sel.name]
            how = f"{alias} points at {version}"
            if version not in tags:
                raise SelectorError(
                    f"{alias} points at {version}, which is no longer available in {repo}"
                    + (
                        f" (pruned: {_pruned_why(entries, version)})."
                        if version in pruned
                        else " (its tag is gone)."
                    ),
                    f"Promote a live version to {alias} (`hubver promote VERSION {alias}`), or name the "
                    f"version you want. {HINT}",
                )
            if version in pruned:
                how += f" (pruned, its tag not yet deleted: {_pruned_why(entries, version)})"
        else:
            shown = ", ".join(order[-5:]) + (" ..." if len(order) > 5 else "")
            raise SelectorError(
                f"No version or alias {sel.name} in {repo}"
                + (f" (it was pruned: {_pruned_why(entries, sel.name)})" if sel.name in pruned else "")
                + (f". Newest versions: {shown}." if order else ": it has no versions yet."),
                HINT,
            )
    elif sel.kind == "latest":
        if not order:
            raise SelectorError(f"latest: {repo} has no live versions.", "Publish one with `hubver push`.")
        version, how = order[-1], f"latest is {order[-1]}"
    elif sel.kind in ("best", "min", "max"):
        whole = sel.text[len(sel.kind) + 1 :]
        if sel.back and not _has_metric(live, sel.name) and _has_metric(live, whole):
            sel = Selector(sel.text, sel.kind, whole)  # a metric whose name ends in ~N (x~1)
        version, how = _best(sel, live, repo)
    else:
        alias = sel.name
        version, how = _at(sel, aliases, history, repo)
        if version in pruned or version not in tags:
            raise SelectorError(
                f"{sel.text}: {how}, which is no longer available"
                + (
                    f" (pruned: {_pruned_why(entries, version)})."
                    if version in pruned
                    else " (its tag is gone)."
                ),
                f"Name another date, or the version itself. {HINT}",
            )
    if sel.back:
        if version not in order:
            raise SelectorError(
                f"{sel.text}: {version} is not a live version of {repo}, so nothing is counted back from it.",
                HINT,
            )
        i = order.index(version)
        if sel.back > i:
            raise SelectorError(
                f"{sel.text}: only {i} version(s) were published before {version} in {repo}"
                f" ({order[0]} is the oldest).",
                HINT,
            )
        how = (how + "; " if how else "") + f"{sel.back} before {version} is {order[i - sel.back]}"
        version = order[i - sel.back]
    return Resolution(sel.text, version, alias, how)


def _has_metric(live: Sequence[Mapping[str, Any]], metric: str) -> bool:
    return any(isinstance(e.get("metrics"), dict) and is_number(e["metrics"].get(metric)) for e in live)


def _best(sel: Selector, live: Sequence[Mapping[str, Any]], repo: str) -> tuple[str, str]:
    metric = sel.name
    how = direction(metric) if sel.kind == "best" else sel.kind
    chosen: tuple[str, float] | None = None
    for e in live:
        metrics = e.get("metrics")
        value = metrics.get(metric) if isinstance(metrics, dict) else None
        if not is_number(value):
            continue
        # Ties go to the later version: replace unless the earlier one is strictly better.
        if chosen is None or not is_better(metric, chosen[1], value, how):  # type: ignore[arg-type]
            chosen = (str(e["version"]), float(value))  # type: ignore[arg-type]
    if chosen is None:
        names = sorted(
            {
                k
                for e in live
                if isinstance(e.get("metrics"), dict)
                for k, v in e["metrics"].items()
                if is_number(v)
            }
        )
        raise SelectorError(
            f"{sel.text}: no live version of {repo} has the metric {metric!r}."
            + (f" Metrics recorded: {', '.join(names)}." if names else " No version records any metric."),
            f"Pick one of those metrics. {HINT}",
        )
    word = {"min": "lowest", "max": "highest"}[how]
    return chosen[0], f"{chosen[0]} has the {word} {metric} ({chosen[1]:g})"


def _at(sel: Selector, aliases: Mapping[str, str], history: History, repo: str) -> tuple[str, str]:
    alias, when = sel.name, sel.when
    assert when is not None
    if alias not in aliases:
        known = ", ".join(sorted(aliases)) or "none"
        raise SelectorError(
            f"{sel.text}: {alias} is not an alias of {repo} (aliases: {known}).",
            f"ALIAS@DATE needs an alias, such as production@2026-01-31. {HINT}",
        )
    stamped = []
    for record in history(alias):
        at = record.get("at")
        to = record.get("to")
        if not isinstance(at, str) or not isinstance(to, str):
            continue
        try:
            moment = parse_when(at)
        except SelectorError:
            continue
        stamped.append((moment, to))
    if not stamped:
        raise SelectorError(
            f"{sel.text}: the history of {alias} records no promotion times.",
            f"Name the version itself; `hubver history {alias}` shows what is recorded.",
        )
    then = [to for moment, to in stamped if moment <= when]
    if not then:
        first = min(m for m, _ in stamped)
        raise SelectorError(
            f"{sel.text}: {alias} did not exist yet at {_iso(when)}; it was first promoted at {_iso(first)}.",
            f"Name a later date, or see `hubver history {alias}`.",
        )
    return then[-1], f"{alias} pointed at {then[-1]} at {_iso(when)}"


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def _pruned_why(entries: Sequence[Mapping[str, Any]], version: str) -> str:
    for e in reversed(entries):
        if e.get("version") == version and isinstance(e.get("pruned"), dict):
            p = e["pruned"]
            said = [f"{word} {p[key]}" for word, key in (("by", "by"), ("at", "at")) if p.get(key)]
            return " ".join(said) or "pruned"
    return "pruned"
