"""Breaking things on purpose: concurrent pushers, killed pushes, a killed hub, a hub that answers 429/500.

Real processes are started and killed with SIGKILL: the installed `hubver` entry point for
pushes, `hubver hub serve` for hubs that must die. Every loop is bounded in count and time,
and all traffic goes to 127.0.0.1.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import http.client
import json
import os
import random
import re
import selectors
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from helpers import git_dir, push_in_parallel
from huggingface_hub import HfApi, hf_hub_download

import hubver
from hubver.errors import HubverError

HUBVER = str(Path(sys.executable).with_name("hubver"))
MiB = 1 << 20

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")


# -- a hub in its own process, so that it can be killed -------------------------------------------


class HubProcess:
    """`hubver hub serve` on 127.0.0.1; `kill()` is SIGKILL, `restart()` reuses the data dir and port."""

    def __init__(self, data_dir: Path, token: str, log: Path) -> None:
        self.data_dir, self.token, self.log = data_dir, token, log
        self.proc: subprocess.Popen | None = None
        self.url = ""
        self.starts = 0

    def start(self, port: int = 0) -> str:
        for _ in range(20):  # the old socket may linger for a moment after a kill
            with self.log.open("a") as log:
                self.proc = subprocess.Popen(
                    [HUBVER, "hub", "serve", "--port", str(port), "--data-dir", str(self.data_dir)],
                    env={**os.environ, "HUBVER_HUB_TOKEN": self.token},
                    stdout=subprocess.PIPE,
                    stderr=log,
                    text=True,
                )
            line = _first_line(self.proc, timeout=30)
            if line.startswith("http://127.0.0.1:"):
                self.url, self.starts = line, self.starts + 1
                return line
            self.proc.wait(10)
            time.sleep(0.1)
        raise RuntimeError(f"the hub did not start; see {self.log}:\n{self.log.read_text()[-2000:]}")

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        if self.proc:
            self.proc.wait(10)
            self.proc.stdout.close()  # type: ignore[union-attr]

    def restart(self) -> str:
        self.kill()
        return self.start(self.port)


def _first_line(proc: subprocess.Popen, timeout: float) -> str:
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)  # type: ignore[arg-type]
        if not sel.select(timeout):
            return ""
    return proc.stdout.readline().strip()  # type: ignore[union-attr]


@pytest.fixture
def hub_process(tmp_path) -> Iterator[HubProcess]:
    hp = HubProcess(tmp_path / "hub-data", "hv_fault_" + os.urandom(8).hex(), tmp_path / "hub.log")
    hp.start()
    try:
        yield hp
    finally:
        hp.kill()


def _fsck(bare: Path) -> list[str]:
    """`git fsck --full --strict` problems (dangling objects are fine: they are refused commits)."""
    proc = subprocess.run(
        ["git", "--git-dir", str(bare), "fsck", "--full", "--strict", "--no-progress"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    problems = [
        line
        for line in (proc.stdout + proc.stderr).splitlines()
        if line and not line.startswith(("dangling ", "Checking ", "notice: HEAD"))
    ]
    return problems + ([f"git fsck exited {proc.returncode}"] if proc.returncode else [])


def _refs_resolve(bare: Path) -> list[str]:
    """Refs whose object does not exist (should be none)."""
    refs = subprocess.run(
        ["git", "--git-dir", str(bare), "for-each-ref", "--format=%(objectname) %(refname)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\n")
    refs = [r for r in refs if r]
    check = subprocess.run(
        ["git", "--git-dir", str(bare), "cat-file", "--batch-check"],
        input="".join(r.split()[0] + "\n" for r in refs),
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    return [ref for ref, out in zip(refs, check, strict=True) if out.endswith(" missing")]


def _distinct_adapters(base: Path, tmp_path: Path, n: int) -> list[Path]:
    """n copies of an adapter, each with its own weights (what a training run would write)."""
    from safetensors.numpy import load_file, save_file

    tensors = load_file(base / "adapter_model.safetensors")
    dirs = []
    for i in range(n):
        d = shutil.copytree(base, tmp_path / f"run-{i}")
        save_file(
            {k: v + (i + 1) for k, v in tensors.items()},
            str(d / "adapter_model.safetensors"),
            metadata={"format": "pt"},
        )
        dirs.append(d)
    return dirs


def _random_file(path: Path, size: int) -> str:
    h = hashlib.sha256()
    with path.open("wb") as f:
        for _ in range(size // (16 * MiB)):
            block = os.urandom(16 * MiB)
            h.update(block)
            f.write(block)
    return h.hexdigest()


def _wait_for(predicate: Callable[[], bool], timeout: float, what: str, step: float = 0.005) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(step)


# -- concurrent pushers ---------------------------------------------------------------------------


@pytest.mark.slow
def test_eight_processes_race_to_create_and_push_one_repo(cli, hub, hub_token, adapters, repo_id, tmp_path):
    """Eight `hubver push` processes, a repo that does not exist yet: eight versions, none lost."""
    dirs = _distinct_adapters(adapters[8], tmp_path, 8)
    results = dict(zip(dirs, push_in_parallel(dirs, repo_id, hub.url, hub_token), strict=True))
    assert sorted(r["version"] for r in results.values()) == [f"v{i}" for i in range(1, 9)]
    assert all(r["created"] for r in results.values())

    listed = cli("list", "--json", repo=repo_id)
    assert listed.exit_code == 0, listed.stderr
    versions = {v["version"]: v for v in json.loads(listed.stdout)}
    assert sorted(versions) == sorted(r["version"] for r in results.values())
    for d, r in results.items():
        v = versions[r["version"]]
        assert v["message"] == d.name and v["commit"] == r["commit"] and not v["problems"]
        # Each version holds the weights of the process that pushed it, at its tag.
        got = hf_hub_download(
            repo_id, "adapter_model.safetensors", revision=r["version"], cache_dir=tmp_path / "cache"
        )
        assert Path(got).read_bytes() == (d / "adapter_model.safetensors").read_bytes()

    verified = cli("verify", "--json", repo=repo_id)
    assert verified.exit_code == 0, verified.stdout + verified.stderr
    reports = json.loads(verified.stdout)
    assert sorted(r["version"] for r in reports) == sorted(versions)
    assert all(r["ok"] and r["tag_commit"] == r["published_commit"] for r in reports)
    assert max(r["attempts"] for r in results.values()) > 1  # they really raced
    assert _fsck(git_dir(hub, repo_id)) == []


# -- a push killed in the middle of a large upload ------------------------------------------------


@pytest.mark.slow
def test_push_killed_during_a_large_upload_leaves_nothing(hub_process, adapters, repo_id, tmp_path):
    hp = hub_process
    conn = {"endpoint": hp.url, "token": hp.token}
    v1 = hubver.push(adapters[4], repo_id, **conn)
    art = shutil.copytree(adapters[8], tmp_path / "big")
    oid = _random_file(art / "big.bin", 300 * MiB)
    bare = hp.data_dir / "repos" / "models" / f"{repo_id}.git"
    tmp = bare / "lfs" / "tmp"

    def uploading() -> bool:
        sizes = [p.stat().st_size for p in tmp.glob("*") if p.is_file()] if tmp.is_dir() else []
        return bool(sizes) and max(sizes) > 32 * MiB

    push = subprocess.Popen(
        [HUBVER, "push", str(art), "--repo", repo_id, "--endpoint", hp.url],
        env={**os.environ, "HF_TOKEN": hp.token},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        _wait_for(lambda: uploading() or push.poll() is not None, 120, "the upload to start")
        assert push.poll() is None, "the push finished before it could be killed"
        push.send_signal(signal.SIGKILL)
    finally:
        push.wait(30)
        push.stderr.close()  # type: ignore[union-attr]
    assert push.returncode == -signal.SIGKILL

    api = HfApi(endpoint=hp.url, token=hp.token)
    refs = api.list_repo_refs(repo_id)
    assert [t.name for t in refs.tags] == ["v1"]
    assert [b.target_commit for b in refs.branches] == [v1.commit]
    assert [v.version for v in hubver.list_versions(repo_id, **conn)] == ["v1"]
    # The hub noticed the dropped connection: the partial object is gone, nothing was stored.
    _wait_for(lambda: not any(tmp.iterdir()), 15, "the partial upload to be removed", step=0.05)
    stored = {p.name for p in (bare / "lfs" / "objects").rglob("*") if p.is_file()}
    assert oid not in stored

    v2 = hubver.push(art, repo_id, **conn)
    assert (v2.version, v2.created, v2.attempts) == ("v2", True, 1)
    assert "big.bin" in v2.uploaded
    assert oid in {p.name for p in (bare / "lfs" / "objects").rglob("*") if p.is_file()}
    assert [r.ok for r in hubver.verify(repo_id, **conn)] == [True, True]
    assert _fsck(bare) == []


# -- the hub killed in the middle of commits --------------------------------------------------------


def _http(url: str, method: str, path: str, body: bytes | None = None, headers=None, timeout: float = 10):
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


@dataclass
class Writer:
    """Commits in a tight loop with the raw protocol (no client retries): batch, PUT, commit, tag."""

    url: str
    token: str
    repo: str
    acked: dict[int, str] = field(default_factory=dict)  # commit number -> sha the hub confirmed
    in_commit: threading.Event = field(default_factory=threading.Event)
    interrupted: dict[str, int] = field(default_factory=dict)  # phase -> how often a kill landed in it
    unexpected: list[str] = field(default_factory=list)  # answers other than success, from a live hub
    n: int = 0

    FILES = 120  # many blobs and trees per commit: a wide window to be killed in

    def files_of(self, i: int) -> dict[str, bytes]:
        return {f"d{i % 4}/c{i}/f{k}.txt": f"commit {i} file {k}\n".encode() for k in range(self.FILES)}

    def run(self, stop: threading.Event) -> None:
        auth = {"Authorization": f"Bearer {self.token}"}
        for _ in range(10_000):  # bounded; the kill ends it long before
            if stop.is_set():
                return
            phase = "refs"
            try:
                _, body = _http(self.url, "GET", f"/api/models/{self.repo}/refs", headers=auth)
                head = json.loads(body)["branches"][0]["targetCommit"]
                i, self.n = self.n, self.n + 1
                blob = os.urandom(64 << 10)
                oid = hashlib.sha256(blob).hexdigest()
                phase = "lfs"
                batch = {
                    "operation": "upload",
                    "transfers": ["basic"],
                    "objects": [{"oid": oid, "size": len(blob)}],
                }
                status, body = _http(
                    self.url,
                    "POST",
                    f"/{self.repo}.git/info/lfs/objects/batch",
                    json.dumps(batch).encode(),
                    auth,
                )
                if status != 200:
                    self.unexpected.append(f"batch: {status} {body[:200]!r}")
                    continue
                (obj,) = json.loads(body)["objects"]
                href = obj["actions"]["upload"]["href"]
                status, body = _http(self.url, "PUT", href[len(self.url) :], blob)
                if status != 200:
                    self.unexpected.append(f"upload: {status} {body[:200]!r}")
                    continue
                lines = [{"key": "header", "value": {"summary": f"c{i}", "parentCommit": head}}]
                lines += [
                    {"key": "file", "value": {"path": p, "content": base64.b64encode(d).decode()}}
                    for p, d in self.files_of(i).items()
                ]
                lines.append({"key": "lfsFile", "value": {"path": f"w{i}.bin", "algo": "sha256", "oid": oid}})
                ndjson = "\n".join(json.dumps(line) for line in lines).encode()
                phase = "commit"
                self.in_commit.set()
                status, body = _http(self.url, "POST", f"/api/models/{self.repo}/commit/main", ndjson, auth)
                self.in_commit.clear()
                if status != 200:
                    self.unexpected.append(f"commit: {status} {body[:200]!r}")
                    continue
                sha = json.loads(body)["commitOid"]
                self.acked[i] = sha
                phase = "tag"
                tag = json.dumps({"tag": f"t{i}", "message": f"tag of c{i}"}).encode()
                status, body = _http(self.url, "POST", f"/api/models/{self.repo}/tag/{sha}", tag, auth)
                if status != 200:
                    self.unexpected.append(f"tag: {status} {body[:200]!r}")
            except (OSError, http.client.HTTPException, ValueError, KeyError):
                self.in_commit.clear()
                if stop.is_set() or not _alive(self.url):
                    self.interrupted[phase] = self.interrupted.get(phase, 0) + 1
                    return
                time.sleep(0.01)


def _alive(url: str) -> bool:
    try:
        _http(url, "GET", "/api/agent-harnesses", timeout=2)
    except OSError:
        return False
    return True


@pytest.mark.slow
def test_hub_killed_mid_commit_is_consistent_after_restart(hub_process, capsys):
    """20 rounds: commits in a tight loop, SIGKILL of the hub at a random moment, restart, check."""
    hp = hub_process
    repo = "faults/killed"
    api = HfApi(endpoint=hp.url, token=hp.token)
    api.create_repo(repo)
    bare = hp.data_dir / "repos" / "models" / f"{repo}.git"
    writer = Writer(hp.url, hp.token, repo)
    checked: set[str] = set()
    rng = random.Random()
    rounds = 20
    started = time.monotonic()
    for round_no in range(rounds):
        stop = threading.Event()
        thread = threading.Thread(target=writer.run, args=(stop,), daemon=True)
        thread.start()
        if round_no % 2:
            time.sleep(rng.uniform(0.05, 0.6))  # anywhere: refs, LFS upload, commit, tag
        else:  # aimed: once a commit request is on its way, within the time a commit takes
            writer.in_commit.wait(5)
            time.sleep(rng.uniform(0, 0.03))
        hp.kill()
        stop.set()
        thread.join(20)
        assert not thread.is_alive()
        hp.restart()

        assert _fsck(bare) == [], f"round {round_no}"
        assert _refs_resolve(bare) == [], f"round {round_no}"
        lost = [i for i, sha in writer.acked.items() if not _is_ancestor(bare, sha, "main")]
        assert lost == [], f"round {round_no}: confirmed commits lost: {lost}"
        # All or nothing: every commit on main has every file it was sent with, LFS objects included.
        for sha, title in _log(bare, "main"):
            if sha in checked or not re.fullmatch(r"c\d+", title):
                continue
            i = int(title[1:])
            tree = _tree(bare, sha)
            assert set(writer.files_of(i)) | {f"w{i}.bin"} <= set(tree), (
                f"round {round_no}: {title} is partial"
            )
            pointer = _blob(bare, tree[f"w{i}.bin"])
            oid, size = re.search(rb"oid sha256:([0-9a-f]{64})\nsize (\d+)", pointer).groups()  # type: ignore[union-attr]
            obj = bare / "lfs" / "objects" / oid[:2].decode() / oid[2:4].decode() / oid.decode()
            assert obj.stat().st_size == int(size), f"round {round_no}: {title} lacks its LFS object"
            checked.add(sha)
        # A restarted hub removes what killed uploads left in its temp dir, and serves normally.
        tmp = bare / "lfs" / "tmp"
        assert not tmp.is_dir() or list(tmp.iterdir()) == [], f"round {round_no}"
        refs = api.list_repo_refs(repo)
        assert refs.branches[0].target_commit == _rev_parse(bare, "main")
        assert {t.name for t in refs.tags} <= {f"t{i}" for i in writer.acked}
    elapsed = time.monotonic() - started
    on_main = {int(title[1:]) for _, title in _log(bare, "main") if re.fullmatch(r"c\d+", title)}
    assert writer.unexpected == []
    assert len(writer.acked) >= 3  # the rounds did commit
    assert writer.interrupted.get("commit", 0) >= 1  # and some kills did land inside a commit
    with capsys.disabled():
        print(
            f"\n[faults] {rounds} hub SIGKILLs in {elapsed:.0f}s: {len(writer.acked)} commits confirmed, "
            f"{len(on_main - set(writer.acked))} more landed with their answer lost, "
            f"interrupted phases {dict(sorted(writer.interrupted.items()))}, {len(checked)} commits checked"
        )


def _git(bare: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "--git-dir", str(bare), *args], capture_output=True, text=True, check=True
    ).stdout


def _is_ancestor(bare: Path, sha: str, ref: str) -> bool:
    return (
        subprocess.run(["git", "--git-dir", str(bare), "merge-base", "--is-ancestor", sha, ref]).returncode
        == 0
    )


def _rev_parse(bare: Path, ref: str) -> str:
    return _git(bare, "rev-parse", ref).strip()


def _log(bare: Path, ref: str) -> list[tuple[str, str]]:
    return [tuple(line.split(" ", 1)) for line in _git(bare, "log", "--format=%H %s", ref).splitlines()]  # type: ignore[misc]


def _tree(bare: Path, sha: str) -> dict[str, str]:
    out = {}
    for line in _git(bare, "ls-tree", "-r", sha).splitlines():
        meta, path = line.split("\t", 1)
        out[path] = meta.split()[2]
    return out


def _blob(bare: Path, sha: str) -> bytes:
    return subprocess.run(
        ["git", "--git-dir", str(bare), "cat-file", "blob", sha], capture_output=True, check=True
    ).stdout


@pytest.mark.slow
def test_uploads_of_a_killed_hub_are_swept_and_live_ones_kept(hub_process, tmp_path):
    """Two hubs share a data dir: one starting does not touch the other's upload; a killed hub's
    partial upload is gone once it restarts."""
    hp = hub_process
    repo = "faults/uploads"
    api = HfApi(endpoint=hp.url, token=hp.token)
    api.create_repo(repo)
    tmp = hp.data_dir / "repos" / "models" / f"{repo}.git" / "lfs" / "tmp"

    def stalled_upload(data: bytes, go: threading.Event, outcome: dict) -> threading.Thread:
        oid = hashlib.sha256(data).hexdigest()
        batch = {"operation": "upload", "objects": [{"oid": oid, "size": len(data)}]}
        auth = {"Authorization": f"Bearer {hp.token}"}
        _, body = _http(
            hp.url, "POST", f"/{repo}.git/info/lfs/objects/batch", json.dumps(batch).encode(), auth
        )
        href = json.loads(body)["objects"][0]["actions"]["upload"]["href"][len(hp.url) :]

        def chunks() -> Iterator[bytes]:
            yield data[:MiB]
            go.wait(30)
            yield data[MiB:]

        def run() -> None:
            try:
                outcome["status"] = _http(hp.url, "PUT", href, chunks(), {"Content-Length": str(len(data))})[
                    0
                ]
            except OSError as e:
                outcome["error"] = e

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        _wait_for(lambda: tmp.is_dir() and any(tmp.iterdir()), 30, "the upload's temp file")
        return thread

    # A second hub starts on the same data dir while the first receives an upload: it is kept.
    data, go, outcome = os.urandom(4 * MiB), threading.Event(), {}
    upload = stalled_upload(data, go, outcome)
    other = HubProcess(hp.data_dir, hp.token, tmp_path / "other.log")
    other.start()
    try:
        assert len(list(tmp.iterdir())) == 1
        go.set()
        upload.join(30)
        assert outcome == {"status": 200}
        stored = hp.data_dir / "repos" / "models" / f"{repo}.git" / "lfs" / "objects"
        assert hashlib.sha256(data).hexdigest() in {p.name for p in stored.rglob("*")}
        # The first hub dies in the middle of the next upload: its restart removes the leftover.
        go, outcome = threading.Event(), {}
        upload = stalled_upload(os.urandom(4 * MiB), go, outcome)
        hp.kill()
        go.set()
        upload.join(30)
        assert "error" in outcome and len(list(tmp.iterdir())) == 1  # orphaned, and still there
        hp.restart()
        assert list(tmp.iterdir()) == []
    finally:
        other.kill()


def test_a_hub_killed_while_creating_its_secrets_starts_again(tmp_path):
    """A first start killed between creating `secret`/`admin.token` and writing them left empty files."""
    from hubver.server import HubConfig, start_in_thread

    for name in ("secret", "admin.token"):
        data = tmp_path / name
        data.mkdir(mode=0o700)
        (data / name).touch(mode=0o600)
        with start_in_thread(HubConfig(data_dir=data)) as running:
            token = (data / "admin.token").read_text().strip()
            assert token and HfApi(endpoint=running.url, token=token).whoami()["name"] == "admin"
            assert len((data / "secret").read_text().strip()) == 64


# -- the hub stopped in the middle of a checkout ------------------------------------------------------


@pytest.mark.slow
def test_checkout_when_the_hub_dies_mid_download(hub_process, adapters, repo_id, tmp_path, monkeypatch):
    hp = hub_process
    monkeypatch.setenv("HUBVER_RETRY_SECONDS", "5")
    conn = {"endpoint": hp.url, "token": hp.token}
    art = shutil.copytree(adapters[4], tmp_path / "big")
    oid = _random_file(art / "big.bin", 192 * MiB)
    hubver.push(art, repo_id, **conn)
    cache = tmp_path / "hf-cache"
    target = tmp_path / "checkouts" / "v1"
    target.parent.mkdir()
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            outcome["result"] = hubver.checkout(repo_id, "v1", to=target, cache_dir=cache, quiet=True, **conn)
        except BaseException as e:  # examined below
            outcome["error"] = e
        outcome["done"] = time.monotonic()

    def downloading() -> bool:
        # The client renames and removes its temp files while we look: a vanished one is no answer.
        try:
            return any(p.stat().st_size > 0 for p in cache.rglob("*.incomplete"))
        except FileNotFoundError:
            return False

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    _wait_for(lambda: downloading() or not thread.is_alive(), 60, "the download to start")
    assert thread.is_alive(), outcome
    hp.kill()
    killed = time.monotonic()
    thread.join(90)
    assert not thread.is_alive()
    error = outcome.get("error")
    assert isinstance(error, HubverError), repr(error)
    assert hp.url in error.message, error.message
    assert outcome["done"] - killed < 40  # type: ignore[operator]
    assert not target.exists()
    assert list(target.parent.iterdir()) == []  # no staging directory left behind

    hp.restart()
    result = hubver.checkout(repo_id, "v1", to=target, cache_dir=cache, quiet=True, **conn)
    assert result.verified == len(result.files) - 2  # every artifact file; hubver.json and README.md aside
    assert hashlib.sha256((target / "big.bin").read_bytes()).hexdigest() == oid


def test_checkout_reports_what_failed_in_the_snapshot(cli, hub, hub_token, adapters, repo_id, monkeypatch):
    """A permanent 500 on the snapshot's revision request is an HTTP 500, not 'Cannot reach the Hub'."""
    monkeypatch.setenv("HUBVER_RETRY_SECONDS", "2")
    hubver.push(adapters[4], repo_id, endpoint=hub.url, token=hub_token)
    rules = [Rule("GET", rf"/api/models/{repo_id}/revision/", 500, times=None)]
    with injected(hub.app, rules):
        started = time.monotonic()
        result = cli("checkout", "v1", "--to", "co", repo=repo_id)
    assert result.exit_code == 1
    assert rules[0].hits >= 1 and time.monotonic() - started < 10
    assert "HTTP 500" in result.stderr and "Cannot reach" not in result.stderr, result.stderr


