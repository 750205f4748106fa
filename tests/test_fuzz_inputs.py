"""Fuzzing what `hubver push` reads from disk: every input file kind, spoiled by hypothesis.

The kinds: a safetensors header, adapter_config.json, trainer_state.json, a metrics file and
the README's front matter. Each example spoils one of them in a copy of a real adapter and
pushes it (the CLI, in-process, against the session hub). Whatever the bytes, the push either
publishes a version whose hubver.json and index are strict JSON, or fails with a one-line
`Error: ...` (exit 1, no traceback, never "unexpected") having published nothing: the
branch head and the tags are as before. Example counts stay small: the whole file runs in
well under a minute.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from pathlib import Path

import pytest
import yaml
from huggingface_hub import HfApi, hf_hub_download
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

N = int(os.environ.get("FUZZ_INPUTS_N", 15))
FUZZ = settings(
    deadline=None,
    database=None,
    max_examples=N,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=16,
)


def deep(depth: int) -> str:
    return "[" * depth + "]" * depth


def json_text(value, nest: int) -> bytes:
    """Python's json (NaN and Infinity bare), sometimes wrapped `nest` levels deep."""
    text = json.dumps(value, allow_nan=True)
    if nest:
        text = '{"x": ' + "[" * nest + text + "]" * nest + "}"
    return text.encode()


spoilt_bytes = st.one_of(
    st.binary(max_size=64),
    st.builds(lambda v, n: json_text(v, n), json_values, st.sampled_from([0, 0, 0, 70, 5000, 60_000])),
)


def strict(text: str) -> object:
    return json.loads(text, parse_constant=lambda name: pytest.fail(f"bare {name} in what hubver wrote"))


class Pusher:
    def __init__(self, cli, api: HfApi, repo: str, adapter: Path, token: str) -> None:
        self.cli, self.api, self.repo, self.adapter, self.token = cli, api, repo, adapter, token
        self.api.create_repo(repo, exist_ok=True)

    def state(self) -> tuple[str, frozenset[str]]:
        refs = self.api.list_repo_refs(self.repo)
        head = next(b.target_commit for b in refs.branches if b.name == "main")
        return head, frozenset(t.name for t in refs.tags)

    def push(self, spoil, *extra: str) -> None:
        work = Path(tempfile.mkdtemp(prefix="hubver-fuzz-"))
        try:
            art = shutil.copytree(self.adapter, work / "art")
            spoil(art, work)
            before = self.state()
            result = self.cli("push", art, *[a.replace("{work}", str(work)) for a in extra], repo=self.repo)
            out = result.stdout + result.stderr
            assert "Traceback" not in out, out
            assert result.exit_code in (0, 1), (result.exit_code, out)
            if result.exit_code == 1:
                assert result.stderr.startswith("Error: "), result.stderr
                assert "unexpected" not in result.stderr, result.stderr
                assert self.state() == before, "a failed push changed the repository"
                return
            head, tags = self.state()
            if tags == before[1]:
                assert "No new version" in result.stdout, result.stdout
                return
            (new,) = tags - before[1]
            meta = Path(hf_hub_download(self.repo, "hubver.json", revision=new, token=self.token)).read_text()
            strict(meta)
            index = hf_hub_download(self.repo, ".hubver/versions.jsonl", revision=new, token=self.token)
            for line in Path(index).read_text().split("\n"):
                if not line:
                    continue
                strict(line)
        finally:
            shutil.rmtree(work, ignore_errors=True)


@pytest.fixture(scope="module")
def pusher(hub, hub_token, adapters):
    from click.testing import CliRunner

    from hubver.cli import cli as group

    runner = CliRunner()

    def cli(*args, repo):
        argv = [str(a) for a in args] + ["--repo", repo, "--endpoint", hub.url, "--token", hub_token]
        return runner.invoke(group, argv, catch_exceptions=False)

    api = HfApi(endpoint=hub.url, token=hub_token)
    return Pusher(cli, api, f"fuzz-inputs/m-{os.urandom(4).hex()}", adapters[4], hub_token)


@pytest.fixture(autouse=True)
def _fuzz_isolate(monkeypatch):
    monkeypatch.setenv("HUBVER_RETRY_SECONDS", "5")


