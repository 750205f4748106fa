"""The lockfile format (hubver/lockfile.py): round trip, refusals, picking a version; no hub."""

import json

import pytest

from hubver.errors import LockError
from hubver.lockfile import (
    LOCK_VERSION,
    Lock,
    LockedBase,
    LockedFile,
    LockedVersion,
    from_dict,
    read_lock,
    write_lock,
)

pytestmark = pytest.mark.fast


def version(v="v3", selector="best:eval_loss"):
    return LockedVersion(
        repo="me/m",
        branch="main",
        selector=selector,
        version=v,
        commit="a" * 40,
        digest="d" * 64,
        base_model=LockedBase("org/base", "main", "b" * 40),
        files=(LockedFile("adapter_model.safetensors", "c" * 64, 12),),
    )


LOCK = Lock(
    "https://huggingface.co", "2026-01-31T12:00:00Z", "hubver 0.1.0", (version(), version("v1", "v1"))
)


def test_round_trip(tmp_path):
    path = write_lock(LOCK, tmp_path / "sub" / "hubver.lock")
    assert read_lock(path) == LOCK
    data = json.loads(path.read_text())
    assert data["lock_version"] == LOCK_VERSION
    assert set(data) == {"lock_version", "generated_by", "created_at", "endpoint", "versions"}
    data["versions"][0]["a_later_field"] = 1  # readers ignore fields they do not know
    assert from_dict(data) == LOCK
    assert [p.name for p in path.parent.iterdir()] == ["hubver.lock"]  # no temp file left


def test_pick():
    assert LOCK.pick("v1").version == "v1"
    assert LOCK.pick("best:eval_loss").version == "v3"
    with pytest.raises(LockError, match="pins 2 versions"):
        LOCK.pick()
    with pytest.raises(LockError, match="no version called 'v9'"):
        LOCK.pick("v9")


def _broken(**changes):
    data = LOCK.to_dict()
    entry = data["versions"][0]
    for key, value in changes.items():
        if key in data:
            data[key] = value
        elif key in entry:
            entry[key] = value
        else:
            entry["files"][0][key] = value
    return data


@pytest.mark.parametrize(
    "changes, words",
    [
        ({"lock_version": 2}, "lock_version 2"),
        ({"versions": []}, "non-empty list"),
        ({"commit": "abc"}, "not a full commit sha"),
        ({"path": "../etc/passwd"}, "not a plain relative path"),
        ({"sha256": "xyz"}, "not a sha256"),
        ({"size": -1}, "non-negative integer"),
        ({"version": ""}, "'version' must be a non-empty string"),
        ({"base_model": "org/base"}, "'base_model' must be an object"),
    ],
)
def test_refusals_name_the_field(changes, words):
    with pytest.raises(LockError) as e:
        from_dict(_broken(**changes), "x.lock")
    assert words in e.value.message and e.value.message.startswith("x.lock")


def test_unreadable_files(tmp_path):
    with pytest.raises(LockError, match="Cannot read the lockfile"):
        read_lock(tmp_path / "none.lock")
    (tmp_path / "bad.lock").write_text("{")
    with pytest.raises(LockError, match="not valid JSON"):
        read_lock(tmp_path / "bad.lock")
