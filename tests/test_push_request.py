"""PushRequest: push()'s options as one value, through JSON and through job.json files."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

import hubver
from hubver.errors import MetadataError
from hubver.registry.request import PushRequest


def test_every_field_round_trips_through_json(tmp_path):
    request = PushRequest(
        version="v7",
        scheme="semver",
        bump="minor",
        message="r=8\nsecond line",
        private=True,
        metrics={"eval_loss": 1.5, "nested": {"a": [1, 2]}},
        metrics_file=tmp_path / "metrics.json",  # type: ignore[arg-type]  (a Path becomes a string)
        params={"lr": "1e-4"},
        dataset={"name": "data.jsonl", "fingerprint": "sha256:00"},
        num_samples=12,
        base_model="org/base@0123",
        template=tmp_path / "card.j2",  # type: ignore[arg-type]
        excludes=["*.tmp", "logs/*"],  # type: ignore[arg-type]  (a list becomes a tuple)
        training={"epoch": 1.0, "global_step": 10},
        extra={"trigger": "epoch"},
        dry_run=True,
        push_id="run-1-step-10",
    )
    assert request.metrics_file == str(tmp_path / "metrics.json") and request.excludes == ("*.tmp", "logs/*")
    data = json.loads(json.dumps(request.to_json(), allow_nan=False))
    assert PushRequest.from_json(data) == request
    assert PushRequest.from_json(PushRequest().to_json()) == PushRequest()


def test_the_push_options_of_an_older_job_json_still_read():
    # What HubverCallback of hubver 0.1 (before PushRequest) wrote under "push": loose kwargs.
    old = {
        "scheme": "counter",
        "bump": None,
        "message": "epoch 1 (step 10)",
        "training": {"epoch": 1.0, "global_step": 10, "hyperparameters": {}, "run": {"id": "r"}},
        "dataset": None,
        "base_model": "org/base@abc",
        "extra": {"trigger": "epoch"},
        "private": True,
        "excludes": ["*.bin"],
        "template": "/tmp/card.j2",
    }
    request = PushRequest.from_json(old)
    assert request.message == "epoch 1 (step 10)" and request.private and request.excludes == ("*.bin",)
    assert request.training == old["training"] and request.version is None and request.push_id is None
    with pytest.raises(MetadataError, match="does not take: colour"):
        PushRequest.from_json({**old, "colour": "blue"})
    with pytest.raises(MetadataError, match="not a JSON object"):
        PushRequest.from_json(["scheme"])


def test_an_outbox_entry_written_by_an_older_hubver_is_published(
    hub, hub_token, adapters, repo_id, cli, tmp_path
):
    entry = tmp_path / "run" / ".hubver" / "outbox" / f"{time.time_ns():020d}-s000000010"
    shutil.copytree(adapters[4], entry / "files")
    job = {  # the job.json of hubver before PushRequest, as its HubverCallback sealed it
        "schema": 1,
        "repo": repo_id,
        "endpoint": hub.url,
        "local": False,
        "branch": "main",
        "push_id": "run-old-step-10",
        "trigger": "epoch",
        "epoch": 1.0,
        "step": 10,
        "final": True,
        "sealed": True,
        "push": {
            "scheme": "counter",
            "bump": None,
            "message": "epoch 1 (step 10)",
            "training": {
                "epoch": 1.0,
                "global_step": 10,
                "hyperparameters": {"lr": 0.001},
                "run": {"id": "old"},
            },
            "dataset": None,
            "base_model": None,
            "extra": {"trigger": "epoch"},
        },
    }
    (entry / "job.json").write_text(json.dumps(job))
    result = cli("push", "--pending", str(tmp_path / "run"))
    assert result.exit_code == 0, result.output
    [version] = hubver.list_versions(repo_id, endpoint=hub.url, token=hub_token)
    assert version.message == "epoch 1 (step 10)"
    meta = hubver.get_version(repo_id, "v1", endpoint=hub.url, token=hub_token).metadata
    assert meta["extra"]["trigger"] == "epoch" and meta["training"]["global_step"] == 10
    assert not Path(entry).exists()


def _old_job(repo_id: str, url: str, push: dict) -> dict:
    return {
        "schema": 1,
        "repo": repo_id,
        "endpoint": url,
        "local": False,
        "branch": "main",
        "push_id": "run-x-step-10",
        "trigger": "epoch",
        "epoch": 1.0,
        "step": 10,
        "final": True,
        "sealed": True,
        "push": push,
    }


def test_job_push_options_hold_only_what_was_set():
    # Earlier hubvers publish a job with push(files, **job["push"], push_id=job["push_id"]): a
    # "push_id" (or an option they lack) under "push" would break the job for them.
    data = PushRequest(message="epoch 1", training={"epoch": 1.0}).to_json()
    assert data == {"message": "epoch 1", "training": {"epoch": 1.0}}
    assert PushRequest().to_json() == {}


def test_a_job_that_asks_for_a_dry_run_is_kept_not_dropped(hub, hub_token, adapters, repo_id, cli, tmp_path):
    entry = tmp_path / "run" / ".hubver" / "outbox" / f"{time.time_ns():020d}-s000000010"
    shutil.copytree(adapters[4], entry / "files")
    (entry / "job.json").write_text(json.dumps(_old_job(repo_id, hub.url, {"message": "m", "dry_run": True})))
    result = cli("push", "--pending", str(tmp_path / "run"))
    assert "asks for a dry run" in result.output, result.output
    assert "unexpected" not in result.output
    # Nothing was published, and the snapshot's files are still on disk (set aside, not deleted).
    assert not _repo_exists(hub, hub_token, repo_id) or not hubver.list_versions(
        repo_id, endpoint=hub.url, token=hub_token
    )
    kept = list((tmp_path / "run" / ".hubver").rglob("adapter_model.safetensors"))
    assert kept, "the snapshot's weights were deleted"


def _repo_exists(hub, token: str, repo_id: str) -> bool:
    from huggingface_hub import HfApi

    return HfApi(endpoint=hub.url, token=token).repo_exists(repo_id)
