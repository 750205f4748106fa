"""The artifact's large files sent to the Hub's LFS store while a push does everything else.

Sending the bytes is most of a push's time, and it needs nothing but each file's sha256. A
push reads the branch, checks its history, reads the alias records and renders the card,
the index and the metrics picture: all of that used to wait for nothing, and then the
upload started. Now the upload starts as soon as the files are hashed, in a thread, and the
commit finds those files already in the store.

An error the Hub gives (no space, no permission, a refused upload) is raised where the commit
would have raised it, once: the commit does not send the same bytes again to learn it twice.
A transient failure (a 5xx, a dropped connection) is raised where the commit is sent and
retried as a failed commit is, within the push's budget; the retry sends what is missing.
An object the Hub already holds is not sent again (the LFS batch answers without an upload action), so a push that turns out
to repeat an existing version costs one batch request.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from ..artifact import Artifact, ArtifactFile
from ..client import HubClient
from ..errors import HubverError, TransientError

MIN_BYTES = 1 << 20  # smaller files ride in the commit request itself on most hubs


class EarlyUpload:
    """Starts at once; `artifact` (which may wait for the files' hashes) is called in the thread."""

    def __init__(self, client: HubClient, repo: str, branch: str, artifact: Callable[[], Artifact]) -> None:
        self._ops: dict[str, tuple[str, Any]] = {}
        self._error: HubverError | None = None
        self._transient: TransientError | None = None
        self._thread: threading.Thread | None = threading.Thread(
            target=self._send, args=(client, repo, branch, artifact), name="hubver-early-upload", daemon=True
        )
        self._thread.start()

    def _send(self, client: HubClient, repo: str, branch: str, artifact: Callable[[], Artifact]) -> None:
        try:
            from huggingface_hub import CommitOperationAdd

            for f in artifact().files:
                if f.path == "adapter_config.json" or f.size < MIN_BYTES or not f.sha256:
                    continue  # adapter_config.json may be rewritten (the base model's revision)
                op = CommitOperationAdd(path_in_repo=f.path, path_or_fileobj=str(f.local))
                op.upload_info.sha256 = bytes.fromhex(f.sha256)
                self._ops[f.path] = (f.sha256, op)
            if self._ops:
                client.preupload(repo, branch, [op for _, op in self._ops.values()])
        except TransientError as e:
            self._transient = e  # raised where the commit is sent, which retries it (see push)
        except HubverError as e:
            self._error = e
        except Exception:  # noqa: BLE001 - anything else: the commit does it all, and says why
            self._ops.clear()

    def operation(self, f: ArtifactFile) -> Any | None:
        """The already uploaded operation for `f` (waits for the upload), if it is that content;
        raises the Hub's refusal of the upload."""
        self.wait()
        if self._error is not None:
            error, self._error = self._error, None
            raise error
        entry = self._ops.get(f.path)
        if not entry or entry[0] != f.sha256:
            return None
        op = entry[1]
        # Only what went to the LFS store (the Hub checked its sha256): a file the Hub takes
        # in the commit itself is sent there from the bytes that were hashed (see push).
        return op if op._upload_mode == "lfs" and op._is_uploaded else None

    def raise_transient(self) -> None:
        """Raise, once, the transient failure (5xx, dropped connection) the upload met, so that
        the push retries it within its budget instead of paying huggingface_hub's backoff twice."""
        self.wait()
        if self._transient is not None:
            error, self._transient = self._transient, None
            raise error

    def wait(self) -> None:
        if self._thread is not None:
            self._thread.join()
            self._thread = None