# -- a hub that answers 429 and 500 ------------------------------------------------------------------


@dataclass
class Rule:
    """Answer `status` instead of the hub to requests matching `method` and `path` (a regex)."""

    method: str
    path: str
    status: int
    times: int | None = 1  # None: always
    retry_after: str | None = None
    hits: int = 0
    answered: list[float] = field(default_factory=list)  # when each injected answer was sent
    passed: list[float] = field(default_factory=list)  # when matching requests reached the hub

    def matches(self, method: str, path: str) -> bool:
        return method == self.method and re.search(self.path, path) is not None


@contextlib.contextmanager
def injected(app, rules: list[Rule]) -> Iterator[list[Rule]]:
    """Wrap `app.dispatch` (on the instance, as helpers.recorded_requests does) to inject answers."""
    from starlette.responses import JSONResponse

    original = app.dispatch

    async def dispatch(request):
        raw = request.scope.get("raw_path") or request.scope["path"].encode()
        path = raw.split(b"?", 1)[0].decode("latin-1")
        for rule in rules:
            if rule.matches(request.method, path):
                if rule.times is None or rule.hits < rule.times:
                    rule.hits += 1
                    rule.answered.append(time.monotonic())
                    headers = {"X-Error-Message": f"injected {rule.status}"}
                    if rule.retry_after:
                        headers["Retry-After"] = rule.retry_after
                    return JSONResponse({"error": "injected"}, status_code=rule.status, headers=headers)
                rule.passed.append(time.monotonic())
        return await original(request)

    app.dispatch = dispatch
    try:
        yield rules
    finally:
        del app.dispatch


