"""hubver/record.py and docs/hubver.schema.json describe the same document, and the schema bites."""

from __future__ import annotations

import copy
import typing

import pytest
from helpers import schema_validators
from record_sample import RECORD

from hubver.metadata import PEFT_KEYS, SCHEMA_VERSION, TRAINING_EXTRAS
from hubver.record import (
    BaseModelRecord,
    CodeRecord,
    EnvironmentRecord,
    FileRecord,
    IndexEntry,
    ParentRecord,
    PeftRecord,
    TrainingRecord,
    VersionRecord,
)

pytestmark = pytest.mark.fast


def _schema():
    return schema_validators()["record"].schema


def _keys(td) -> tuple[set[str], set[str]]:
    return set(td.__required_keys__), set(td.__optional_keys__)


@pytest.mark.parametrize(
    ("typed", "where"),
    [
        (VersionRecord, None),
        (BaseModelRecord, "baseModel"),
        (TrainingRecord, "training"),
        (CodeRecord, "code"),
        (FileRecord, "file"),
        (ParentRecord, "parent"),
        (EnvironmentRecord, "environment"),
        (IndexEntry, "indexEntry"),
    ],
)
def test_typed_dicts_and_schema_agree_on_keys(typed, where):
    node = _schema() if where is None else _schema()["$defs"][where]
    required, optional = _keys(typed)
    assert set(node["required"]) == required
    assert set(node["properties"]) == required | optional


def test_peft_keys_are_those_metadata_summarises():
    assert set(typing.get_type_hints(PeftRecord)) == set(PEFT_KEYS)
    assert set(_schema()["$defs"]["peft"]["propertyNames"]["enum"]) == set(PEFT_KEYS)


def test_training_extras_are_those_metadata_keeps():
    assert _keys(TrainingRecord)[1] == set(TRAINING_EXTRAS)


def test_schema_version_is_metadatas():
    assert _schema()["properties"]["schema_version"] == {"const": SCHEMA_VERSION}


def test_a_full_record_validates():
    assert list(schema_validators()["record"].iter_errors(RECORD)) == []


def _broken(change) -> dict:
    doc = copy.deepcopy(RECORD)
    change(doc)
    return doc


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d.pop("files"),
        lambda d: d.update(schema_version=2),
        lambda d: d.update(version="v 2"),
        lambda d: d.update(created_at="2026-01-31 12:00:05"),
        lambda d: d.update(kind="dataset"),
        lambda d: d.update(digest="0" * 63),
        lambda d: d["files"][0].update(sha256="D" * 64),
        lambda d: d["files"][0].pop("size"),
        lambda d: d["files"].append({"path": "x", "size": -1, "sha256": "0" * 64}),
        lambda d: d["parent"].update(commit="short"),
        lambda d: d["lora_ranks"].update(x=0),
        lambda d: d["training"].update(global_step="5"),
        lambda d: d["training"].update(metrics={}),  # not kept by metadata.build
        lambda d: d["base_model"].pop("source"),
        lambda d: d["dataset"].update(fingerprint="md5:abc"),
        lambda d: d["environment"]["accelerator"].update(type="tpu"),
        lambda d: d.update(unknown=1),
        lambda d: d["peft"].update(target_modules=[5]),  # metadata.check_adapter_config refuses it
        lambda d: d["peft"].update(revision="main"),  # not one of PEFT_KEYS
        lambda d: d["parent"].update(commit=5),
    ],
)
def test_what_hubver_never_writes_is_refused(change):
    assert list(schema_validators()["record"].iter_errors(_broken(change)))


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d.update(base_model=None, peft=None, lora_ranks=None, dataset=None, code=None, parent=None),
        lambda d: d.update(message=None, kind="model"),
        lambda d: d["files"][0].pop("git"),  # written before #11
        lambda d: d["training"].update(epoch=None, global_step=None, hyperparameters={}, log_history=[]),
        lambda d: [d["training"].pop(k) for k in TRAINING_EXTRAS if k in d["training"]],
        lambda d: d["base_model"].update(name="/home/me/base", revision=None, local=True),
        lambda d: d["extra"].update(anything={"nested": [1, "x", None]}),
        lambda d: d["metrics"].update(accuracy=1, note="from a metrics file", flags=[1, 2]),
        lambda d: d["peft"].update(target_modules="c_attn|c_proj", lora_alpha=8.5),
        lambda d: d["peft"].update(peft_type=[], r=None),  # copied from an adapter_config.json as found
        lambda d: d["parent"].update(commit=None),  # the parent's tag was missing
        lambda d: d["environment"].update(accelerator={"type": "cuda", "detected_by": "nvidia driver"}),
    ],
)
def test_optional_parts_are_not_over_constrained(change):
    assert list(schema_validators()["record"].iter_errors(_broken(change))) == []
