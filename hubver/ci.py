"""GitHub Actions: the run a version was built by, and the outputs a workflow step reads.

When `GITHUB_ACTIONS=true`, every push records the repository, commit, ref, workflow,
run id/attempt and run URL, plus the pull request (number, title, URL) from the event
payload of a merge. After `hubver push`, the CLI writes `version`, `commit`, `url` and
`created` to `$GITHUB_OUTPUT` (`step_outputs`) and a short summary to
`$GITHUB_STEP_SUMMARY` (`summary_markdown`): what the `hubver` action's outputs read.
"""

from __future__ import annotations

import json
import os
import re
import secrets as _secrets
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .formatting import MISSING_MARKDOWN, fmt_markdown, markdown_cell
from .redact import scrub

if TYPE_CHECKING:
    from .registry.push import PushResult


def in_github_actions(env: Mapping[str, str] | None = None) -> bool:
    """True when running as a GitHub Actions step (`GITHUB_ACTIONS=true`)."""
    env = os.environ if env is None else env
    return env.get("GITHUB_ACTIONS") == "true"


def github_context(env: Mapping[str, str] | None = None) -> dict[str, Any] | None:
    """The workflow run recorded as `ci` in hubver.json, or None outside GitHub Actions.

    `idempotency_key` names the repository, commit and workflow: a re-run of the same
    workflow for the same commit finds the version the first run published.
    """
    env = os.environ if env is None else env
    if not in_github_actions(env):
        return None
    server = env.get("GITHUB_SERVER_URL", "https://github.com").rstrip("/")
    repository = env.get("GITHUB_REPOSITORY")
    run_id = env.get("GITHUB_RUN_ID")
    ctx: dict[str, Any] = {
        "provider": "github-actions",
        "repository": repository,
        "commit": env.get("GITHUB_SHA"),
        "ref": env.get("GITHUB_REF"),
        "event": env.get("GITHUB_EVENT_NAME"),
        "workflow": env.get("GITHUB_WORKFLOW"),
        "job": env.get("GITHUB_JOB"),
        "run_id": run_id,
        "run_attempt": env.get("GITHUB_RUN_ATTEMPT"),
        "run_url": f"{server}/{repository}/actions/runs/{run_id}" if repository and run_id else None,
        "actor": env.get("GITHUB_ACTOR"),
        "pull_request": _pull_request(
            env.get("GITHUB_EVENT_PATH"), server, repository, env.get("GITHUB_SHA")
        ),
    }
    # A re-run of the workflow for the same commit must find the version it already made.
    ctx["idempotency_key"] = f"github:{repository}@{ctx['commit']}:{ctx['workflow']}"
    return ctx


