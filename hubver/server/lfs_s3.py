"""LFS objects in an S3-compatible object store: clients move the bytes, the hub only signs and checks.

`hubver hub serve --storage s3://BUCKET/PREFIX --s3-endpoint URL`. Each repository owns the keys
under `PREFIX/<repo key>/`, a random id kept in the repo's git dir (`hubver-lfs-key`), so that a
renamed or transferred repository keeps its objects:

    objects/<oid>             accepted objects; only the hub writes here
    staging/<oid>.<ticket>    what a client uploaded with a presigned PUT (or multipart parts)
    quarantine/<oid>-<time>   objects fsck found damaged, kept for inspection

An upload never becomes an object by itself: the LFS verify step re-reads the staged bytes,
checks their size and sha256 and only then copies them to `objects/<oid>` (a server-side copy,
conditioned on the ETag of the bytes that were hashed, so a re-PUT meanwhile is refused), then
deletes the staging key. Downloads are presigned GETs. Credentials come from the usual AWS
environment variables or profile; they are never stored, logged or handed out.

boto3 is imported here only, so a hub on the local store (the default) never loads it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from .storage_errors import BadUpload, StoreFull, StoreUnavailable

log = logging.getLogger("hubver.server")

MIN_PART = 5 << 20  # S3 refuses parts below 5 MiB (except the last)
MAX_PARTS = 10000
_TICKET = re.compile(r"^[0-9a-f]{32}$")
_OID = re.compile(r"^[0-9a-f]{64}$")
_FULL_CODES = {"QuotaExceeded", "StorageFull", "XMinioStorageFull", "InsufficientStorage", "EntityTooLarge"}
KEY_FILE = "hubver-lfs-key"


@dataclass(frozen=True)
class S3Location:
    """Where objects go: `s3://BUCKET/PREFIX` plus the endpoint URL (None: AWS itself)."""

    bucket: str
    prefix: str
    endpoint: str | None

    @classmethod
    def parse(cls, url: str, endpoint: str | None) -> S3Location:
        """Raise ValueError (with what to write instead) for anything but s3://BUCKET[/PREFIX]."""
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc or parts.query or parts.fragment:
            raise ValueError(f"--storage {url!r} is not s3://BUCKET/PREFIX (or 'local').")
        if not re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", parts.netloc):
            raise ValueError(f"{parts.netloc!r} is not an S3 bucket name (3-63 of a-z 0-9 . -).")
        if endpoint is not None:
            ep = urlsplit(endpoint)
            if ep.scheme not in ("http", "https") or not ep.hostname:
                raise ValueError(f"--s3-endpoint {endpoint!r} is not an http(s) URL.")
            if ep.username or ep.password:  # credentials come from the environment, never a URL
                raise ValueError("--s3-endpoint must not hold credentials: use AWS_ACCESS_KEY_ID etc.")
        return cls(parts.netloc, parts.path.strip("/"), endpoint.rstrip("/") if endpoint else None)

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"


class S3Bucket:
    """One boto3 client (thread-safe) for the whole hub, and the repo stores on it."""

    def __init__(self, location: S3Location) -> None:
        try:
            import boto3
            from botocore.config import Config
        except ImportError:
            raise StoreUnavailable(
                f"Object storage ({location.url}) needs boto3: pip install 'hubver[s3]'."
            ) from None

        self.location = location
        session = boto3.session.Session()
        self.client = session.client(
            "s3",
            endpoint_url=location.endpoint,
            region_name=session.region_name or "us-east-1",
            config=Config(
                signature_version="s3v4",
                s3={"addressing_style": "path"},
                retries={"max_attempts": 3, "mode": "standard"},
                max_pool_connections=32,
            ),
        )

    def check(self) -> None:
        """Refuse to start on a bucket the hub cannot reach or write (what, and how to fix it)."""
        with s3_errors(f"the bucket {self.location.bucket}"):
            self.client.head_bucket(Bucket=self.location.bucket)

    def for_repo(self, git_dir: Path) -> S3LfsStore:
        return S3LfsStore(self, git_dir)


