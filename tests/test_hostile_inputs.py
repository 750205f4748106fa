"""Every bad input tried, and what the user sees: one table, also published as docs/hostile-inputs.md.

Each row runs the input for real (the CLI in-process, the library, or raw HTTP to the session
hub) and checks that the user gets the message in the third column: a clear `Error: ...`
with exit 1 and no traceback from hubver, or an HTTP 4xx with `X-Error-Message` from the hub.
`test_the_docs_table_is_this_table` keeps the published table in step with this one.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers import raw_request, recorded_requests
from huggingface_hub import CommitOperationAdd, HfApi, get_session

import hubver

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "hostile-inputs.md"
HUBVER = Path(sys.executable).with_name("hubver")
MiB = 1 << 20

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")


@dataclass
class Ctx:
    """What a row needs: the session hub, a fresh repo, a private copy of an adapter, the CLI."""

    hub: object
    token: str
    repo: str
    tmp: Path
    adapters: dict[int, Path]
    cli_runner: Callable

    @property
    def url(self) -> str:
        return self.hub.url  # type: ignore[attr-defined]

    @property
    def api(self) -> HfApi:
        return HfApi(endpoint=self.url, token=self.token)

    def art(self) -> Path:
        """A private copy of the rank-4 adapter, to spoil."""
        dest = self.tmp / "art"
        if not dest.exists():
            shutil.copytree(self.adapters[4], dest)
        return dest

    def push_v1(self) -> None:
        hubver.push(self.adapters[4], self.repo, endpoint=self.url, token=self.token)

    def commit(self, path: str, data: bytes, revision: str = "main") -> None:
        """Change a file on the Hub behind hubver's back, as anyone with write access could."""
        self.api.create_commit(
            self.repo, [CommitOperationAdd(path, data)], commit_message=f"hostile {path}", revision=revision
        )

    def retag(self, tag: str = "v1") -> None:
        """Point `tag` at the head of main (after `commit`), so the version serves the changed file."""
        self.api.delete_tag(self.repo, tag=tag)
        self.api.create_tag(self.repo, tag=tag)

    def fails(self, *argv, token: str | None | bool = True) -> str:
        """Run a hubver command that must fail cleanly; returns its stderr."""
        result = self.cli_runner(*argv, repo=self.repo, token=self.token if token is True else token)
        assert result.exit_code == 1, (result.exit_code, result.stdout, result.stderr)
        assert result.stderr.startswith("Error: "), result.stderr
        assert "Traceback" not in result.stderr + result.stdout
        assert "unexpected" not in result.stderr, result.stderr  # a HubverError, not a crash
        return result.stderr

    def succeeds(self, *argv) -> str:
        result = self.cli_runner(*argv, repo=self.repo)
        assert result.exit_code == 0, result.stderr
        return result.stdout + result.stderr

    def raw(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None) -> str:
        """A request as a hostile client would send it; returns 'STATUS: X-Error-Message'."""
        status, h, _ = raw_request(self.url, method, path, body=body, headers=headers)
        return f"{status}: {h.get('x-error-message', '')}"

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def upload_url(self, data: bytes) -> str:
        """A signed upload URL for `data`, from the LFS batch endpoint (path and query only)."""
        self.api.create_repo(self.repo, exist_ok=True)
        oid = hashlib.sha256(data).hexdigest()
        response = get_session().post(
            f"{self.url}/{self.repo}.git/info/lfs/objects/batch",
            json={
                "operation": "upload",
                "transfers": ["basic"],
                "objects": [{"oid": oid, "size": len(data)}],
            },
            headers=self.auth,
        )
        return response.json()["objects"][0]["actions"]["upload"]["href"][len(self.url) :]


# -- the rows ----------------------------------------------------------------------------------------


def _dup(c: Ctx) -> str:
    c.succeeds("push", c.adapters[4], "--version", "best")
    return c.fails("push", c.adapters[8], "--version", "best")


def _hub_file(path: str, data: bytes, command: tuple[str, ...]) -> Callable[[Ctx], str]:
    def run(c: Ctx) -> str:
        c.push_v1()
        c.commit(path, data)
        c.retag()
        return c.fails(*command)

    return run


def _local(change: Callable[[Path], object]) -> Callable[[Ctx], str]:
    def run(c: Ctx) -> str:
        art = c.art()
        change(art)
        return c.fails("push", art)

    return run


def _write(name: str, data: bytes | str) -> Callable[[Path], object]:
    def change(d: Path) -> None:
        (d / name).parent.mkdir(parents=True, exist_ok=True)
        (d / name).write_bytes(data if isinstance(data, bytes) else data.encode())

    return change


def _metrics(data: bytes | None) -> Callable[[Ctx], str]:
    def run(c: Ctx) -> str:
        if data is not None:
            (c.tmp / "metrics.json").write_bytes(data)
        return c.fails("push", c.adapters[4], "--metrics-file", c.tmp / "metrics.json")

    return run


def _symlink_outside(c: Ctx) -> str:
    secret = c.tmp / "outside.txt"
    secret.write_text("not for publishing")
    art = c.art()
    (art / "notes.txt").symlink_to(secret)
    return c.fails("push", art)


def _dir_symlink_outside(c: Ctx) -> str:
    (c.tmp / "elsewhere").mkdir()
    art = c.art()
    (art / "extra").symlink_to(c.tmp / "elsewhere", target_is_directory=True)
    return c.fails("push", art)


def _symlink_inside(c: Ctx) -> str:
    art = c.art()
    (art / "notes").mkdir()
    (art / "notes" / "real.txt").write_text("published once, under both names\n")
    (art / "alias.txt").symlink_to("notes/real.txt")
    c.succeeds("push", art)
    got = hubver.get_version(c.repo, "v1", endpoint=c.url, token=c.token).metadata["files"]
    paths = {f["path"]: f["sha256"] for f in got}
    assert paths["alias.txt"] == paths["notes/real.txt"]
    return "Published v1 (alias.txt: the content of notes/real.txt)"


