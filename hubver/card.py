"""The model card (README.md) of a version: YAML front matter the Hub understands, and a body
rendered from a Jinja2 template.

hubver owns only the text between its markers; whatever a user wrote around them in the
existing card is kept, and so are front-matter keys hubver does not set.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from . import index
from .errors import ConfigError
from .formatting import MISSING_MARKDOWN, fmt
from .frontmatter import split_front_matter
from .ids import is_hub_id
from .training import key_hyperparameters, key_metric_names

START = "<!-- hubver:start -->"
END = "<!-- hubver:end -->"
DEFAULT_TEMPLATE = "default.md.j2"
# PEFT's and transformers' empty card templates: boilerplate, not a user's words.
_BOILERPLATE = ("[More Information Needed]", "<!-- Provide a quick summary of what the model is/does. -->")


def _names(value: object) -> list[str]:
    """A front-matter list of names as the Hub reads it: `tags: mytag` is one tag, `tags: 5` none."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


def split_card(text: str | None) -> tuple[dict[str, Any], str, str]:
    """(front matter, user text before hubver's section, user text after it)."""
    if not text:
        return {}, "", ""
    meta: dict[str, Any] = {}
    body = text
    front, rest = split_front_matter(text)
    if front is not None:
        try:
            loaded = yaml.safe_load(front)
            meta = loaded if isinstance(loaded, dict) else {}
        except (yaml.YAMLError, RecursionError, ValueError):
            meta = {}  # someone else's broken front matter: hubver writes its own
        body = rest.lstrip("\n")
    if any(marker in body for marker in _BOILERPLATE) and START not in body:
        return {}, "", ""  # an empty template's front matter is as generated as its body
    if START in body and END in body:
        before, _, rest = body.partition(START)
        _, _, after = rest.partition(END)
        return meta, before.strip("\n"), after.strip("\n")
    return meta, body.strip("\n"), ""


def front_matter(meta: Mapping[str, Any], existing: dict[str, Any], repo: str) -> dict[str, Any]:
    fm = dict(existing)
    if not is_hub_id(fm.get("base_model")) and not (
        isinstance(fm.get("base_model"), list) and fm["base_model"] and all(map(is_hub_id, fm["base_model"]))
    ):
        fm.pop("base_model", None)  # a local path (or a number) is not something the Hub can link
    base = (meta.get("base_model") or {}).get("name")
    if is_hub_id(base):
        fm["base_model"] = base
    if meta.get("kind") == "adapter":
        fm["library_name"] = "peft"
        if is_hub_id(base):
            fm["base_model_relation"] = "adapter"
    else:
        fm.setdefault("library_name", "transformers")
    tags = [t for t in _names(fm.get("tags")) if not t.startswith("base_model:")]
    for tag in ["hubver", *(["peft", "lora"] if meta.get("kind") == "adapter" else [])]:
        if tag not in tags:
            tags.append(tag)
    fm["tags"] = tags
    dataset = meta.get("dataset") or {}
    if "datasets" in fm:
        fm["datasets"] = _names(fm["datasets"])
    if is_hub_id(dataset.get("name")):
        fm["datasets"] = sorted({*fm.get("datasets", []), dataset["name"]})
    if not fm.get("datasets"):
        fm.pop("datasets", None)
    if meta.get("license"):
        fm["license"] = meta["license"]
    metrics = {
        k: v
        for k, v in (meta.get("metrics") or {}).items()
        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
    }
    fm.pop("model-index", None)
    if metrics:
        ds_name = dataset.get("name") or "unspecified"
        fm["model-index"] = [
            {
                "name": repo.split("/")[-1],
                "results": [
                    {
                        "task": {"type": "text-generation", "name": "Text Generation"},
                        "dataset": {"name": ds_name, "type": ds_name},
                        "metrics": [{"type": k, "value": v, "name": k} for k, v in sorted(metrics.items())],
                    }
                ],
            }
        ]
    return fm


def check_template(template: Path) -> None:
    """Compile `template` now (and keep it compiled for `render`): ConfigError if it cannot be."""
    _template(template)


def _template(template: Path | None) -> Any:
    if template is None:
        return _compiled(None, 0)
    template = Path(template)
    if not template.is_file():
        raise ConfigError(
            f"Template {template} not found.", "Pass the path of a Jinja2 file with --template."
        )
    # Keyed on the mtime too, so a long-running process (the callback's) sees an edited template.
    return _compiled(str(template.resolve()), template.stat().st_mtime_ns)


