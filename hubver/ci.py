"""GitHub Actions: the run a version was built by, and the outputs a workflow step reads.

When `GITHUB_ACTIONS=true`, every push records the repository, commit, ref, workflow,
run id/attempt and run URL, plus the pull request (number, title, URL) from the event
payload of a merge. `version`, `commit` and `url` go to `$GITHUB_OUTPUT` and a short
summary to `$GITHUB_STEP_SUMMARY`.
"""

from __future__ import annotations

import json
import os
import secrets as _secrets
from pathlib import Path
from typing import Any

from .redact import scrub


def github_context(env: dict[str, str] | None = None) -> dict[str, Any] | None:
    env = os.environ if env is None else env
    if env.get("GITHUB_ACTIONS") != "true":
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
    head = event.get("head_commit") if isinstance(event.get("head_commit"), dict) else {}
    message = str(head.get("message") or "")
    import re

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


def write_outputs(values: dict[str, str], env: dict[str, str] | None = None) -> bool:
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


def write_summary(markdown: str, secrets: set[str], env: dict[str, str] | None = None) -> bool:
    env = os.environ if env is None else env
    path = env.get("GITHUB_STEP_SUMMARY")
    if not path:
        return False
    with open(path, "a", encoding="utf-8") as f:
        f.write(scrub(markdown, secrets).rstrip("\n") + "\n")
    return True