def _broken_symlink(c: Ctx) -> str:
    art = c.art()
    (art / "gone.txt").symlink_to(c.tmp / "never-existed")
    return c.fails("push", art)


def _symlink_loop(c: Ctx) -> str:
    art = c.art()
    (art / "a.txt").symlink_to("b.txt")
    (art / "b.txt").symlink_to("a.txt")
    return c.fails("push", art)


def _non_utf8_name(c: Ctx) -> str:
    art = c.art()
    fd = os.open(os.fsencode(art) + b"/caf\xe9.txt", os.O_WRONLY | os.O_CREAT, 0o644)
    os.write(fd, b"latin-1 name")
    os.close(fd)
    return c.fails("push", art)


def _dot_names(c: Ctx) -> str:
    art = c.art()
    (art / "...").write_text("three dots")
    (art / "..hidden").write_text("two dots")
    c.succeeds("push", art)
    files = set(c.api.list_repo_files(c.repo, revision="v1"))
    assert {"...", "..hidden"} <= files
    return "Published v1 (files '...' and '..hidden' kept as they are)"


def _fifo(c: Ctx) -> str:
    art = c.art()
    os.mkfifo(art / "pipe")
    return c.fails("push", art)


def _unreadable(c: Ctx) -> str:
    if os.geteuid() != 0:
        art = c.art()
        (art / "adapter_model.safetensors").chmod(0)
        try:
            return c.fails("push", art)
        finally:
            (art / "adapter_model.safetensors").chmod(stat.S_IRUSR | stat.S_IWUSR)
    return _unreadable_as_nobody(c)