@contextlib.contextmanager
def s3_errors(what: str) -> Iterator[None]:
    """Turn boto3's errors into the hub's: a full store is 507, anything else 503 (never a traceback)."""
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    try:
        yield
    except NoCredentialsError:
        raise StoreUnavailable(
            f"No credentials for the object store holding {what}: set AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) for the hub."
        ) from None
    except ClientError as e:
        code = str(e.response.get("Error", {}).get("Code", ""))
        if code in _FULL_CODES:
            raise StoreFull(
                f"The object store refused to keep {what} ({code}): nothing of it was stored. "
                "Raise the bucket's quota or free space, then retry."
            ) from None
        if code in ("NoSuchBucket", "404"):
            raise StoreUnavailable(f"The object store has no bucket for {what}: create it first.") from None
        if code in ("AccessDenied", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
            raise StoreUnavailable(
                f"The object store refused the hub's credentials for {what} ({code}): check "
                "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_PROFILE."
            ) from None
        raise StoreUnavailable(f"The object store failed on {what} ({code or e}); retry later.") from None
    except BotoCoreError as e:
        raise StoreUnavailable(f"The object store did not answer for {what} ({e}); retry later.") from None


def _not_found(e: Exception) -> bool:
    from botocore.exceptions import ClientError

    return isinstance(e, ClientError) and str(e.response.get("Error", {}).get("Code")) in (
        "404",
        "NoSuchKey",
        "NotFound",
        "NoSuchUpload",
    )


def repo_key(git_dir: Path) -> str:
    """The repository's own key prefix, created once (atomically: several hubs may race)."""
    path = git_dir / KEY_FILE
    with contextlib.suppress(FileNotFoundError):
        return path.read_text().strip()
    tmp = git_dir / f".{KEY_FILE}-{secrets.token_hex(4)}"
    tmp.write_text(secrets.token_hex(16) + "\n")
    try:
        os.link(tmp, path)  # fails if another hub linked its key first: then that one holds
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return path.read_text().strip()


class S3LfsStore:
    """The LFS objects of one repository in the bucket (the interface of lfs.LfsStore)."""

    def __init__(self, bucket: S3Bucket, git_dir: Path) -> None:
        self.bucket = bucket
        self.client = bucket.client
        self.git_dir = git_dir
        self._base: str | None = None

    @property
    def base(self) -> str:
        if self._base is None:
            prefix = self.bucket.location.prefix
            self._base = f"{prefix}/{repo_key(self.git_dir)}" if prefix else repo_key(self.git_dir)
        return self._base

    def key(self, oid: str) -> str:
        return f"{self.base}/objects/{oid}"

    def _staging(self, oid: str, ticket: str) -> str:
        return f"{self.base}/staging/{oid}.{ticket}"

    def _ticket_file(self, ticket: str) -> Path:
        return self.git_dir / "lfs" / "tmp" / f"s3-{ticket}.json"

    def _head(self, key: str) -> dict[str, Any] | None:
        with s3_errors("an LFS object"):
            try:
                return dict(self.client.head_object(Bucket=self.bucket.location.bucket, Key=key))
            except Exception as e:
                if _not_found(e):
                    return None
                raise

    # -- the store interface ------------------------------------------------------------------

    def size(self, oid: str) -> int | None:
        head = self._head(self.key(oid))
        return int(head["ContentLength"]) if head else None

    def stat(self, oid: str) -> tuple[int, float] | None:
        head = self._head(self.key(oid))
        return (int(head["ContentLength"]), head["LastModified"].timestamp()) if head else None

    def has(self, oid: str, size: int) -> bool:
        return self.size(oid) == size

    def intact(self, oid: str, size: int) -> bool:
        """Stored with that size. Only the hub writes `objects/`, after hashing what it copies
        there; damage at rest (a store's own fault) is what `hub fsck` re-hashes for."""
        return self.has(oid, size)

    def _list(self, prefix: str) -> Iterator[dict[str, Any]]:
        with s3_errors("the list of LFS objects"):
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket.location.bucket, Prefix=prefix
            )
            for page in pages:
                yield from page.get("Contents", [])

    def oids(self) -> list[str]:
        """Every stored object, sorted."""
        start = f"{self.base}/objects/"
        found = (o["Key"][len(start) :] for o in self._list(start))
        return sorted(oid for oid in found if _OID.fullmatch(oid))

    def delete(self, oid: str) -> bool:
        """Remove an object for good; whether it was stored."""
        if self.size(oid) is None:
            return False
        with s3_errors(f"LFS object {oid}"):
            self.client.delete_object(Bucket=self.bucket.location.bucket, Key=self.key(oid))
        return True

    def _hash(self, key: str) -> tuple[str, int, str]:
        """sha256, size and ETag of the bytes stored at `key` (read once, in 8 MiB blocks)."""
        with s3_errors("an LFS object"):
            obj = self.client.get_object(Bucket=self.bucket.location.bucket, Key=key)
            digest, n = hashlib.sha256(), 0
            for block in obj["Body"].iter_chunks(8 << 20):
                digest.update(block)
                n += len(block)
            return digest.hexdigest(), n, str(obj["ETag"])

    def quarantine(self, oid: str) -> str | None:
        dest = f"{self.base}/quarantine/{oid}-{int(time.time())}"
        with s3_errors(f"LFS object {oid}"):
            b = self.bucket.location.bucket
            try:
                self.client.copy({"Bucket": b, "Key": self.key(oid)}, b, dest)
            except Exception as e:
                if _not_found(e):
                    return None
                raise
            self.client.delete_object(Bucket=b, Key=self.key(oid))
        return f"s3://{b}/{dest}"

    def fsck(self) -> list[tuple[str, str | None]]:
        """Re-hash every stored object (read from the store); quarantine the damaged ones."""
        damaged = []
        for oid in self.oids():
            digest, _, _ = self._hash(self.key(oid))
            if digest != oid:
                damaged.append((oid, self.quarantine(oid)))
        return damaged

    def download_url(self, oid: str, filename: str | None, ttl: float) -> str | None:
        params: dict[str, Any] = {"Bucket": self.bucket.location.bucket, "Key": self.key(oid)}
        if filename:
            params["ResponseContentDisposition"] = f"inline; filename*=UTF-8''{quote(filename)}"
        with s3_errors(f"LFS object {oid}"):
            return str(self.client.generate_presigned_url("get_object", Params=params, ExpiresIn=int(ttl)))

    # -- uploads -------------------------------------------------------------------------------

    def upload_plan(
        self, oid: str, size: int, *, chunk: int | None, ttl: float
    ) -> tuple[str, dict[str, str]]:
        """A ticket and the upload action's (href, header) for one object.

        Without `chunk`: one presigned PUT. With it: a multipart upload of `chunk`-sized parts
        (raised to S3's limits), one presigned URL per part in the header, as huggingface.co
        answers; the caller's completion URL carries the ticket. The staging key is the ticket's.
        """
        ticket = secrets.token_hex(16)
        b = self.bucket.location.bucket
        key = self._staging(oid, ticket)
        with s3_errors(f"the upload of {oid}"):
            if chunk is None:
                href = self.client.generate_presigned_url(
                    "put_object", Params={"Bucket": b, "Key": key}, ExpiresIn=int(ttl)
                )
                return ticket, {"href": str(href)}
            chunk = max(chunk, MIN_PART, -(-size // MAX_PARTS))
            upload_id = self.client.create_multipart_upload(Bucket=b, Key=key)["UploadId"]
            record = self._ticket_file(ticket)
            record.parent.mkdir(parents=True, exist_ok=True)
            record.write_text(
                json.dumps({"oid": oid, "size": size, "upload_id": upload_id, "at": time.time()})
            )
            header = {"chunk_size": str(chunk)}
            for n in range(1, -(-size // chunk) + 1):
                header[str(n)] = str(
                    self.client.generate_presigned_url(
                        "upload_part",
                        Params={"Bucket": b, "Key": key, "UploadId": upload_id, "PartNumber": n},
                        ExpiresIn=int(ttl),
                    )
                )
            return ticket, header

    def complete(self, oid: str, size: int, ticket: str, parts: Any) -> None:
        """Assemble the parts the client uploaded (their ETags as it reported them)."""
        if not _TICKET.fullmatch(ticket):
            raise BadUpload("Malformed upload ticket.")
        try:
            record = json.loads(self._ticket_file(ticket).read_text())
        except (FileNotFoundError, ValueError):
            raise BadUpload(f"No multipart upload of {oid} is open under this URL (expired?).") from None
        if record.get("oid") != oid or record.get("size") != size:
            raise BadUpload("This completion URL belongs to another object.")
        if not isinstance(parts, list) or not parts:
            raise BadUpload("Expected {'oid': ..., 'parts': [{'partNumber': N, 'etag': ...}, ...]}.")
        listed = []
        for p in parts:
            if (
                not isinstance(p, dict)
                or not isinstance(p.get("partNumber"), int)
                or not isinstance(p.get("etag"), str)
            ):
                raise BadUpload("Each part is {'partNumber': N, 'etag': '...'}.")
            listed.append({"PartNumber": p["partNumber"], "ETag": p["etag"]})
        with s3_errors(f"the upload of {oid}"):
            try:
                self.client.complete_multipart_upload(
                    Bucket=self.bucket.location.bucket,
                    Key=self._staging(oid, ticket),
                    UploadId=record["upload_id"],
                    MultipartUpload={"Parts": sorted(listed, key=lambda p: p["PartNumber"])},
                )
            except Exception as e:
                from botocore.exceptions import ClientError

                if isinstance(e, ClientError) and e.response.get("Error", {}).get("Code") in (
                    "InvalidPart",
                    "InvalidPartOrder",
                    "EntityTooSmall",
                    "NoSuchUpload",
                ):
                    raise BadUpload(f"The parts of {oid} cannot be assembled: {e}.") from None
                raise
        with contextlib.suppress(FileNotFoundError):
            self._ticket_file(ticket).unlink()

    def accept(self, oid: str, size: int, ticket: str | None) -> None:
        """The verify step: the staged bytes become object `oid` only if size and sha256 match."""
        if self.has(oid, size):
            if ticket and _TICKET.fullmatch(ticket):
                self._drop(self._staging(oid, ticket))
            return
        if not ticket or not _TICKET.fullmatch(ticket):
            raise BadUpload(f"Object {oid} of {size} bytes is not stored.")
        staged = self._staging(oid, ticket)
        head = self._head(staged)
        if head is None:
            raise BadUpload(f"Object {oid} of {size} bytes was not uploaded (nothing is staged).")
        try:
            if int(head["ContentLength"]) != size:
                raise BadUpload(
                    f"The upload of {oid} has {head['ContentLength']} bytes, but {size} were announced. "
                    "The object was not stored."
                )
            digest, n, etag = self._hash(staged)
            if n != size or digest != oid:
                raise BadUpload(
                    f"The uploaded bytes do not match their oid: expected sha256 {oid}, got {digest}. "
                    "The object was not stored."
                )
            b = self.bucket.location.bucket
            with s3_errors(f"LFS object {oid}"):
                try:
                    self.client.copy(
                        {"Bucket": b, "Key": staged},
                        b,
                        self.key(oid),
                        ExtraArgs={"CopySourceIfMatch": etag},
                    )
                except Exception as e:
                    from botocore.exceptions import ClientError

                    code = e.response.get("Error", {}).get("Code") if isinstance(e, ClientError) else None
                    if code in ("PreconditionFailed", "412"):
                        raise BadUpload(f"The upload of {oid} changed while it was verified.") from None
                    raise
        finally:
            self._drop(staged)

    def purge(self) -> None:
        """Delete every key of the repository (objects, staged uploads, quarantine)."""
        if not (self.git_dir / KEY_FILE).exists():
            return
        for record in (self.git_dir / "lfs" / "tmp").glob("s3-*.json"):
            with contextlib.suppress(Exception):
                data = json.loads(record.read_text())
                self.client.abort_multipart_upload(
                    Bucket=self.bucket.location.bucket,
                    Key=self._staging(data["oid"], record.name[3:-5]),
                    UploadId=data["upload_id"],
                )
        for obj in self._list(f"{self.base}/"):
            self._drop(obj["Key"])

    def _drop(self, key: str) -> None:
        with contextlib.suppress(Exception):
            self.client.delete_object(Bucket=self.bucket.location.bucket, Key=key)

    def sweep(self, older_than: float = 24 * 3600) -> None:
        """Remove staged uploads nobody verified and abort multipart uploads never completed."""
        tmp = self.git_dir / "lfs" / "tmp"
        cutoff = time.time() - older_than
        with contextlib.suppress(StoreUnavailable):
            for record in tmp.glob("s3-*.json") if tmp.is_dir() else []:
                with contextlib.suppress(OSError, ValueError, StoreUnavailable):
                    if record.stat().st_mtime >= cutoff:
                        continue
                    data = json.loads(record.read_text())
                    ticket = record.name[3:-5]
                    with s3_errors("an abandoned upload"):
                        with contextlib.suppress(Exception):
                            self.client.abort_multipart_upload(
                                Bucket=self.bucket.location.bucket,
                                Key=self._staging(data["oid"], ticket),
                                UploadId=data["upload_id"],
                            )
                    record.unlink()
            if not (self.git_dir / KEY_FILE).exists():
                return
            for obj in self._list(f"{self.base}/staging/"):
                if obj["LastModified"].timestamp() < cutoff:
                    self._drop(obj["Key"])