def test_push_list_checkout_ride_out_429_and_500(cli, hub, api, adapters, repo_id, tmp_path):
    q = re.escape(repo_id)
    push_rules = [
        Rule("GET", rf"^/api/models/{q}/refs$", 429, times=2, retry_after="1"),
        Rule("POST", rf"^/api/models/{q}/preupload/main$", 500),
        Rule("POST", rf"^/{q}\.git/info/lfs/objects/batch$", 502),
        Rule("PUT", r"^/lfs-upload/", 500),
        Rule("POST", rf"^/api/models/{q}/commit/main$", 503),
        Rule("POST", rf"^/api/models/{q}/tag/", 500),
    ]
    started = time.monotonic()
    with injected(hub.app, push_rules):
        pushed = cli("push", adapters[4], "--json", repo=repo_id)
    assert pushed.exit_code == 0, pushed.stderr
    assert time.monotonic() - started < 30
    assert [r.hits for r in push_rules] == [2, 1, 1, 1, 1, 1]
    refs_429 = push_rules[0]
    # Retry-After: 1 was honoured before each retry.
    assert refs_429.answered[1] - refs_429.answered[0] >= 1.0
    assert refs_429.passed[0] - refs_429.answered[1] >= 1.0
    result = json.loads(pushed.stdout)
    assert (result["version"], result["created"]) == ("v1", True)
    refs = api.list_repo_refs(repo_id)
    assert {t.name: t.target_commit for t in refs.tags} == {"v1": result["commit"]}
    assert len(api.list_repo_commits(repo_id)) == 2  # the initial commit and v1: nothing twice

    list_rules = [
        Rule("GET", rf"^/api/models/{q}/refs$", 429, retry_after="1"),
        Rule("GET", rf"^/{q}/resolve/[0-9a-f]{{40}}/\.hubver/versions\.jsonl$", 500),
    ]
    with injected(hub.app, list_rules):
        listed = cli("list", "--json", repo=repo_id)
    assert listed.exit_code == 0, listed.stderr
    assert [v["version"] for v in json.loads(listed.stdout)] == ["v1"]
    assert [r.hits for r in list_rules] == [1, 1]

    checkout_rules = [
        Rule("GET", rf"^/api/models/{q}/refs$", 503, retry_after="1"),
        # hubver downloads without a HEAD first (the tree listing gave sizes and ids): the GET is refused.
        Rule("GET", rf"^/{q}/resolve/[0-9a-f]{{40}}/adapter_model\.safetensors$", 429, retry_after="1"),
        Rule("GET", rf"^/{q}/resolve/[0-9a-f]{{40}}/adapter_config\.json$", 500),
    ]
    with injected(hub.app, checkout_rules):
        checked_out = cli("checkout", "v1", "--to", tmp_path / "co", "--json", repo=repo_id)
    assert checked_out.exit_code == 0, checked_out.stderr
    assert [r.hits for r in checkout_rules] == [1, 1, 1]
    assert (tmp_path / "co" / "adapter_model.safetensors").read_bytes() == (
        adapters[4] / "adapter_model.safetensors"
    ).read_bytes()


