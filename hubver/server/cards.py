"""Model card metadata as the hub serves it: YAML front matter, parsed with bounds, made JSON-safe."""

from __future__ import annotations

import base64
import json
import logging
import math
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, cast

import yaml

from ..frontmatter import split_front_matter

log = logging.getLogger("hubver.server")

# Bounds on what a card's YAML may expand to: aliases make a 300-byte card a billion nodes.
MAX_CARD_YAML = 256 << 10
MAX_CARD_NODES = 100_000
MAX_CARD_CHARS = 4 << 20
MAX_CARD_DEPTH = 64


def card_metadata(content: str) -> dict[str, Any]:
    """The YAML front matter of a model card, or {}; ValueError if it is not valid YAML."""
    front, _ = split_front_matter(content)
    if front is None:
        return {}
    if len(front) > MAX_CARD_YAML:
        raise ValueError(f"The model card metadata is larger than {MAX_CARD_YAML // 1024} KiB.")
    try:
        # The C parser where PyYAML has it: the pure-Python one takes ~10 s for a MiB.
        data = yaml.load(front, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as e:
        raise ValueError(f"Invalid YAML in the model card metadata: {e}") from None
    except RecursionError:  # the pure-Python parser, without libyaml's depth limit
        raise ValueError("Invalid YAML in the model card metadata: it is nested too deeply.") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValueError("The model card metadata must be a YAML mapping.")
    return cast(dict[str, Any], json_safe(data))


def json_safe(data: Any) -> Any:
    """A copy of YAML data that JSON can carry, or ValueError if it expands beyond a few MiB.

    YAML gives dates, bytes, sets, NaN and non-string keys that JSON cannot encode, and
    aliases that JSON writes out in full every time: ten levels of ten `*a` each are 10^10
    values (or an endless loop, for a self-referencing alias) from a 300-byte card.
    """
    budget = {"nodes": MAX_CARD_NODES, "chars": MAX_CARD_CHARS}

    def spend(nodes: int, chars: int = 0) -> None:
        budget["nodes"] -= nodes
        budget["chars"] -= chars
        if budget["nodes"] < 0 or budget["chars"] < 0:
            raise ValueError("The model card metadata is too large once its YAML aliases are expanded.")

    def text(s: str) -> str:
        spend(0, len(s))
        # YAML's "\ud800" escape gives a lone surrogate, which no UTF-8 response can carry.
        return s.encode("utf-8", "replace").decode("utf-8")

    def key(k: Any) -> str:
        if isinstance(k, str):
            return text(k)
        if isinstance(k, (date, datetime)):
            return k.isoformat()
        return text(json.dumps(k) if k is None or isinstance(k, (bool, int, float)) else str(k))

    def walk(value: Any, depth: int) -> Any:
        spend(1)
        if depth > MAX_CARD_DEPTH:
            raise ValueError("The model card metadata is nested too deeply.")
        if isinstance(value, dict):
            out = {}
            for k, v in value.items():
                out[key(k)] = walk(v, depth + 1)
            return out
        if isinstance(value, (list, tuple, set, frozenset)):
            return [walk(v, depth + 1) for v in value]
        if isinstance(value, str):
            return text(value)
        if isinstance(value, float) and not math.isfinite(value):
            return str(value)  # JSON has no NaN or infinity
        if value is None or isinstance(value, (bool, int, float)):
            return value
        if isinstance(value, (date, datetime)):
            return value.isoformat()
        if isinstance(value, bytes):
            spend(0, len(value))
            return base64.b64encode(value).decode()
        return text(str(value))

    return walk(data, 0)


# The license identifiers the Hub accepts in `license:` (huggingface.co/docs/hub/repositories-licenses).
HUB_LICENSES = frozenset(
    """
    apache-2.0 mit openrail bigscience-openrail-m creativeml-openrail-m bigscience-bloom-rail-1.0
    bigcode-openrail-m afl-3.0 artistic-2.0 bsl-1.0 bsd bsd-2-clause bsd-3-clause bsd-3-clause-clear
    c-uda cc cc0-1.0 cc-by-2.0 cc-by-2.5 cc-by-3.0 cc-by-4.0 cc-by-sa-3.0 cc-by-sa-4.0 cc-by-nc-2.0
    cc-by-nc-3.0 cc-by-nc-4.0 cc-by-nd-4.0 cc-by-nc-nd-3.0 cc-by-nc-nd-4.0 cc-by-nc-sa-2.0
    cc-by-nc-sa-3.0 cc-by-nc-sa-4.0 cdla-sharing-1.0 cdla-permissive-1.0 cdla-permissive-2.0 wtfpl
    ecl-2.0 epl-1.0 epl-2.0 etalab-2.0 eupl-1.1 eupl-1.2 agpl-3.0 gfdl gpl gpl-2.0 gpl-3.0 lgpl
    lgpl-2.1 lgpl-3.0 isc h-research intel-research lppl-1.3c ms-pl apple-ascl apple-amlr mpl-2.0
    odc-by odbl openmdw-1.0 openrail++ osl-3.0 postgresql ofl-1.1 ncsa unlicense zlib pddl lgpl-lr
    deepfloyd-if-license fair-noncommercial-research-license llama2 llama3 llama3.1 llama3.2
    llama3.3 llama4 grok2-community gemma unknown other
    """.split()
)
# Keys whose value is a string or a list of strings, and keys that must be one string.
_STRING_OR_LIST = ("tags", "language", "datasets", "metrics", "base_model", "new_version")
_STRINGS = ("library_name", "pipeline_tag", "license_name", "license_link", "base_model_relation")
NO_METADATA_WARNING = (
    "empty or missing yaml metadata in repo card "
    "(https://huggingface.co/docs/hub/model-cards#model-card-metadata)"
)


@dataclass
class CardReport:
    """What validating a card's metadata found: errors make it invalid, warnings do not."""

    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def validate_card(content: str) -> CardReport:
    """Check a card's metadata as the Hub's validate-yaml does: the types of the keys it knows.

    Unknown keys pass (the Hub keeps them); a card without metadata only gets a warning.
    """
    report = CardReport()
    try:
        meta = card_metadata(content)
    except ValueError as e:
        report.errors.append(str(e))
        return report
    if not meta:
        report.warnings.append(NO_METADATA_WARNING)
        return report
    err = report.errors.append
    if "license" in meta:
        licenses = meta["license"] if isinstance(meta["license"], list) else [meta["license"]]
        for lic in licenses:
            if not isinstance(lic, str) or lic not in HUB_LICENSES:
                err(
                    f'"license" must be one of the Hub\'s license identifiers, not {json.dumps(lic)} '
                    '(see https://huggingface.co/docs/hub/repositories-licenses; use "other" with '
                    '"license_name" and "license_link" for another license)'
                )
    for key in _STRING_OR_LIST:
        if key in meta and not (isinstance(meta[key], str) or _strings(meta[key])):
            err(f'"{key}" must be a string or an array of strings')
    for key in _STRINGS:
        if key in meta and not isinstance(meta[key], str):
            err(f'"{key}" must be a string')
    if "model-index" in meta:
        report.errors.extend(_model_index_errors(meta["model-index"]))
    return report


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _model_index_errors(index: Any) -> list[str]:
    """The model-index structure: [{name, results: [{task: {type}, dataset: {type, name}, metrics: [{type, value}]}]}]."""
    if not isinstance(index, list):
        return ['"model-index" must be an array']
    errors = []
    for i, model in enumerate(index):
        at = f'"model-index[{i}]'
        if not isinstance(model, dict):
            errors.append(f'{at}" must be an object')
            continue
        if not isinstance(model.get("name"), str):
            errors.append(f'{at}.name" is required and must be a string')
        results = model.get("results")
        if not isinstance(results, list):
            errors.append(f'{at}.results" is required and must be an array')
            continue
        for j, result in enumerate(results):
            rat = f"{at}.results[{j}]"
            if not isinstance(result, dict):
                errors.append(f'{rat}" must be an object')
                continue
            task, dataset, metrics = result.get("task"), result.get("dataset"), result.get("metrics")
            if not isinstance(task, dict) or not isinstance(task.get("type"), str):
                errors.append(f'{rat}.task.type" is required and must be a string')
            if not isinstance(dataset, dict) or not all(
                isinstance(dataset.get(k), str) for k in ("type", "name")
            ):
                errors.append(f'{rat}.dataset" must be an object with string "type" and "name"')
            if not isinstance(metrics, list) or not metrics:
                errors.append(f'{rat}.metrics" is required and must be a non-empty array')
                continue
            for k, metric in enumerate(metrics):
                if (
                    not isinstance(metric, dict)
                    or not isinstance(metric.get("type"), str)
                    or "value" not in metric
                ):
                    errors.append(f'{rat}.metrics[{k}]" must be an object with a string "type" and a "value"')
    return errors
