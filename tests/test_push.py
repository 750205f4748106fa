"""`hubver push` against the embedded hub: one commit and one tag per version, nothing overwritten."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
from huggingface_hub import hf_hub_download

import hubver
from hubver.errors import ArtifactError, MetadataError, VersionIdError

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")


def _push(hub, hub_token, path, repo, **kwargs):
    return hubver.push(path, repo, endpoint=hub.url, token=hub_token, **kwargs)


def _commits(api, repo):
    return api.list_repo_commits(repo)


def test_push_makes_one_commit_and_one_tag(hub, hub_token, api, adapters, repo_id):
    r1 = _push(hub, hub_token, adapters[4], repo_id, message="rank 4")
    assert (r1.version, r1.created) == ("v1", True)
    refs = api.list_repo_refs(repo_id)
    assert {t.name: t.target_commit for t in refs.tags} == {"v1": r1.commit}
    before = len(_commits(api, repo_id))
    r2 = _push(hub, hub_token, adapters[8], repo_id, message="rank 8")
    assert r2.version == "v2"
    assert len(_commits(api, repo_id)) == before + 1  # exactly one commit per version
    assert api.list_repo_commits(repo_id)[0].title == "hubver v2: rank 8"
    files = {f.rfilename for f in api.model_info(repo_id, revision="v2").siblings}
    assert {"adapter_config.json", "adapter_model.safetensors", "hubver.json", "README.md"} <= files
    assert ".hubver/versions.jsonl" in files
    assert "training_args.bin" not in files
    index = [
        json.loads(line) for line in open(hf_hub_download(repo_id, ".hubver/versions.jsonl", revision="v2"))
    ]
    assert [e["version"] for e in index] == ["v1", "v2"]
    # The v1 tag still shows v1's bytes.
    w1 = open(hf_hub_download(repo_id, "adapter_model.safetensors", revision="v1"), "rb").read()
    assert w1 == (adapters[4] / "adapter_model.safetensors").read_bytes()


def test_files_of_the_previous_version_are_removed(hub, hub_token, api, adapters, repo_id, copy_of):
    first = copy_of(adapters[4], "first")
    (first / "notes.txt").write_text("only in v1\n")
    _push(hub, hub_token, first, repo_id)
    _push(hub, hub_token, adapters[8], repo_id)
    assert "notes.txt" not in {f.rfilename for f in api.model_info(repo_id, revision="v2").siblings}
    assert "notes.txt" in {f.rfilename for f in api.model_info(repo_id, revision="v1").siblings}


def test_identical_content_makes_no_new_version(hub, hub_token, api, adapters, repo_id):
    _push(hub, hub_token, adapters[4], repo_id)
    again = _push(hub, hub_token, adapters[4], repo_id, message="same again")
    assert (again.version, again.created) == ("v1", False)
    assert "identical" in again.reason
    assert [t.name for t in api.list_repo_refs(repo_id).tags] == ["v1"]


def test_only_changed_files_are_uploaded(hub, hub_token, adapters, repo_id, copy_of):
    v1 = copy_of(adapters[4], "v1dir")
    _push(hub, hub_token, v1, repo_id)
    shutil.copy(adapters[8] / "adapter_model.safetensors", v1 / "adapter_model.safetensors")
    result = _push(hub, hub_token, v1, repo_id)
    assert result.uploaded == ["adapter_model.safetensors"]
    assert "adapter_config.json" in result.unchanged


def test_duplicate_version_id_is_refused_and_names_the_existing(hub, hub_token, adapters, repo_id):
    _push(hub, hub_token, adapters[4], repo_id, version="exp-1")
    with pytest.raises(VersionIdError) as e:
        _push(hub, hub_token, adapters[8], repo_id, version="exp-1")
    assert "exp-1 already exists" in e.value.message and "never overwritten" in e.value.message
    assert "--version" in e.value.hint


@pytest.mark.parametrize("bad", ["v1..2", "-v", "has space", "a" * 200, "deadbeef12", "main", "x.lock", "v/"])
def test_invalid_version_ids_are_refused_before_any_upload(hub, hub_token, adapters, repo_id, api, bad):
    with pytest.raises(VersionIdError):
        _push(hub, hub_token, adapters[4], repo_id, version=bad)
    assert not api.repo_exists(repo_id)


def test_schemes(hub, hub_token, adapters, repo_id, copy_of):
    a = _push(hub, hub_token, adapters[4], repo_id, scheme="timestamp")
    assert a.version.startswith("v_") and len(a.version) == len("v_20260101_120000")
    b = _push(hub, hub_token, adapters[8], repo_id, scheme="semver", bump="minor")
    assert b.version == "v0.1.0"
    c = copy_of(adapters[4], "c")
    (c / "extra.txt").write_text("x")
    assert _push(hub, hub_token, c, repo_id, scheme="semver", bump="major").version == "v1.0.0"


def test_full_model_is_detected(hub, hub_token, api, tiny_base, repo_id):
    result = _push(hub, hub_token, tiny_base, repo_id)
    meta = result.metadata
    assert meta["kind"] == "model" and meta["peft"] is None
    files = {f["path"] for f in meta["files"]}
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= files


def test_metadata_is_captured(hub, hub_token, adapters, repo_id, copy_of, tmp_path):
    art = copy_of(adapters[8], "art")
    (art / "trainer_state.json").write_text(
        json.dumps(
            {
                "epoch": 2.0,
                "global_step": 10,
                "num_train_epochs": 2,
                "train_batch_size": 8,
                "log_history": [
                    {"loss": 5.7, "epoch": 1.0, "step": 5},
                    {"eval_loss": 5.9, "epoch": 1.0, "step": 5},
                    {"loss": 5.6, "epoch": 2.0, "step": 10},
                    {"train_runtime": 1.2, "train_loss": 5.65, "epoch": 2.0, "step": 10},
                ],
            }
        )
    )
    metrics_file = tmp_path / "metrics.json"
    metrics_file.write_text(json.dumps({"eval": {"accuracy": 0.5}, "bleu": 12.5}))
    subprocess.run(["git", "init", "-q", str(tmp_path / "code")], check=True)
    code = tmp_path / "code"
    (code / "train.py").write_text("print('hi')\n")
    subprocess.run(["git", "-C", str(code), "add", "."], check=True)
    subprocess.run(
        ["git", "-C", str(code), "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init"],
        check=True,
    )
    subprocess.run(
        [
            "git",
            "-C",
            str(code),
            "remote",
            "add",
            "origin",
            "https://user:s3cr3t-pass@github.com/org/code.git",
        ],
        check=True,
    )
    (code / "train.py").write_text("print('changed')\n")
    import os

    os.chdir(code)
    result = _push(
        hub,
        hub_token,
        art,
        repo_id,
        metrics_file=metrics_file,
        metrics={"eval_loss": 1.25},
        params={"learning_rate": 0.01},
        dataset="org/data@abc123",
        num_samples=40,
    )
    meta = result.metadata
    assert meta["schema_version"] == 1
    assert meta["peft"]["r"] == 8 and meta["peft"]["peft_type"] == "LORA"
    assert set(meta["lora_ranks"].values()) == {8} and len(meta["lora_ranks"]) == 2
    assert meta["metrics"]["eval_loss"] == 1.25  # the flag wins over trainer_state
    assert meta["metrics"]["train_loss"] == 5.65
    assert meta["metrics"]["eval/accuracy"] == 0.5 and meta["metrics"]["bleu"] == 12.5
    assert meta["training"]["epoch"] == 2.0 and meta["training"]["global_step"] == 10
    assert meta["training"]["hyperparameters"]["learning_rate"] == 0.01
    assert meta["training"]["hyperparameters"]["train_batch_size"] == 8
    assert [p["loss"] for p in meta["training"]["log_history"] if "loss" in p] == [5.7, 5.6]
    assert meta["dataset"] == {"name": "org/data", "revision": "abc123", "num_samples": 40}
    assert meta["code"]["dirty"] is True and len(meta["code"]["diff_sha256"]) == 64
    assert meta["code"]["remote"] == "https://github.com/org/code.git"  # credentials stripped
    assert "torch" in meta["environment"]["packages"] and meta["environment"]["python"]
    manifest = {f["path"]: f for f in meta["files"]}
    assert manifest["adapter_model.safetensors"]["size"] == (art / "adapter_model.safetensors").stat().st_size
    assert "trainer_state.json" not in manifest


def test_secrets_never_reach_what_hubver_writes(
    hub, hub_token, adapters, repo_id, copy_of, tmp_path, monkeypatch
):
    planted = "hf_PLANTEDsecretTOKEN0123456789abcdef"
    monkeypatch.setenv("HF_TOKEN", planted)
    monkeypatch.setenv("WANDB_API_KEY", "wandb-secret-value-42")
    art = copy_of(adapters[4], "art")
    (art / "training_args.bin").write_bytes(b"pickle with " + planted.encode())
    metrics_file = tmp_path / "m.json"
    metrics_file.write_text(json.dumps({"eval_loss": 1.0, "hub_token": planted, "note": f"token={planted}"}))
    result = _push(
        hub,
        hub_token,
        art,
        repo_id,
        metrics_file=metrics_file,
        params={"hub_token": planted, "run_name": f"run with {planted}"},
        message=f"trained with {planted}",
    )
    texts = [
        open(hf_hub_download(repo_id, name, revision=result.version, token=hub_token)).read()
        for name in ("hubver.json", "README.md", ".hubver/versions.jsonl")
    ]
    for text in texts:
        assert planted not in text
        assert "wandb-secret-value-42" not in text
    meta = json.loads(texts[0])
    assert meta["training"]["hyperparameters"]["hub_token"] == "<redacted>"
    assert "training_args.bin" not in {f["path"] for f in meta["files"]}


def test_user_text_outside_hubvers_section_is_kept(hub, hub_token, api, adapters, repo_id):
    from huggingface_hub import CommitOperationAdd

    _push(hub, hub_token, adapters[4], repo_id)
    card = open(hf_hub_download(repo_id, "README.md", revision="v1")).read()
    assert card.startswith("---\n") and "<!-- hubver:start -->" in card
    edited = (
        card.replace("---\n\n", "---\n\nOur team notes: use with care.\n\n", 1)
        + "\n## Licence notes\nInternal.\n"
    )
    edited = edited.replace("library_name: peft", "library_name: peft\nlicense: apache-2.0")
    api.create_commit(repo_id, [CommitOperationAdd("README.md", edited.encode())], commit_message="edit card")
    _push(hub, hub_token, adapters[8], repo_id)
    card2 = open(hf_hub_download(repo_id, "README.md", revision="v2")).read()
    assert "Our team notes: use with care." in card2 and "## Licence notes\nInternal." in card2
    assert "license: apache-2.0" in card2
    assert 'revision="v2"' in card2 and card2.count("<!-- hubver:start -->") == 1
    assert "| `v1` |" in card2 and "| **v2** |" in card2  # history table


def test_card_front_matter_for_a_hub_base(hub, hub_token, api, tiny_base, adapters, repo_id, copy_of):
    base_repo = repo_id + "-base"
    base = _push(hub, hub_token, tiny_base, base_repo)
    art = copy_of(adapters[4], "art")
    result = _push(hub, hub_token, art, repo_id, base_model=base_repo, metrics={"eval_loss": 2.5})
    assert result.metadata["base_model"] == {
        "name": base_repo,
        "revision": base.commit,
        "source": "--base-model",
    }
    card = api.model_info(repo_id, revision=result.version).card_data
    assert card["base_model"] == base_repo and card["base_model_relation"] == "adapter"
    assert card["library_name"] == "peft" and "hubver" in card["tags"]
    # huggingface_hub parses model-index into eval results: the card is valid Hub metadata.
    assert [(r.metric_type, r.metric_value) for r in card.eval_results] == [("eval_loss", 2.5)]
    cfg = json.loads(open(hf_hub_download(repo_id, "adapter_config.json", revision=result.version)).read())
    assert cfg["base_model_name_or_path"] == base_repo and cfg["revision"] == base.commit


def test_custom_template(hub, hub_token, adapters, repo_id, tmp_path):
    template = tmp_path / "card.j2"
    template.write_text("Custom card for {{ repo }} at {{ version }} ({{ kind }}).\n")
    result = _push(hub, hub_token, adapters[4], repo_id, template=template)
    assert f"Custom card for {repo_id} at v1 (adapter)." in result.card


def test_dry_run_changes_nothing(hub, hub_token, api, adapters, repo_id):
    result = _push(hub, hub_token, adapters[4], repo_id, dry_run=True)
    assert result.dry_run and result.version == "v1" and result.commit is None
    assert "adapter_model.safetensors" in result.uploaded and "<!-- hubver:start -->" in result.card
    assert not api.repo_exists(repo_id)


def test_private_repo_creation(hub, hub_token, api, adapters, repo_id):
    _push(hub, hub_token, adapters[4], repo_id, private=True)
    assert api.model_info(repo_id).private is True


@pytest.mark.parametrize(
    ("setup", "error", "words"),
    [
        (lambda d: d / "missing", ArtifactError, "No such directory"),
        (lambda d: d, ArtifactError, "has no files"),
        (lambda d: (d / "notes.txt").write_text("hi") and d, ArtifactError, "No model or adapter files"),
    ],
)
def test_bad_directories(hub, hub_token, repo_id, tmp_path, setup, error, words):
    d = tmp_path / "art"
    d.mkdir()
    target = setup(d)
    with pytest.raises(error) as e:
        _push(hub, hub_token, target, repo_id)
    assert words in e.value.message and e.value.hint


def test_corrupt_adapter_config_names_file_and_line(hub, hub_token, adapters, repo_id, copy_of):
    art = copy_of(adapters[4], "art")
    (art / "adapter_config.json").write_text('{\n  "r": 4,\n  "lora_alpha": oops\n}\n')
    with pytest.raises(MetadataError) as e:
        _push(hub, hub_token, art, repo_id)
    assert "adapter_config.json" in e.value.message and "line 3" in e.value.message


def test_versions_on_another_branch(hub, hub_token, api, adapters, repo_id):
    """--branch: a new branch starts from main; version ids stay unique across branches."""
    _push(hub, hub_token, adapters[4], repo_id)
    exp = _push(hub, hub_token, adapters[8], repo_id, branch="experiments", message="on a branch")
    assert exp.version == "v2" and exp.branch == "experiments"
    refs = api.list_repo_refs(repo_id)
    heads = {b.name: b.target_commit for b in refs.branches}
    assert heads["experiments"] == exp.commit and heads["main"] != exp.commit
    on_branch = hubver.list_versions(repo_id, branch="experiments", endpoint=hub.url, token=hub_token)
    assert [v.version for v in on_branch] == ["v1", "v2"]  # its history includes main's v1
    assert [v.version for v in hubver.list_versions(repo_id, endpoint=hub.url, token=hub_token)] == ["v1"]
    assert _push(hub, hub_token, adapters[8], repo_id).version == "v3"  # v2 is taken on the other branch


def test_an_explicit_version_is_published_even_for_identical_content(hub, hub_token, adapters, repo_id):
    """`--version v4` never silently turns into "no new version": the id asked for is made or refused."""
    hubver.push(adapters[4], repo_id, endpoint=hub.url, token=hub_token)
    again = hubver.push(adapters[4], repo_id, version="v4", endpoint=hub.url, token=hub_token)
    assert again.created and again.version == "v4"
    with pytest.raises(VersionIdError, match="v1"):
        hubver.push(adapters[4], repo_id, version="v1/x", endpoint=hub.url, token=hub_token)
    assert [v.version for v in hubver.list_versions(repo_id, endpoint=hub.url, token=hub_token)] == [
        "v1",
        "v4",
    ]


@pytest.mark.parametrize(
    "offsets, says",
    [([0, 10**12], "past the end of the file"), ([5, 2], "0 <= begin <= end"), ("x", "data_offsets")],
)
def test_safetensors_offsets_outside_the_file_are_refused_before_upload(
    hub, hub_token, adapters, repo_id, copy_of, offsets, says
):
    import struct

    art = copy_of(adapters[4])
    weights = art / "adapter_model.safetensors"
    raw = weights.read_bytes()
    (length,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + length])
    first = next(k for k in header if k != "__metadata__")
    header[first]["data_offsets"] = offsets
    text = json.dumps(header).encode()
    weights.write_bytes(struct.pack("<Q", len(text)) + text + raw[8 + length :])
    with pytest.raises(MetadataError, match=says):
        hubver.push(art, repo_id, endpoint=hub.url, token=hub_token)
    from huggingface_hub import HfApi

    assert not HfApi(endpoint=hub.url, token=hub_token).repo_exists(repo_id)  # nothing was sent