@pytest.mark.parametrize(
    ("argv", "failed"),
    [
        (["list"], "Listing tags and branches failed: HTTP 500"),
        (["push", "{adapter}"], "Listing tags and branches failed: HTTP 500"),
        (["checkout", "v1", "--to", "co"], "Listing tags and branches failed: HTTP 500"),
        (["show", "v1"], "failed: HTTP 500"),
    ],
    ids=["list", "push", "checkout", "show"],
)
def test_permanent_500s_fail_clearly_within_the_retry_budget(
    cli, hub, hub_token, adapters, repo_id, monkeypatch, argv, failed
):
    hubver.push(adapters[4], repo_id, endpoint=hub.url, token=hub_token)
    monkeypatch.setenv("HUBVER_RETRY_SECONDS", "2")
    rule = Rule("GET", rf"/{re.escape(repo_id)}(/|$)", 500, times=None)
    started = time.monotonic()
    with injected(hub.app, [rule]):
        result = cli(*[a.format(adapter=adapters[8]) for a in argv], repo=repo_id)
    elapsed = time.monotonic() - started
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ") and failed in result.stderr, result.stderr
    assert hub.url in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert rule.hits >= 2  # retried...
    assert elapsed < 2 + 8  # ...within HUBVER_RETRY_SECONDS (plus one last wait and the slack of a request)


def test_push_with_the_store_down_fails_within_the_budget_with_the_hubs_message(
    cli, hub, hub_token, adapters, repo_id, monkeypatch
):
    """An LFS batch answered 503 every time (the hub's object store is down) is not "someone
    else writing": the push gives up within the retry budget and says what the hub said."""
    hubver.push(adapters[4], repo_id, endpoint=hub.url, token=hub_token)
    monkeypatch.setenv("HUBVER_RETRY_SECONDS", "5")
    rule = Rule("POST", rf"^/{re.escape(repo_id)}\.git/info/lfs/objects/batch$", 503, times=None)
    started = time.monotonic()
    with injected(hub.app, [rule]):
        result = cli("push", adapters[8], repo=repo_id)
    elapsed = time.monotonic() - started
    assert result.exit_code == 1, result.stdout
    assert "injected 503" in result.stderr, result.stderr
    assert "kept changing" not in result.stderr and "who else" not in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    # huggingface_hub retries the batch itself (~15 s of backoff); hubver does not multiply that.
    assert elapsed < 45, elapsed