@functools.lru_cache(maxsize=8)
def _compiled(template: str | None, _mtime_ns: int) -> Any:
    """The compiled template: compiling takes ~60 ms, more than the rest of a push's own work."""
    import jinja2

    env_kwargs: dict[str, Any] = {
        "autoescape": False,
        "keep_trailing_newline": True,
        "trim_blocks": True,
        "lstrip_blocks": True,
    }
    if template is not None:
        loader: jinja2.BaseLoader = jinja2.FileSystemLoader(str(Path(template).parent))
        name = Path(template).name
    else:
        text = resources.files("hubver.model_card_templates").joinpath(DEFAULT_TEMPLATE).read_text("utf-8")
        loader = jinja2.DictLoader({DEFAULT_TEMPLATE: text})
        name = DEFAULT_TEMPLATE
    env = jinja2.Environment(loader=loader, **env_kwargs)
    env.filters["fmt"] = functools.partial(fmt, missing=MISSING_MARKDOWN, text=str)
    try:
        return env.get_template(name)
    except jinja2.TemplateError as e:
        raise ConfigError(f"The card template {template or name} is invalid: {e}.") from None


def _mapping(value: object) -> dict[str, Any]:
    """`value` if it is a JSON object, else empty: index entries written by others may hold anything."""
    return value if isinstance(value, dict) else {}


def _history_row(entry: dict[str, Any]) -> dict[str, Any]:
    """An index entry as the card's history table shows it, whatever types someone else wrote."""

    def text(value: object) -> str | None:
        return value if isinstance(value, str) else None

    message = text(entry.get("message"))
    return {
        **entry,
        "version": str(entry.get("version")),
        "created_at": text(entry.get("created_at")),
        "message": " ".join(message.split()) if message else None,  # one table row
        "metrics": _mapping(entry.get("metrics")),
    }


def metric_rows(metrics: dict[str, Any], previous: dict[str, Any] | None) -> list[dict[str, Any]]:
    rows = []
    for name, value in sorted(_mapping(metrics).items()):
        prev = _mapping(previous).get(name)
        delta = None
        if isinstance(value, (int, float)) and isinstance(prev, (int, float)):
            delta = value - prev
        rows.append({"name": name, "value": value, "previous": prev, "delta": delta})
    return rows


def render(
    meta: Mapping[str, Any],
    *,
    repo: str,
    history: list[dict[str, Any]],
    previous: dict[str, Any] | None,
    existing: str | None,
    template: Path | None = None,
    extra: dict[str, Any] | None = None,
) -> str:
    """The full README.md of a version."""
    import jinja2

    existing_meta, before, after = split_card(existing)
    history = index.live(history)  # pruned versions can no longer be checked out: not listed
    history_metrics = key_metric_names({str(k) for e in history for k in _mapping(e.get("metrics"))})
    context = {
        "meta": meta,
        "repo": repo,
        "version": meta["version"],
        "kind": meta.get("kind"),
        "base_model": meta.get("base_model") or {},
        "peft": meta.get("peft") or {},
        "lora_ranks": meta.get("lora_ranks") or {},
        "hyperparameters": key_hyperparameters((meta.get("training") or {}).get("hyperparameters") or {}),
        "hyperparameter_count": len((meta.get("training") or {}).get("hyperparameters") or {}),
        "metrics": metric_rows(meta.get("metrics") or {}, _mapping(previous).get("metrics")),
        "previous_version": (previous or {}).get("version"),
        "history": [_history_row(e) for e in reversed(history)],
        "history_metrics": history_metrics,
        "code": meta.get("code") or {},
        "ci": meta.get("ci") or {},
        "dataset": meta.get("dataset") or {},
        "environment": meta.get("environment") or {},
        "base_is_hub_id": is_hub_id((meta.get("base_model") or {}).get("name")),
        **(extra or {}),
    }
    try:
        body = _template(template).render(**context).strip("\n")
    except jinja2.TemplateError as e:
        raise ConfigError(
            f"Rendering the model card failed: {e}.", "Check the template passed with --template."
        ) from None
    fm = yaml.safe_dump(front_matter(meta, existing_meta, repo), sort_keys=False, allow_unicode=True).strip()
    parts = [f"---\n{fm}\n---", before, f"{START}\n{body}\n{END}", after]
    return "\n\n".join(p for p in parts if p) + "\n"
