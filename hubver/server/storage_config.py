"""Which store holds a data dir's LFS objects: recorded once in `<data_dir>/storage.json`.

The first `hubver hub serve --storage s3://BUCKET/PREFIX` records the bucket (never credentials);
every later process on that data dir (another hub behind the same load balancer, `hub fsck`,
`hub gc`) then uses the same store without being told, and one told another store refuses to
start: objects split between two stores would look missing from each.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable
from pathlib import Path

from .lfs import LfsStore, ObjectStore
from .locks import dir_lock
from .storage_errors import InvalidOperation

STORAGE_FILE = "storage.json"
LOCAL = "local"

StoreFactory = Callable[[Path], ObjectStore]


def _recorded(data_dir: Path) -> dict[str, str] | None:
    try:
        raw = json.loads((data_dir / STORAGE_FILE).read_text())
    except FileNotFoundError:
        return None
    except ValueError:
        raise InvalidOperation(f"{data_dir / STORAGE_FILE} is not valid JSON: restore it.") from None
    return raw if isinstance(raw, dict) else None


def _has_local_objects(data_dir: Path) -> bool:
    return any((data_dir / "repos").glob("*/*/*.git/lfs/objects/??/??/*"))


def configure(data_dir: Path, storage: str | None, endpoint: str | None) -> StoreFactory:
    """The store for `data_dir`: the one asked for (recorded on first use) or the recorded one.

    Raises InvalidOperation (what and how to fix) for a store other than the recorded one, or
    for object storage on a data dir whose objects are on its own disk; ValueError for a
    malformed --storage / --s3-endpoint.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    with dir_lock(data_dir):
        recorded = _recorded(data_dir)
        if storage is None and recorded is None:
            return LfsStore
        if storage is None or (storage == LOCAL and recorded is None):
            return load(data_dir)
        if recorded is not None:
            from .lfs_s3 import S3Location

            want = LOCAL if storage == LOCAL else S3Location.parse(storage, endpoint).url
            if want != recorded.get("storage") or (
                endpoint and endpoint.rstrip("/") != recorded.get("endpoint")
            ):
                was = recorded.get("endpoint") or "AWS"
                now = (endpoint or "AWS").rstrip("/")
                if want == recorded.get("storage"):  # same bucket and prefix, another endpoint
                    raise InvalidOperation(
                        f"This data dir keeps its LFS objects in {want} at endpoint {was}, "
                        f"not at {now}: the S3 endpoint differs ({was} vs {now}). "
                        f"Start it with --s3-endpoint {was}, or use another --data-dir."
                    )
                raise InvalidOperation(
                    f"This data dir keeps its LFS objects in {recorded.get('storage')} "
                    f"(endpoint {was}), not {storage}: every hub on one "
                    f"data dir must use the same store. Start it with --storage {recorded.get('storage')} "
                    f"(or without --storage), or use another --data-dir."
                )
            return load(data_dir)
        from .lfs_s3 import S3Location

        location = S3Location.parse(storage, endpoint)
        if _has_local_objects(data_dir):
            raise InvalidOperation(
                f"The data dir {data_dir} already holds LFS objects on its own disk; moving them to "
                f"{location.url} is not supported. Serve it without --storage, or start a new data dir "
                "on the bucket (and copy the repos over with `hubver sync`)."
            )
        factory = _s3_factory(location)
        tmp = data_dir / f".storage-{secrets.token_hex(4)}.json"
        tmp.write_text(json.dumps({"storage": location.url, "endpoint": location.endpoint}, indent=1) + "\n")
        os.replace(tmp, data_dir / STORAGE_FILE)
        return factory


def load(data_dir: Path) -> StoreFactory:
    """The store recorded for `data_dir` (the local one if none is)."""
    recorded = _recorded(data_dir)
    if recorded is None or recorded.get("storage", LOCAL) == LOCAL:
        return LfsStore
    from .lfs_s3 import S3Location

    return _s3_factory(S3Location.parse(str(recorded["storage"]), recorded.get("endpoint")))


def _s3_factory(location: object) -> StoreFactory:
    from .lfs_s3 import S3Bucket, S3Location

    assert isinstance(location, S3Location)
    bucket = S3Bucket(location)
    bucket.check()
    return bucket.for_repo