def _unreadable_as_nobody(c: Ctx) -> str:
    """As root, chmod 000 does not stop reading: run the installed hubver as user nobody instead."""
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: chmod 000 does not stop root from reading")
    base = Path(tempfile.mkdtemp(prefix="hubver-unreadable-"))
    try:
        art = shutil.copytree(c.adapters[4], base / "art")
        for path in [base, art, *art.iterdir()]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        (art / "adapter_model.safetensors").chmod(0)
        home = base / "home"
        home.mkdir(mode=0o777)
        home.chmod(0o777)
        env = {**os.environ, "HOME": str(home), "HF_HOME": str(home / "hf"), "HUBVER_HOME": str(home / "hv")}
        argv = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", str(HUBVER)]
        if subprocess.run(
            [*argv, "--version"], cwd=base, env=env, capture_output=True, timeout=60
        ).returncode:
            pytest.skip(
                "running as root, and setpriv cannot run hubver as nobody here: chmod 000 does not stop root"
            )
        proc = subprocess.run(
            [*argv, "push", str(art), "--repo", c.repo, "--endpoint", c.url, "--token", c.token],
            cwd=base,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 1 and proc.stderr.startswith("Error: "), proc.stderr
        assert "Traceback" not in proc.stderr
        return proc.stderr
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _only_training_state(c: Ctx) -> str:
    d = c.tmp / "state"
    d.mkdir()
    (d / "training_args.bin").write_bytes(b"\x80\x04pickle")
    (d / "optimizer.pt").write_bytes(b"\x80\x04pickle")
    return c.fails("push", d)


def _empty(c: Ctx) -> str:
    d = c.tmp / "empty"
    (d / "sub" / "deeper").mkdir(parents=True)
    return c.fails("push", d)


def _invalid_token(c: Ctx) -> str:
    seen = c.fails("push", c.adapters[4], token="hv_not-a-real-token-123456")
    assert "hv_not-a-real-token-123456" not in seen
    return seen


def _revoked_token(c: Ctx) -> str:
    from hubver.server.auth import TokenStore, hash_token

    c.push_v1()
    store = TokenStore(c.hub.data_dir)  # type: ignore[attr-defined]
    token = store.create_user("bob")
    assert c.cli_runner("list", repo=c.repo, token=token).exit_code == 0
    raw = json.loads((store.data_dir / "tokens.json").read_text())
    del raw[hash_token(token)]
    from hubver.server.auth import write_private

    write_private(store.data_dir / "tokens.json", json.dumps(raw))
    seen = c.fails("list", token=token)
    assert token not in seen
    return seen


def _private_list(c: Ctx) -> str:
    hubver.push(c.adapters[4], c.repo, endpoint=c.url, token=c.token, private=True)
    alice = c.hub.app.tokens.create_user("alice")  # type: ignore[attr-defined]
    return c.fails("list", token=alice)


def _private_push(c: Ctx) -> str:
    hubver.push(c.adapters[4], c.repo, endpoint=c.url, token=c.token, private=True)
    alice = c.hub.app.tokens.create_user("alice")  # type: ignore[attr-defined]
    seen = c.fails("push", c.adapters[8], token=alice)
    assert [t.name for t in c.api.list_repo_refs(c.repo).tags] == ["v1"]
    return seen


def _private_anonymous_checkout(c: Ctx) -> str:
    hubver.push(c.adapters[4], c.repo, endpoint=c.url, token=c.token, private=True)
    return c.fails("checkout", "v1", "--to", c.tmp / "co", token=None)


def _huge_metadata(c: Ctx) -> str:
    c.push_v1()
    huge = b'{"pad": "' + b"x" * (33 * MiB) + b'"}'
    c.commit("hubver.json", huge)
    c.retag()
    return c.fails("show", "v1")


def _manifest_traversal(c: Ctx) -> str:
    """A hubver.json naming a file outside the checkout: nothing may be written outside it."""
    c.push_v1()
    meta = hubver.get_version(c.repo, "v1", endpoint=c.url, token=c.token).metadata
    # Relative to the snapshot in the HF cache, this is the cache's own refs/v1: it exists, so it
    # is copied, and relative to the staging dir beside the target it lands two levels up.
    meta["files"].append({"path": "../../refs/v1", "size": 40})
    c.commit("hubver.json", json.dumps(meta).encode())
    c.retag()
    target = c.tmp / "deep" / "er" / "co"
    target.parent.mkdir(parents=True)
    # The integrity check refuses this commit first; --unchecked reaches the manifest's own guard.
    result = c.cli_runner("checkout", "v1", "--to", target, "--unchecked", repo=c.repo, token=c.token)
    escaped = c.tmp / "deep" / "refs" / "v1"
    assert not escaped.exists(), f"checkout wrote {escaped}, outside {target}"
    assert result.exit_code == 1 and not target.exists()
    return result.stderr


def _manifest_not_a_list(c: Ctx) -> str:
    c.push_v1()
    meta = hubver.get_version(c.repo, "v1", endpoint=c.url, token=c.token).metadata
    meta["files"] = {"adapter_model.safetensors": "not a list"}
    c.commit("hubver.json", json.dumps(meta).encode())
    c.retag()
    assert "cannot be trusted" in c.fails("checkout", "v1", "--to", c.tmp / "co")
    return c.fails("checkout", "v1", "--to", c.tmp / "co", "--unchecked")  # the manifest's own guard


def _broken_index(c: Ctx) -> str:
    from huggingface_hub import hf_hub_download

    c.push_v1()
    text = Path(hf_hub_download(c.repo, ".hubver/versions.jsonl", revision="main", token=c.token)).read_text()
    c.commit(".hubver/versions.jsonl", (text + "{not json\n[1, 2]\n").encode())
    out = c.succeeds("list")
    assert "v1" in out
    return out


def _oversized_put(c: Ctx) -> str:
    data = os.urandom(4096)
    path = c.upload_url(data)

    def chunks():
        yield data
        yield b"more than announced"

    # No Content-Length: http.client sends the generator chunked, so only the hub's count can stop it.
    status, headers, _ = raw_request(c.url, "PUT", path, body=chunks())
    return f"{status}: {headers.get('x-error-message', '')}".replace(
        hashlib.sha256(data).hexdigest(), "<oid>"
    )


def _declared_oversized_put(c: Ctx) -> str:
    data = os.urandom(4096)
    path = c.upload_url(data)
    return c.raw("PUT", path, data + b"x" * 100)


def _short_put(c: Ctx) -> str:
    data = os.urandom(4096)
    return c.raw("PUT", c.upload_url(data), data[:-1]).replace(hashlib.sha256(data).hexdigest(), "<oid>")


def _tampered_url(c: Ctx) -> str:
    data = os.urandom(4096)
    path = c.upload_url(data)
    sig = path.rsplit("sig=", 1)[1]
    return c.raw("PUT", path.replace(sig, sig[::-1]), data)


def _commit_lines(*lines: dict) -> bytes:
    header = {"key": "header", "value": {"summary": "hostile"}}
    return "\n".join(json.dumps(line) for line in (header, *lines)).encode()


def _raw_commit(body: bytes | Callable[[Ctx], bytes]) -> Callable[[Ctx], str]:
    def run(c: Ctx) -> str:
        c.api.create_repo(c.repo, exist_ok=True)
        data = body(c) if callable(body) else body
        seen = c.raw("POST", f"/api/models/{c.repo}/commit/main", data, c.auth)
        assert c.api.list_repo_files(c.repo) == [".gitattributes"]  # nothing was committed
        return seen

    return run


def _raw_post(path: str, body: bytes, headers: dict | None = None) -> Callable[[Ctx], str]:
    def run(c: Ctx) -> str:
        c.api.create_repo(c.repo, exist_ok=True)
        return c.raw("POST", path.format(repo=c.repo), body, {**c.auth, **(headers or {})})

    return run


def _card(front_matter: str) -> Callable[[Ctx], str]:
    def run(c: Ctx) -> str:
        c.api.create_repo(c.repo, exist_ok=True)
        line = {
            "key": "file",
            "value": {"path": "README.md", "content": base64.b64encode(front_matter.encode()).decode()},
        }
        assert c.raw("POST", f"/api/models/{c.repo}/commit/main", _commit_lines(line), c.auth).startswith(
            "200"
        )
        status, _, body = raw_request(c.url, "GET", f"/api/models/{c.repo}", headers=c.auth)
        card = json.loads(body)["cardData"]
        return f"{status}: cardData {json.dumps(card, sort_keys=True)[:80]}"

    return run


# -- malformed inputs that used to crash (issue #12) -------------------------------------------------


def _safetensors(header: bytes) -> bytes:
    return len(header).to_bytes(8, "little") + header


def _spoiled_header(header: bytes, name: str = "adapter_model.safetensors") -> Callable[[Path], object]:
    def change(d: Path) -> None:
        (d / name).parent.mkdir(parents=True, exist_ok=True)
        (d / name).write_bytes(_safetensors(header))

    return change


def _adapter_config(**changes: object) -> Callable[[Path], object]:
    def change(d: Path) -> None:
        config = json.loads((d / "adapter_config.json").read_text())
        (d / "adapter_config.json").write_text(json.dumps({**config, **changes}))

    return change


def _nothing_published(c: Ctx) -> None:
    refs = c.api.list_repo_refs(c.repo) if c.api.repo_exists(c.repo) else None
    assert refs is None or not refs.tags, refs


def _local_clean(change: Callable[[Path], object]) -> Callable[[Ctx], str]:
    """`_local`, and the push must not have created a version (nor uploaded a file)."""

    def run(c: Ctx) -> str:
        seen = _local(change)(c)
        _nothing_published(c)
        return seen

    return run


def _card_fm(c: Ctx, revision: str = "main") -> dict:
    from huggingface_hub import hf_hub_download

    from hubver.card import split_card

    text = Path(hf_hub_download(c.repo, "README.md", revision=revision, token=c.token)).read_text()
    return split_card(text)[0]


def _local_readme(front_matter: str) -> Callable[[Ctx], str]:
    def run(c: Ctx) -> str:
        art = c.art()
        (art / "README.md").write_text(f"---\n{front_matter}\n---\nMy notes.\n")
        c.succeeds("push", art)
        fm = _card_fm(c, "v1")
        return f"Published v1 (card tags: {', '.join(fm['tags'])}; base_model: {fm.get('base_model')})"

    return run


def _hub_card(front_matter: str) -> Callable[[Ctx], str]:
    def run(c: Ctx) -> str:
        c.push_v1()
        # With plain HTTP: huggingface_hub validates a README's metadata first, and the hub, like
        # huggingface.co, refuses `tags: 5`; a hostile writer skips that step.
        card = f"---\n{front_matter}\n---\nEdited on the Hub.\n".encode()
        line = {"key": "file", "value": {"path": "README.md", "content": base64.b64encode(card).decode()}}
        assert c.raw("POST", f"/api/models/{c.repo}/commit/main", _commit_lines(line), c.auth).startswith(
            "200"
        )
        c.succeeds("push", c.adapters[8])
        fm = _card_fm(c, "v2")
        return f"Published v2 (card tags: {', '.join(fm['tags'])})"

    return run


def _hub_metadata(change: Callable[[dict], object], *command: str) -> Callable[[Ctx], str]:
    """hubver.json of v1 changed on the Hub; `command` must still work, and what it printed is returned."""

    def run(c: Ctx) -> str:
        c.push_v1()
        meta = hubver.get_version(c.repo, "v1", endpoint=c.url, token=c.token).metadata
        change(meta)
        c.commit("hubver.json", json.dumps(meta).encode())
        c.retag()
        # An edited hubver.json is no longer the version that was published: refused by default,
        # and readable with --unchecked, whatever types it holds.
        assert "cannot be trusted" in c.fails(*command)
        return "Shown: " + c.succeeds(*command, "--unchecked").replace("\n", " | ")

    return run


def _garbage_sub_adapter_on_hub(c: Ctx) -> str:
    """Garbage under sub/adapter_model.safetensors, published by someone else: diff still works."""
    c.push_v1()
    hubver.push(c.adapters[8], c.repo, endpoint=c.url, token=c.token)
    meta = hubver.get_version(c.repo, "v2", endpoint=c.url, token=c.token).metadata
    garbage = b"\xff" * 64
    meta["files"].append({"path": "sub/adapter_model.safetensors", "size": 64, "sha256": "0" * 64})
    c.api.create_commit(
        c.repo,
        [
            CommitOperationAdd("sub/adapter_model.safetensors", garbage),
            CommitOperationAdd("hubver.json", json.dumps(meta).encode()),
        ],
        commit_message="hostile",
    )
    c.retag("v2")
    assert "cannot be trusted" in c.fails("diff", "v1", "v2")
    result = c.cli_runner("diff", "v1", "v2", "--unchecked", repo=c.repo, token=c.token)
    assert result.exit_code == 0, result.stderr
    assert "LoRA rank (from weights): 4 -> 8" in result.stdout
    return result.stderr.strip()


def _nan_in_hub_index(c: Ctx) -> str:
    from huggingface_hub import hf_hub_download

    c.push_v1()
    text = Path(hf_hub_download(c.repo, ".hubver/versions.jsonl", revision="main", token=c.token)).read_text()
    entry = json.loads(text)
    entry["metrics"] = {"eval_loss": float("nan"), "acc": float("inf")}
    c.commit(".hubver/versions.jsonl", (json.dumps(entry) + "\n").encode())  # Python writes bare NaN
    out = c.succeeds("list", "--json")
    json.loads(out, parse_constant=lambda name: pytest.fail(f"bare {name} in `list --json`"))
    hubver.push(c.adapters[8], c.repo, endpoint=c.url, token=c.token)
    index_text = Path(
        hf_hub_download(c.repo, ".hubver/versions.jsonl", revision="main", token=c.token)
    ).read_text()
    for line in index_text.splitlines():
        json.loads(line, parse_constant=lambda name: pytest.fail(f"bare {name} in the index"))
    return "Shown: `list --json` and the next push's index are strict JSON (NaN became null)"


def _typed_index(c: Ctx) -> str:
    """Index lines written by someone else with the wrong types: list, show and the next push work."""
    from huggingface_hub import hf_hub_download

    c.push_v1()
    text = Path(hf_hub_download(c.repo, ".hubver/versions.jsonl", revision="main", token=c.token)).read_text()
    entry = json.loads(text)
    entry.update(metrics=[1, 2], message=5, created_at=20240101, created_by=["x"], kind={}, problems="p")
    c.commit(".hubver/versions.jsonl", (json.dumps(entry) + "\n").encode())
    assert "v1" in c.succeeds("list")
    c.succeeds("push", c.adapters[8], "-m", "line one\u2028line two\x85three")
    listed = c.succeeds("list", "--json")
    assert [v["version"] for v in json.loads(listed)] == ["v1", "v2"]
    return "Shown: `hubver list` and the next push work; a message with U+2028/U+0085 stays one index line"


def _metrics_strict(c: Ctx) -> str:
    """A value that is not finite never reaches hubver.json, the index or the card."""
    seen = c.fails("push", c.adapters[4], "--metric", "x=1e999")
    _nothing_published(c)
    return seen


def _version_beside(existing: str, new: str, make: str = "tag") -> Callable[[Ctx], str]:
    def run(c: Ctx) -> str:
        c.push_v1()
        if make == "alias":
            c.succeeds("promote", "v1", existing)
        elif make == "tag" and existing != "v1":
            c.api.create_tag(c.repo, tag=existing)
        before = c.api.list_repo_commits(c.repo)
        seen = c.fails("push", c.adapters[8], "--version", new)
        assert c.api.list_repo_commits(c.repo) == before  # refused before anything was committed
        return seen

    return run


def _escapes_in_list(c: Ctx) -> str:
    hubver.push(c.adapters[4], c.repo, endpoint=c.url, token=c.token, message="\x1b]0;owned\x07\x1b[2Jhi")
    out = c.succeeds("list")
    assert "\x1b" not in out and "\x07" not in out, repr(out)
    assert "\\x1b]0;owned\\x07\\x1b[2Jhi" in out
    return "Shown: the message as \\x1b]0;owned\\x07\\x1b[2Jhi"


def _long_path(c: Ctx) -> str:
    art = c.art()
    deep = art.joinpath(*["d" * 250] * 5)
    deep.mkdir(parents=True)
    (deep / "notes.txt").write_text("too deep for the Hub")
    with recorded_requests(c.hub.app) as seen:  # type: ignore[attr-defined]
        out = c.fails("push", art)
    assert not seen, seen  # refused before the first request
    return out


LAUGHS = (
    "---\na0: &a0 [x,x,x,x,x,x,x,x,x,x]\n"
    + "".join(f"a{i}: &a{i} [{','.join([f'*a{i - 1}'] * 10)}]\n" for i in range(1, 9))
    + "---\n"
)


@dataclass(frozen=True)
class Hostile:
    input: str
    where: str
    sees: str
    run: Callable[[Ctx], str]
    marks: tuple = ()


TABLE = [
    # -- version ids
    Hostile("`--version v1..2`", "`hubver push`", "Invalid version id 'v1..2': it contains '..' or '//', or ends with '/', '.' or '.lock'.",
            lambda c: c.fails("push", c.adapters[4], "--version", "v1..2")),
    Hostile("`--version deadbeef` (looks like a commit id)", "`hubver push`", "Invalid version id 'deadbeef': it looks like a commit id.",
            lambda c: c.fails("push", c.adapters[4], "--version", "deadbeef")),
    Hostile("`--version main`", "`hubver push`", "Invalid version id 'main': it is the name of a branch.",
            lambda c: c.fails("push", c.adapters[4], "--version", "main")),
    Hostile("`--version '../../etc'`", "`hubver push`", "Invalid version id '../../etc': use letters, digits and . _ - + / only, starting with a letter or digit.",
            lambda c: c.fails("push", c.adapters[4], "--version", "../../etc")),
    Hostile("`--version 'v 1'`", "`hubver push`", "Invalid version id 'v 1': use letters, digits and . _ - + / only",
            lambda c: c.fails("push", c.adapters[4], "--version", "v 1")),
    Hostile("a 129-character version id", "`hubver push`", "it is longer than 128 characters.",
            lambda c: c.fails("push", c.adapters[4], "--version", "v" * 129)),
    Hostile("the same `--version best` twice", "`hubver push`", "; versions are never overwritten.",
            _dup),
    Hostile("`../../etc/passwd` as the version", "`hubver checkout`", "Version ../../etc/passwd not found in",
            lambda c: (c.push_v1(), c.fails("checkout", "../../etc/passwd", "--to", c.tmp / "co"))[1]),
    # -- what is on the hub
    Hostile("`hubver.json` that is not JSON", "`hubver show`", "is not valid JSON: Expecting value (line 1, column 13).",
            _hub_file("hubver.json", b'{"version": ', ("show", "v1"))),
    Hostile("`hubver.json` that is a JSON list", "`hubver show`", "is not a JSON object.",
            _hub_file("hubver.json", b"[1, 2]", ("show", "v1"))),
    Hostile("`hubver.json` that is not UTF-8", "`hubver show`", "is not UTF-8 text.",
            _hub_file("hubver.json", b'{"v": "\xff\xfe"}', ("show", "v1"))),
    Hostile("`hubver.json` of 33 MiB (committed with the raw client)", "`hubver show`", "bytes: too large to be hubver metadata.",
            _huge_metadata),
    Hostile("`hubver.json` whose `files` is not a list", "`hubver checkout`", "hubver.json of version v1",
            _manifest_not_a_list),
    Hostile("`hubver.json` listing `../../refs/v1`", "`hubver checkout`", "is outside the checkout",
            _manifest_traversal),
    Hostile("garbage lines in `.hubver/versions.jsonl`", "`hubver list`", "Warning: .hubver/versions.jsonl line 2 is not valid JSON (Expecting property name enclosed in double quotes); that entry is skipped.",
            _broken_index),
    # -- local JSON files
    Hostile("`adapter_config.json` that is not JSON", "`hubver push`", "adapter_config.json is not valid JSON: Expecting value (line 1, column 7).",
            _local(_write("adapter_config.json", '{"r": oops}'))),
    Hostile("`adapter_config.json` that is a JSON list", "`hubver push`", "adapter_config.json should hold a JSON object, not list.",
            _local(_write("adapter_config.json", "[]"))),
    Hostile("`adapter_config.json` whose `base_model_name_or_path` is a number", "`hubver push`", "base_model_name_or_path",
            _local(_write("adapter_config.json", '{"peft_type": "LORA", "base_model_name_or_path": 42}'))),
    Hostile("`trainer_state.json` that is not JSON", "`hubver push`", "trainer_state.json is not valid JSON: Expecting value (line 1, column 18).",
            _local(_write("trainer_state.json", '{"log_history": [')) ),
    Hostile("`trainer_state.json` that is a JSON string", "`hubver push`", "trainer_state.json should hold a JSON object, not str.",
            _local(_write("trainer_state.json", '"state"'))),
    Hostile("a metrics file that is not JSON", "`hubver push --metrics-file`", "metrics.json is not valid JSON: Expecting property name enclosed in double quotes (line 1, column 2).",
            _metrics(b"{eval_loss: 1}")),
    Hostile("a metrics file that is not UTF-8", "`hubver push --metrics-file`", "metrics.json is not UTF-8 text.",
            _metrics(b'{"eval_loss": "\xff"}')),
    Hostile("a metrics file that is a JSON list", "`hubver push --metrics-file`", "metrics.json should hold a JSON object, not list.",
            _metrics(b"[0.5]")),
    Hostile("a metrics file that does not exist", "`hubver push --metrics-file`", "metrics.json: No such file or directory.",
            _metrics(None)),
    Hostile("`adapter_model.safetensors` that is not safetensors", "`hubver push`", "adapter_model.safetensors is not a safetensors file (too short).",
            _local(_write("adapter_model.safetensors", b"\x00" * 3))),
    # -- malformed inputs that used to crash (issue #12)
    Hostile("a safetensors header with the shape `\"abc\"`", "`hubver push`", "tensor 'w' has the shape abc; a shape is a list of non-negative integers.",
            _local_clean(_spoiled_header(b'{"w": {"dtype": "F32", "shape": "abc", "data_offsets": [0, 0]}}'))),
    Hostile("a safetensors header with the shape `[NaN, 3]`", "`hubver push`", "tensor 'w' has the shape [nan, 3]; a shape is a list of non-negative integers.",
            _local_clean(_spoiled_header(b'{"w": {"dtype": "F32", "shape": [NaN, 3], "data_offsets": [0, 0]}}'))),
    Hostile("a safetensors header nested 100 000 deep", "`hubver push`", "adapter_model.safetensors is nested more than 64 levels deep; no model or metrics file is.",
            _local_clean(_spoiled_header(b'{"w": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"))),
    Hostile("garbage in `sub/adapter_model.safetensors`", "`hubver push`", "sub/adapter_model.safetensors is not a safetensors file (too short).",
            _local_clean(_write("sub/adapter_model.safetensors", b"\xff"))),
    Hostile("garbage in `sub/adapter_model.safetensors`, published by someone else", "`hubver diff`", "Warning: sub/adapter_model.safetensors at",
            _garbage_sub_adapter_on_hub),
    Hostile("`adapter_config.json` nested 50 000 deep", "`hubver push`", "adapter_config.json is nested more than 64 levels deep; no model or metrics file is.",
            _local_clean(_write("adapter_config.json", "[" * 50_000 + "]" * 50_000))),
    Hostile("`trainer_state.json` nested 50 000 deep", "`hubver push`", "trainer_state.json is nested more than 64 levels deep; no model or metrics file is.",
            _local_clean(_write("trainer_state.json", '{"log_history": ' + "[" * 50_000 + "]" * 50_000 + "}"))),
    Hostile("`target_modules: [\"q\", 1, null]`", "`hubver push`", "adapter_config.json: target_modules should be a module name or a list of module names (strings), not ['q', 1, None].",
            _local_clean(_adapter_config(target_modules=["q", 1, None]))),
    Hostile("`target_modules` a list of objects", "`hubver push`", "adapter_config.json: target_modules should be a module name or a list of module names (strings), not [{'q': 1}].",
            _local_clean(_adapter_config(target_modules=[{"q": 1}]))),
    Hostile("`target_modules: 5`", "`hubver push`", "adapter_config.json: target_modules should be a module name or a list of module names (strings), not 5.",
            _local_clean(_adapter_config(target_modules=5))),
    Hostile("`target_modules: 5` in a `hubver.json` edited on the Hub", "`hubver show`", "Shown: ",
            _hub_metadata(lambda m: m["peft"].update(target_modules=5), "show", "v1")),
    Hostile("a `hubver.json` edited on the Hub to hold wrong types everywhere", "`hubver show`", "Shown: ",
            _hub_metadata(lambda m: m.update(metrics=[1], training=5, code="x", files=[1, {"path": 2}], peft=[], base_model=3), "show", "v1")),
    Hostile("a `hubver.json` edited on the Hub to hold wrong types everywhere", "`hubver diff`", "Shown: ",
            _hub_metadata(lambda m: m.update(metrics=[1], training=5, code="x", files=[1, {"path": 2}], peft=[], dataset=7), "diff", "v1", "v1")),
    Hostile("a 5 000-character `base_model_name_or_path`", "`hubver push`", "adapter_config.json: base_model_name_or_path is 5000 characters long; a model id or path has at most 1024.",
            _local_clean(_adapter_config(base_model_name_or_path="b" * 5000))),
    Hostile("a 300-character `--base-model` (one path component too long for the file system)", "`hubver push`", "Published v1",
            lambda c: (c.succeeds("push", c.adapters[4], "--base-model", "o/" + "b" * 300), "Published v1")[1]),
    Hostile("README front matter `tags: 5`, `datasets: 5`, `base_model: [1, 2]`", "`hubver push`", "Published v1 (card tags: hubver, peft, lora; base_model: None)",
            _local_readme("tags: 5\ndatasets: 5\nbase_model: [1, 2]")),
    Hostile("a card edited on the Hub to `tags: 5`", "the next `hubver push`", "Published v2 (card tags: hubver, peft, lora)",
            _hub_card("tags: 5")),
    Hostile("a card edited on the Hub to `tags: mytag`", "the next `hubver push`", "Published v2 (card tags: mytag, hubver, peft, lora)",
            _hub_card("tags: mytag")),
    Hostile("a card edited on the Hub to `tags: {a: 1}`, `datasets: [1]`", "the next `hubver push`", "Published v2 (card tags: hubver, peft, lora)",
            _hub_card("tags: {a: 1}\ndatasets: [1]")),
    Hostile("index lines with wrong types (`metrics: [1, 2]`, `message: 5`), a message with U+2028", "`hubver list`, the next push", "Shown: `hubver list` and the next push work; a message with U+2028/U+0085 stays one index line",
            _typed_index),
    # -- strict JSON
    Hostile("`--metric x=nan`", "`hubver push`", "Invalid metric 'x=nan': 'nan' is not a finite number.",
            lambda c: c.fails("push", c.adapters[4], "--metric", "x=nan")),
    Hostile("`--metric x=1e999`", "`hubver push`", "Invalid metric 'x=1e999': '1e999' is not a finite number.",
            _metrics_strict),
    Hostile("`NaN` in a metrics file", "`hubver push --metrics-file`", "metrics.json: the metric 'eval/loss' is nan, not a finite number.",
            _metrics(b'{"eval": {"loss": NaN}}')),
    Hostile("`Infinity` in a metrics file", "`hubver push --metrics-file`", "metrics.json: the metric 'acc' is inf, not a finite number.",
            _metrics(b'{"acc": Infinity}')),
    Hostile("bare `NaN`/`Infinity` written into the index by someone else", "`hubver list --json`, the next push", "Shown: `list --json` and the next push's index are strict JSON (NaN became null)",
            _nan_in_hub_index),
    # -- version ids against the repo's refs
    Hostile("`--version v1/x` beside the tag v1", "`hubver push`", "Invalid version id 'v1/x' for",
            _version_beside("v1", "v1/x")),
    Hostile("`--version v9` beside a tag v9/rc1", "`hubver push`", ": the tag v9/rc1 exists, and git cannot keep v9 beside it.",
            _version_beside("v9/rc1", "v9")),
    Hostile("`--version production` where production is an alias", "`hubver push`", ": it is the name of a branch (an alias).",
            _version_beside("production", "production", make="alias")),
    Hostile("`--version refs/pr/1`", "`hubver push`", "Invalid version id 'refs/pr/1': it starts with 'refs/', git's own namespace (refs/pr/1 is a pull request).",
            lambda c: c.fails("push", c.adapters[4], "--version", "refs/pr/1")),
    # -- human output
    Hostile("terminal escapes (`\\x1b]0;...`, `\\x1b[2J`) in a version's message", "`hubver list`", "Shown: the message as \\x1b]0;owned\\x07\\x1b[2Jhi",
            _escapes_in_list),
    # -- what the Hub would refuse, found before uploading
    Hostile("a path over 1 024 bytes", "`hubver push`", "bytes long; the Hub stores paths of at most 1024 bytes.",
            _long_path),
    Hostile("a root file named `.hubver`", "`hubver push`", "hubver keeps its version index in the folder .hubver/ of the repository.",
            _local_clean(_write(".hubver", "mine"))),
    # -- the artifact directory
    Hostile("a symlink to a file outside the directory", "`hubver push`", "; hubver only publishes files inside the directory.",
            _symlink_outside),
    Hostile("a symlink to a directory outside", "`hubver push`", "; hubver only publishes files inside the directory.",
            _dir_symlink_outside),
    Hostile("a symlink to a file inside the directory", "`hubver push`", "Published v1 (alias.txt: the content of notes/real.txt)",
            _symlink_inside),
    Hostile("a broken symlink", "`hubver push`", "gone.txt is a broken symlink.",
            _broken_symlink),
    Hostile("a symlink loop", "`hubver push`", "a.txt is a broken symlink.",
            _symlink_loop),
    Hostile("a file name that is not UTF-8 (`caf\\xe9.txt`)", "`hubver push`", "has a file name that is not valid UTF-8; the Hub cannot store it.",
            _non_utf8_name),
    Hostile("file names `...` and `..hidden`", "`hubver push`", "Published v1 (files '...' and '..hidden' kept as they are)",
            _dot_names),
    Hostile("a file name with a backslash", "`hubver push`", "The file name 'a\\\\b.txt' in",
            _local(_write("a\\b.txt", "x"))),
    Hostile("a file name with a newline", "`hubver push`", "contains a backslash or a control character.",
            _local(_write("a\nb.txt", "x"))),
    Hostile("a `.gitmodules` file", "`hubver push`", "is named like git's own files ('.git' or '.gitmodules'); the Hub refuses them.",
            _local_clean(_write(".gitmodules", '[submodule "x"]\n\tpath = x\n\turl = ../../x\n'))),
    Hostile("a named pipe (FIFO)", "`hubver push`", "pipe is not a regular file.",
            _fifo),
    Hostile("an unreadable file (`chmod 000`)", "`hubver push`", "adapter_model.safetensors: permission denied.",
            _unreadable),
    Hostile("an empty directory (only empty subdirectories)", "`hubver push`", "has no files to publish.",
            _empty),
    Hostile("only `training_args.bin` and `optimizer.pt`", "`hubver push`", "has nothing to publish besides optimizer.pt.",
            _only_training_state),
    # -- tokens and access
    Hostile("an invalid token", "`hubver push`", "The token was refused by http",
            _invalid_token),
    Hostile("a revoked (expired) token", "`hubver list`", "(Listing tags and branches).",
            _revoked_token),
    Hostile("no token", "`hubver push`", "needs a token, and none was found for http",
            lambda c: c.fails("push", c.adapters[4], token=None)),
    Hostile("another user's private repo", "`hubver list`", "if it is private, use a token that can read it.",
            _private_list),
    Hostile("another user's private repo", "`hubver push`", "this token has no write access to",
            _private_push),
    Hostile("a private repo, without a token", "`hubver checkout`", "not found on http",
            _private_anonymous_checkout),
    # -- the hub's HTTP API, sent raw
    Hostile("an upload URL with an altered signature", "`PUT` signed upload URL", "403: Upload refused: the upload URL's signature is invalid (was it altered?).",
            _tampered_url),
    Hostile("a body larger than the announced `size` (chunked)", "`PUT` signed upload URL", "413: The upload of <oid> is larger than its announced size of 4096 bytes.",
            _oversized_put),
    Hostile("`Content-Length` larger than the announced `size`", "`PUT` signed upload URL", "413: The body (4196 bytes) is larger than the announced 4096 bytes.",
            _declared_oversized_put),
    Hostile("a body shorter than the announced `size`", "`PUT` signed upload URL", "400: The upload of <oid> has 4095 bytes, but 4096 were announced.",
            _short_put),
    Hostile("a JSON body over 16 MiB", "`POST /api/repos/create`", "413: The request body is larger than 16777216 bytes.",
            _raw_post("/api/repos/create", b'{"name": "' + b"x" * (16 * MiB) + b'"}')),
    Hostile("a commit line over 8 MiB", "`POST /api/models/{id}/commit/main`", "413: A commit line is larger than 8388608 bytes; upload large files through LFS.",
            _raw_commit(_commit_lines({"key": "file", "value": {"path": "a.txt", "content": "A" * (9 * MiB)}}))),
    Hostile("JSON nested 100 000 deep", "`POST /api/repos/create`", "400: The request body is not valid JSON (or it is nested too deeply).",
            _raw_post("/api/repos/create", b"[" * 100_000 + b"]" * 100_000)),
    Hostile("`\"transfers\": 5` in an LFS batch", "`POST /{id}.git/info/lfs/objects/batch`", "400: 'transfers' must be a list of strings.",
            _raw_post("/{repo}.git/info/lfs/objects/batch", b'{"objects": [{"oid": "' + b"a" * 64 + b'", "size": 1}], "transfers": 5}')),
    Hostile("`\"size\": true` in an LFS batch", "`POST /{id}.git/info/lfs/objects/batch`", "400: Invalid size for object",
            _raw_post("/{repo}.git/info/lfs/objects/batch", b'{"objects": [{"oid": "' + b"a" * 64 + b'", "size": true}]}')),
    Hostile("a lone surrogate (`\"\\ud800\"`) in a tag name", "`POST /api/models/{id}/tag/main`", "400: Invalid tag name 'v\\ud800': it is not valid UTF-8.",
            _raw_post("/api/models/{repo}/tag/main", b'{"tag": "v\\ud800"}')),
    Hostile("a NUL in a commit message", "`POST /api/models/{id}/commit/main`", "400: The commit message contains a NUL character.",
            _raw_commit(json.dumps({"key": "header", "value": {"summary": "a\x00b"}}).encode())),
    Hostile("a file path `.GIT/config`", "`POST /api/models/{id}/commit/main`", "400: Invalid file path '.GIT/config': it names a '.git' directory or a '.gitmodules' file",
            _raw_commit(_commit_lines({"key": "file", "value": {"path": ".GIT/config", "content": "eA=="}}))),
    Hostile("a file path `git~1/hooks/x` (an NTFS short name of .git)", "`POST /api/models/{id}/commit/main`", "400: Invalid file path 'git~1/hooks/x': it names a '.git' directory",
            _raw_commit(_commit_lines({"key": "file", "value": {"path": "git~1/hooks/x", "content": "eA=="}}))),
    Hostile("model card metadata `tags: 5`, `date: 2024-01-01`", "`GET /api/models/{id}`", '200: cardData {"date": "2024-01-01", "tags": 5}',
            _card("---\ntags: 5\ndate: 2024-01-01\n---\n")),
    Hostile("model card metadata with nested YAML aliases (a 'billion laughs')", "`GET /api/models/{id}`", "200: cardData {}",
            _card(LAUGHS)),
    Hostile("model card metadata nested 3 000 deep", "`POST /api/validate-yaml`", "400: Invalid YAML in the model card metadata",
            lambda c: _validate_yaml(c, "---\nx: " + "[" * 3000 + "\n---\n")),
    Hostile("model card metadata of 600 KiB, sent without a token", "`POST /api/validate-yaml`", "400: The model card metadata is larger than 256 KiB.",
            lambda c: _validate_yaml(c, "---\n" + "x: y\n" * 120_000 + "---\n")),
    Hostile("a body of 12 MiB, sent without a token", "`POST /api/validate-yaml`", "413: The request body is larger than 1048576 bytes.",
            lambda c: c.raw("POST", "/api/validate-yaml", json.dumps({"content": "---\n" + "x: y\n" * 2_500_000 + "---\n"}).encode())),
]  # fmt: skip


def _validate_yaml(c: Ctx, content: str) -> str:
    status, _, body = raw_request(
        c.url, "POST", "/api/validate-yaml", body=json.dumps({"content": content}).encode()
    )
    return f"{status}: " + "; ".join(e["message"] for e in json.loads(body)["errors"])


@pytest.fixture
def ctx(unprotected, hub, hub_token, repo_id, tmp_path, adapters, cli) -> Ctx:
    """A hostile writer may delete and move tags: protection is off, as on huggingface.co."""
    return Ctx(hub, hub_token, repo_id, tmp_path, adapters, cli)


@pytest.mark.parametrize(
    "row", [pytest.param(row, id=f"{i:02d}", marks=row.marks) for i, row in enumerate(TABLE, 1)]
)
def test_hostile_input(ctx, row):
    seen = row.run(ctx)
    assert row.sees in seen, seen


def markdown_table() -> str:
    lines = ["| input | where | what the user sees |", "|---|---|---|"]
    for row in TABLE:
        lines.append(f"| {row.input} | {row.where} | {_cell(row.sees)} |")
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    """A CLI error as `Error: …part of the message…`; hub answers (`STATUS: message`) and successes as they are."""
    text = text.replace("|", "\\|")
    if text.startswith(("Published", "Warning", "Shown")) or text[:3].isdigit():
        return f"`{text}`"
    return f"`Error: …{text}{'' if text.endswith('.') else '…'}`"


def test_the_docs_table_is_this_table():
    text = DOC.read_text(encoding="utf-8")
    start = text.index("| input | where | what the user sees |")
    end = text.find("\n\n", start)
    assert text[start : end if end >= 0 else None].strip() + "\n" == markdown_table(), (
        "docs/hostile-inputs.md is out of date: regenerate its table with "
        "`python -c 'import sys; sys.path[:0] = [\"tests\"]; import test_hostile_inputs as t; print(t.markdown_table())'`"
    )