def _pull_request(
    event_path: str | None, server: str, repository: str | None, sha: str | None
) -> dict | None:
    if not event_path:
        return None
    try:
        event = json.loads(Path(event_path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(event, dict):
        return None
    pr = event.get("pull_request")
    if isinstance(pr, dict):
        return {
            "number": pr.get("number"),
            "title": pr.get("title"),
            "url": pr.get("html_url"),
            "merged": pr.get("merged"),
            "merge_commit": pr.get("merge_commit_sha"),
        }
    # A push to main after a merge: the head commit's message names the pull request.
    head: dict[str, Any] = event["head_commit"] if isinstance(event.get("head_commit"), dict) else {}
    message = str(head.get("message") or "")
    m = re.match(r"Merge pull request #(\d+)", message) or re.search(
        r"\(#(\d+)\)\s*$", message.splitlines()[0] if message else ""
    )
    if not m:
        return None
    number = int(m.group(1))
    title = (
        message.split("\n\n", 1)[1].strip().splitlines()[0] if "\n\n" in message else message.splitlines()[0]
    )
    return {
        "number": number,
        "title": title,
        "url": f"{server}/{repository}/pull/{number}" if repository else None,
        "merged": True,
        "merge_commit": sha,
    }


def write_outputs(values: dict[str, str], env: Mapping[str, str] | None = None) -> bool:
    """Append `name=value` lines (multi-line safe) to $GITHUB_OUTPUT; False when not in Actions."""
    env = os.environ if env is None else env
    path = env.get("GITHUB_OUTPUT")
    if not path:
        return False
    with open(path, "a", encoding="utf-8") as f:
        for name, value in values.items():
            value = "" if value is None else str(value)
            if "\n" in value:
                delim = f"hubver_{_secrets.token_hex(8)}"
                f.write(f"{name}<<{delim}\n{value}\n{delim}\n")
            else:
                f.write(f"{name}={value}\n")
    return True


def write_summary(markdown: str, secrets: set[str], env: Mapping[str, str] | None = None) -> bool:
    """Append `markdown`, with `secrets` scrubbed, to $GITHUB_STEP_SUMMARY; False when not in Actions."""
    env = os.environ if env is None else env
    path = env.get("GITHUB_STEP_SUMMARY")
    if not path:
        return False
    with open(path, "a", encoding="utf-8") as f:
        f.write(scrub(markdown, secrets).rstrip("\n") + "\n")
    return True


def step_outputs(result: PushResult) -> dict[str, str]:
    """The step outputs of a push: `version`, `commit`, `url` and `created` ("true"/"false")."""
    return {
        "version": result.version,
        "commit": result.commit or "",
        "url": result.url,
        "created": "true" if result.created else "false",
    }


def summary_markdown(result: PushResult, previous_metrics: dict[str, Any] | None = None) -> str:
    """Return a short job summary of a push: version, commit, metrics vs the previous version, PR, how to load.

    `previous_metrics` defaults to `result.previous_metrics`. The text is not scrubbed:
    write it with `write_summary`, which is. Abridged example::

        ### hubver: published `v3` of org/model
        | version | [`v3`](https://huggingface.co/org/model/tree/v3) |
        | pull request | [#42](https://github.com/org/code/pull/42) Add better data |
        | eval_loss | 0.41 | 0.52 | -0.11 |
        model = AutoPeftModelForCausalLM.from_pretrained("org/model", revision="v3")
    """
    from .card import metric_rows

    if previous_metrics is None:
        previous_metrics = result.previous_metrics
    meta = result.metadata or {}
    repo, version = result.repo, result.version
    parent = (meta.get("parent") or {}).get("version")
    pr = (meta.get("ci") or {}).get("pull_request") or {}

    if result.created:
        lines = [f"### hubver: published `{version}` of {repo}", ""]
    else:
        reason = result.reason or "already published"
        lines = [f"### hubver: no new version of {repo}", "", f"{reason[:1].upper()}{reason[1:]}.", ""]
    lines += ["| | |", "|---|---|", f"| version | [`{version}`]({result.url}) |"]
    if result.commit:
        lines.append(f"| commit | `{result.commit[:12]}` |")
    if parent:
        lines.append(f"| previous | `{parent}` |")
    if pr.get("number"):
        link = f"[#{pr['number']}]({pr['url']})" if pr.get("url") else f"#{pr['number']}"
        title = f" {markdown_cell(pr['title'])}" if pr.get("title") else ""
        lines.append(f"| pull request | {link}{title} |")

    rows = metric_rows(meta.get("metrics") or {}, previous_metrics)
    if rows:
        lines += ["", f"| metric | {version} | {parent or 'previous'} | change |", "|---|---|---|---|"]
        for row in rows:
            delta = MISSING_MARKDOWN if row["delta"] is None else f"{row['delta']:+.4g}"
            lines.append(
                f"| {markdown_cell(row['name'])} | {fmt_markdown(row['value'])} | {fmt_markdown(row['previous'])} | {delta} |"
            )

    if meta.get("kind"):
        lines += ["", "```python", *_load_snippet(meta, repo, version), "```", ""]
        lines.append(f'or `hubver.load("{repo}", "{version}")`.')
    else:  # an existing version reported without its metadata: its kind is unknown here
        lines += [
            "",
            f'Load it with `from_pretrained("{repo}", revision="{version}")` or `hubver.load("{repo}", "{version}")`.',
        ]
    return "\n".join(lines) + "\n"


def _load_snippet(meta: dict[str, Any], repo: str, version: str) -> list[str]:
    # The same three cases as the model card's "Load this version".
    from .ids import is_hub_id

    base = (meta.get("base_model") or {}).get("name")
    if meta.get("kind") == "adapter" and is_hub_id(base):
        return [
            "from peft import AutoPeftModelForCausalLM",
            "",
            f'model = AutoPeftModelForCausalLM.from_pretrained("{repo}", revision="{version}")',
        ]
    if meta.get("kind") == "adapter":
        return [
            "from peft import PeftModel",
            "",
            f"# base: the model this adapter was trained on ({base})",
            f'model = PeftModel.from_pretrained(base, "{repo}", revision="{version}")',
        ]
    return [
        "from transformers import AutoModelForCausalLM",
        "",
        f'model = AutoModelForCausalLM.from_pretrained("{repo}", revision="{version}")',
    ]


def gate_outputs(promoted: bool, verdict: dict[str, Any] | None) -> dict[str, str]:
    """The step outputs of a gated promotion: `promoted` ("true"/"false") and `gate` (the verdict)."""
    return {
        "promoted": "true" if promoted else "false",
        "gate": (verdict or {}).get("summary") or "no conditions",
    }


def gate_markdown(repo: str, version: str, alias: str, promoted: bool, verdict: dict[str, Any] | None) -> str:
    """The job summary of a gated promotion: the outcome, then each condition with its numbers."""
    verdict = verdict or {}
    if promoted:
        lines = [f"### hubver: promoted `{version}` to `{alias}` in {repo}", ""]
    else:
        lines = [f"### hubver: `{version}` not promoted to `{alias}`: the gate did not hold", ""]
    checks = verdict.get("checks") or []
    if checks:
        lines += ["| condition | result | detail |", "|---|---|---|"]
        for c in checks:
            lines.append(
                f"| {markdown_cell(str(c.get('condition')))} | {'pass' if c.get('ok') else '**FAIL**'} "
                f"| {markdown_cell(str(c.get('detail')))} |"
            )
    else:
        lines.append("No conditions: promoted unconditionally.")
    return "\n".join(lines) + "\n"