# -- the kinds ---------------------------------------------------------------------------------


header_values = st.dictionaries(
    st.text(max_size=10),
    st.one_of(
        json_values,
        st.fixed_dictionaries(
            {"dtype": st.sampled_from(["F32", "BF16", 5]), "shape": json_values, "data_offsets": json_values}
        ),
    ),
    max_size=3,
)


@FUZZ
@given(
    header=st.one_of(header_values.map(lambda h: json.dumps(h, allow_nan=True).encode()), spoilt_bytes),
    length=st.sampled_from(["exact", "short", "huge"]),
    where=st.sampled_from(
        ["adapter_model.safetensors", "sub/adapter_model.safetensors", "extra.safetensors"]
    ),
)
def test_fuzz_safetensors_headers(pusher, header, length, where):
    declared = {"exact": len(header), "short": max(len(header) - 3, 0), "huge": 1 << 40}[length]

    def spoil(art: Path, _work: Path) -> None:
        (art / where).parent.mkdir(parents=True, exist_ok=True)
        (art / where).write_bytes(declared.to_bytes(8, "little") + header)

    pusher.push(spoil)


@FUZZ
@given(
    key=st.sampled_from(
        ["target_modules", "base_model_name_or_path", "revision", "modules_to_save", "r", "peft_type", None]
    ),
    value=st.one_of(json_values, st.text(min_size=300, max_size=6000)),
    whole=st.none() | spoilt_bytes,
)
def test_fuzz_adapter_config(pusher, key, value, whole):
    def spoil(art: Path, _work: Path) -> None:
        path = art / "adapter_config.json"
        if whole is not None:
            path.write_bytes(whole)
            return
        config = json.loads(path.read_text())
        if key is not None:
            config[key] = value
        path.write_text(json.dumps(config, allow_nan=True))

    pusher.push(spoil)


@FUZZ
@given(
    state=st.fixed_dictionaries(
        {
            "log_history": json_values,
            "epoch": json_values,
            "global_step": json_values,
            "max_steps": json_values,
        }
    ),
    whole=st.none() | spoilt_bytes,
)
def test_fuzz_trainer_state(pusher, state, whole):
    def spoil(art: Path, _work: Path) -> None:
        data = whole if whole is not None else json.dumps(state, allow_nan=True).encode()
        (art / "trainer_state.json").write_bytes(data)

    pusher.push(spoil)


@FUZZ
@given(metrics=st.one_of(json_values.map(lambda v: json.dumps(v, allow_nan=True).encode()), spoilt_bytes))
def test_fuzz_metrics_file(pusher, metrics):
    def spoil(_art: Path, work: Path) -> None:
        (work / "metrics.json").write_bytes(metrics)

    pusher.push(spoil, "--metrics-file", "{work}/metrics.json")


yaml_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=10,
)


@FUZZ
@given(
    front=st.dictionaries(
        st.sampled_from(["tags", "datasets", "base_model", "license", "library_name", "model-index", "x"]),
        yaml_values,
        max_size=4,
    ),
    raw=st.none() | st.text(max_size=200),
    on_hub=st.booleans(),
)
def test_fuzz_readme_front_matter(pusher, front, raw, on_hub):
    text = "---\n" + (raw if raw is not None else yaml.safe_dump(front)) + "\n---\nNotes.\n"

    def spoil(art: Path, _work: Path) -> None:
        (art / "README.md").write_text(text)
        (art / "notes.txt").write_text(os.urandom(8).hex())  # a new version each time

    if on_hub:
        from huggingface_hub import CommitOperationAdd

        try:  # as anyone with write access could; the Hub may refuse it, then the card stays
            pusher.api.create_commit(
                pusher.repo, [CommitOperationAdd("README.md", text.encode())], commit_message="edit"
            )
        except Exception:
            pass
    pusher.push(spoil)


def test_the_fuzz_strategies_produce_non_finite_and_deep_values():
    """The strategies above reach the cases that crashed (a fuzz that cannot find them proves nothing)."""
    sample = json_text({"a": math.nan}, 70)
    assert b"NaN" in sample and sample.count(b"[") == 70
    assert deep(3) == "[[[]]]"
