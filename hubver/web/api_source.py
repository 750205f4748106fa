"""The pages' `Source` for `hubver ui`: a Hub's HTTP API (huggingface.co, the embedded hub, any
other), through hubver's `HubClient` with the user's token, which stays in this process.

Reads are what the pages need and no more: the refs, a few small files per page (the index,
hubver.json, the card, alias records), one tree listing, one commit listing. The home page lists
the user's own repositories and the one given with `--repo`, never a crawl of the Hub.
"""

from __future__ import annotations

import contextlib
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any
from urllib.parse import quote

from ..client import HubClient
from ..errors import HubUnreachable, HubverError, RepoNotFound, RevisionMissing, TransientError
from .source import CommitItem, NotFound, RefSet, RepoSummary, TreeItem, Unavailable

TYPE_PATHS = {"model": "models", "dataset": "datasets"}
MAX_HOME_REPOS = 50


def _time(value: Any) -> float | None:
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    return None


class ApiSource:
    def __init__(self, client: HubClient, repos: list[str] | None = None) -> None:
        self.client = client
        self.extra = list(repos or [])

    def _json(self, what: str, url: str, repo: str | None) -> Any:
        from huggingface_hub.utils import hf_raise_for_status

        def fetch() -> Any:
            with self.client._get(url) as r:
                r.read()
                hf_raise_for_status(r)
                return r.json()

        try:
            return self.client.call(what, fetch, repo=repo)
        except (RepoNotFound, RevisionMissing) as e:
            raise NotFound(e.message) from None
        except (HubUnreachable, TransientError) as e:
            raise self._down(e) from None
        except HubverError as e:
            if "not found" in e.message:
                raise NotFound(e.message) from None
            raise

    def _down(self, e: HubverError) -> Unavailable:
        return Unavailable(f"The hub at {self.client.endpoint} is unreachable or failing: {e.message}")

    def _prefix(self, repo_type: str, repo_id: str) -> str:
        return f"{self.client.endpoint}/api/{TYPE_PATHS[repo_type]}/{repo_id}"

    def list_repos(self, repo_type: str) -> list[RepoSummary]:
        if repo_type != "model":
            return []
        ids = list(self.extra)
        with contextlib.suppress(HubverError, NotFound):  # anonymous: the given repo only
            me = self._json("Reading who you are", f"{self.client.endpoint}/api/whoami-v2", None)
            name = me.get("name") if isinstance(me, dict) else None
            if isinstance(name, str):
                listed = self._json(
                    "Listing your repositories",
                    f"{self.client.endpoint}/api/models?author={quote(name)}&limit={MAX_HOME_REPOS}",
                    None,
                )
                for m in listed if isinstance(listed, list) else []:
                    if isinstance(m, dict) and isinstance(m.get("id"), str):
                        ids.append(m["id"])
        ids = list(dict.fromkeys(ids))[:MAX_HOME_REPOS]

        def summary(repo_id: str) -> RepoSummary | None:
            try:
                return self.repo("model", repo_id)
            except (NotFound, HubverError):
                return None

        if not ids:
            return []
        with ThreadPoolExecutor(max_workers=min(8, len(ids))) as pool:
            return [s for s in pool.map(summary, ids) if s is not None]

    def repo(self, repo_type: str, repo_id: str) -> RepoSummary:
        info = self._json(f"Reading {repo_id}", self._prefix(repo_type, repo_id), repo_id)
        if not isinstance(info, dict):
            raise NotFound(f"Repository {repo_id} not found.")
        given = info.get("id")
        real_id: str = given if isinstance(given, str) and "/" in given else repo_id
        versions: int | None = None
        with contextlib.suppress(HubverError, NotFound):
            raw = self.read_file(repo_type, real_id, "main", ".hubver/versions.jsonl")
            versions = sum(1 for line in (raw or b"").split(b"\n") if line.strip())
        return RepoSummary(
            repo_type, real_id, bool(info.get("private")), _time(info.get("lastModified")), versions
        )

    def refs(self, repo_type: str, repo_id: str) -> RefSet:
        data = self._json("Listing tags and branches", self._prefix(repo_type, repo_id) + "/refs", repo_id)
        data = data if isinstance(data, dict) else {}

        def names(kind: str) -> dict[str, str]:
            return {
                r["name"]: r["targetCommit"]
                for r in data.get(kind) or []
                if isinstance(r, dict)
                and isinstance(r.get("name"), str)
                and isinstance(r.get("targetCommit"), str)
            }

        return RefSet(names("branches"), names("tags"))

    def resolve(self, repo_type: str, repo_id: str, rev: str) -> str:
        info = self._json(
            f"Reading {rev}", self._prefix(repo_type, repo_id) + f"/revision/{quote(rev, safe='')}", repo_id
        )
        sha = info.get("sha") if isinstance(info, dict) else None
        if not isinstance(sha, str):
            raise NotFound(f"Revision {rev} not found in {repo_id}.")
        return sha

    def read_file(self, repo_type: str, repo_id: str, commit: str, path: str) -> bytes | None:
        if repo_type != "model":
            return None
        try:
            return self.client.read_file(repo_id, path, commit)[0]
        except (RepoNotFound, RevisionMissing) as e:
            raise NotFound(e.message) from None
        except (HubUnreachable, TransientError) as e:
            raise self._down(e) from None
        except HubverError:
            return None  # too large to be metadata, or unreadable: the page says it is absent

    def tree(self, repo_type: str, repo_id: str, commit: str, path: str) -> list[TreeItem]:
        url = self._prefix(repo_type, repo_id) + f"/tree/{quote(commit, safe='')}"
        if path.strip("/"):
            url += "/" + quote(path.strip("/"))
        data = self._json(f"Listing {path or 'the files'}", url, repo_id)
        items = []
        for e in data if isinstance(data, list) else []:
            if not isinstance(e, dict) or not isinstance(e.get("path"), str):
                continue
            given = e.get("size")
            size: int = given if isinstance(given, int) else 0
            items.append(
                TreeItem(e["path"], e.get("type") == "directory", size, isinstance(e.get("lfs"), dict))
            )
        return sorted(items, key=lambda i: (not i.is_dir, i.path))

    def commits(self, repo_type: str, repo_id: str, commit: str, limit: int) -> list[CommitItem]:
        url = self._prefix(repo_type, repo_id) + f"/commits/{quote(commit, safe='')}?limit={limit}"
        data = self._json("Listing the commits", url, repo_id)
        out = []
        for c in (data if isinstance(data, list) else [])[:limit]:
            if not isinstance(c, dict) or not isinstance(c.get("id"), str):
                continue
            given = c.get("authors")
            authors: list[Any] = given if isinstance(given, list) else []
            users = [a.get("user") for a in authors if isinstance(a, dict)]
            author = next((u for u in users if isinstance(u, str)), "")
            out.append(CommitItem(c["id"], str(c.get("title") or ""), author, _time(c.get("date")) or 0.0))
        return out
