"""The benchmark cases. Each takes the shared `Bench` and returns rows for the results table.

Side-by-side comparisons alternate their order on every repetition, so that drift in the
machine's load (it is shared) falls on both sides alike.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median
from typing import Any
from urllib.parse import urlsplit

from harness import (
    HF,
    HUBVER,
    GiB,
    HubProcess,
    MiB,
    Row,
    RssSampler,
    child_env,
    client_requests,
    dir_size,
    human_bytes,
    measured,
    percentile,
    request_kinds,
    reseed_safetensors,
    rm,
    run_timed,
    summarize,
    timed,
    tree_state,
    write_data,
    write_safetensors,
)


@dataclass(frozen=True)
class Sizes:
    reps_small_push: int = 15
    reps_large_push: int = 7
    large_push_bytes: int = 200 * 10**6
    shard_unchanged: int = 64 * MiB
    shard_changed: int = 8 * MiB
    versions: int = 500
    list_reps: int = 9
    hf_list_reps: int = 3
    start_reps: int = 12
    checkout_bytes: int = 32 * MiB
    checkout_cold_reps: int = 3
    checkout_warm_per_cold: int = 2
    transfer_bytes: int = GiB
    transfer_reps: int = 3
    rss_bytes: int = 2 * GiB
    latency_requests: int = 500
    page_requests: int = 50
    tiny_epochs: int = 8
    tiny_reps: int = 3
    large_model: dict[str, int] = field(default_factory=lambda: {"n_embd": 1024, "n_layer": 6, "r": 1024})
    large_epochs: int = 3
    large_reps: int = 2
    # torch's intra-op threads in the training runs (0: torch's default, one per core). One,
    # because on a shared 2-vCPU machine a 2-thread OpenMP team stalls whenever another job
    # takes a core (epochs of 5 s instead of 0.05 s were seen): both sides would be noise.
    train_threads: int = 1
    # Side by side with the `hf` command line, every side a fresh process (the *_vs_hf cases).
    vs_hf_reps: int = 5
    vs_hf_shard_bytes: int = 100 * 10**6  # 3 shards: a ~300 MB model
    vs_hf_adapter_bytes: int = 100 * 10**6
    vs_hf_warm_reps: int = 5


SMOKE = Sizes(
    reps_small_push=1,
    reps_large_push=1,
    large_push_bytes=8 * MiB,
    shard_unchanged=2 * MiB,
    shard_changed=256 * 1024,
    versions=6,
    list_reps=1,
    hf_list_reps=1,
    start_reps=1,
    checkout_bytes=1 * MiB,
    checkout_cold_reps=1,
    checkout_warm_per_cold=1,
    transfer_bytes=16 * MiB,
    transfer_reps=1,
    rss_bytes=32 * MiB,
    latency_requests=20,
    page_requests=3,
    tiny_epochs=2,
    tiny_reps=1,
    large_model={},
    large_epochs=0,
    large_reps=0,
    vs_hf_reps=1,
    vs_hf_shard_bytes=2 * MiB,
    vs_hf_adapter_bytes=2 * MiB,
    vs_hf_warm_reps=1,
)


@dataclass
class Bench:
    work: Path
    hub: HubProcess
    env: dict[str, str]  # environment for every benchmark subprocess (HF_ENDPOINT, HF_HOME...)
    sizes: Sizes
    smoke: bool
    fixtures: dict[str, str]
    project: Path  # a small git checkout, the working directory of pushes (as in a real project)
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.hub.url

    @property
    def token(self) -> str:
        return self.hub.token

    def api(self):
        from huggingface_hub import HfApi

        return HfApi(endpoint=self.url, token=self.token)

    def client(self):
        from hubver.client import HubClient

        return HubClient(self.url, self.token)

    def judge(self, ok: bool) -> bool | None:
        """Targets are judged only at full size: smoke sizes say nothing about them."""
        return None if self.smoke else ok

    def repo_args(self, repo: str) -> list[str]:
        return ["--repo", repo, "--endpoint", self.url, "--token", self.token]


def _alternate(i: int, a: Any, b: Any) -> list[Any]:
    return [a, b] if i % 2 else [b, a]


def _small_repo(b: Bench, repo: str, versions: int) -> str:
    """A repository with a few versions of the small adapter, for cases that only read."""
    import hubver

    src = b.work / f"small-{repo.replace('/', '-')}"
    shutil.copytree(b.fixtures["adapter"], src)
    for i in range(versions):
        reseed_safetensors(src / "adapter_model.safetensors", 70_000 + i)
        hubver.push(
            src, repo, endpoint=b.url, token=b.token, message=f"run {i + 1}", metrics={"loss": 1 / (i + 1)}
        )
    rm(src)
    return repo


# -- push: small adapter and 200 MB artifact ---------------------------------------------------------


def _push_pair(b: Bench, name: str, src: Path, weights: Path, reps: int) -> dict[str, Any]:
    """hubver.push versus upload_folder + create_tag of the same directory, alternating."""
    import hubver

    api = b.api()
    hub = b.client()
    hv_repo, raw_repo = f"bench/{name}", f"bench/{name}-raw"
    api.create_repo(raw_repo, exist_ok=True)

    def hv(i: int) -> None:
        r = hubver.push(src, hv_repo, client=hub, endpoint=b.url, token=b.token, message=f"rep {i}")
        assert r.created, r.reason

    def raw(i: int) -> None:
        info = api.upload_folder(folder_path=src, repo_id=raw_repo, commit_message=f"rep {i}")
        api.create_tag(raw_repo, tag=f"v{i + 1}", revision=info.oid, tag_message=f"rep {i}")

    # The first push into each repository creates it (and its .gitattributes): not timed.
    hv(0)
    raw(0)
    times: dict[str, list[float]] = {"hubver": [], "raw": []}
    for i in range(1, reps + 1):
        reseed_safetensors(weights, i)
        for side, fn in _alternate(i, ("hubver", hv), ("raw", raw)):
            times[side].append(timed(lambda fn=fn, i=i: fn(i))[0])
    reseed_safetensors(weights, 10_000)
    with client_requests() as sent_hv:
        hv(10_000)
    with client_requests() as sent_raw:
        raw(10_000)
    diffs = [h - r for h, r in zip(times["hubver"], times["raw"], strict=True)]
    ratios = [h / r for h, r in zip(times["hubver"], times["raw"], strict=True)]
    return {
        "times": times,
        "paired_overhead": summarize(diffs),
        "paired_ratio": summarize(ratios),
        "requests": {"hubver": request_kinds(sent_hv), "raw": request_kinds(sent_raw)},
        "request_count": {"hubver": len(sent_hv), "raw": len(sent_raw)},
        "artifact_bytes": dir_size(src),
    }


def push_small(b: Bench) -> list[Row]:
    src = b.work / "push-small"
    shutil.copytree(b.fixtures["adapter"], src)
    out = _push_pair(b, "push-small", src, src / "adapter_model.safetensors", b.sizes.reps_small_push)
    hv, raw = out["times"]["hubver"], out["times"]["raw"]
    overhead = median(hv) - median(raw)
    # The same push through the installed command line, start to exit (for reference).
    reseed_safetensors(src / "adapter_model.safetensors", 20_000)
    cli = run_timed(
        [HUBVER, "push", str(src), "-m", "cli", *b.repo_args("bench/push-small")], b.env, b.project
    )
    out["cli_push_seconds"] = cli
    return [
        Row(
            "push_small",
            f"push of a {human_bytes(out['artifact_bytes'])} LoRA adapter (hubver.push)",
            measured(hv, "s"),
            measured(raw, "s"),
            "upload_folder + create_tag",
            f"+{overhead * 1000:.0f} ms",
            "overhead <= 0.3 s",
            b.judge(overhead <= 0.3),
            out,
        )
    ]


def push_large(b: Bench) -> list[Row]:
    src = b.work / "push-large"
    src.mkdir()
    (src / "config.json").write_text(json.dumps({"model_type": "gpt2", "n_embd": 1024}))
    n = b.sizes.large_push_bytes // 4
    weights = src / "model.safetensors"
    write_safetensors(weights, {"transformer.wte.weight": [n // 1024, 1024]}, seed=0)
    out = _push_pair(b, "push-large", src, weights, b.sizes.reps_large_push)
    hv, raw = out["times"]["hubver"], out["times"]["raw"]
    ratio = median(hv) / median(raw)
    rm(src)
    return [
        Row(
            "push_large",
            f"push of a {human_bytes(out['artifact_bytes'])} model (hubver.push)",
            measured(hv, "s"),
            measured(raw, "s"),
            "upload_folder + create_tag",
            f"x{ratio:.2f}",
            "ratio <= 1.10",
            b.judge(ratio <= 1.10),
            out,
        )
    ]


# -- v2 push: bytes the server received ---------------------------------------------------------------


class CountingASGI:
    """Wraps the hub's ASGI app and counts, per request, the body bytes it received."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.requests: list[dict[str, Any]] = []

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        record = {
            "method": scope["method"],
            "path": scope["path"],
            "body": 0,
            "header_bytes": sum(len(k) + len(v) + 4 for k, v in scope["headers"]),
        }
        self.requests.append(record)

        async def counted() -> dict:
            message = await receive()
            if message["type"] == "http.request":
                record["body"] += len(message.get("body", b""))
            return message

        await self.app(scope, counted, send)


class CountingHub:
    """An embedded hub in a thread of this process, behind `CountingASGI` (uvicorn, as `hub serve`)."""

    def __init__(self, data_dir: Path, token: str) -> None:
        import asyncio
        import threading

        import uvicorn

        from hubver.server import HubApp, HubConfig, bind
        from hubver.server.run import base_url

        self.app = CountingASGI(HubApp(HubConfig(data_dir=data_dir, admin_token=token)))
        sock = bind("127.0.0.1", 0)
        self.url = base_url(sock)
        self.server = uvicorn.Server(uvicorn.Config(self.app, log_level="warning", lifespan="off"))
        self.thread = threading.Thread(
            target=lambda: asyncio.run(self.server.serve(sockets=[sock])), daemon=True
        )
        self.thread.start()
        for _ in range(500):
            if self.server.started:
                break
            time.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def _stored(git_dir: Path) -> dict[str, int]:
    """Bytes stored in a repo: LFS objects, and git objects (loose, zlib-compressed)."""
    lfs = git_dir / "lfs" / "objects"
    objs = git_dir / "objects"
    return {
        "lfs": dir_size(lfs) if lfs.exists() else 0,
        "git_objects": dir_size(objs) if objs.exists() else 0,
    }


def push_v2_bytes(b: Bench) -> list[Row]:
    import hubver

    hub = CountingHub(b.work / "counting-hub", b.token)
    try:
        src = b.work / "sharded"
        src.mkdir()
        tiny = Path(b.fixtures["base"])
        for name in ("config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json"):
            shutil.copy(tiny / name, src / name)
        s = b.sizes
        shards = {
            "model-00001-of-00002.safetensors": s.shard_unchanged,
            "model-00002-of-00002.safetensors": s.shard_changed,
        }
        weight_map = {}
        for shard, size in shards.items():
            tensor = f"{shard.split('-')[1]}.weight"
            write_safetensors(src / shard, {tensor: [size // 4 // 256, 256]}, seed=1)
            weight_map[tensor] = shard
        (src / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))
        repo = "bench/v2-bytes"
        git_dir = b.work / "counting-hub" / "repos" / "models" / f"{repo}.git"
        from hubver.client import HubClient

        client = HubClient(hub.url, b.token)
        hubver.push(src, repo, client=client, endpoint=hub.url, token=b.token, message="v1")
        v1_bytes_total = sum(r["body"] for r in hub.app.requests)
        hub.app.requests.clear()
        changed = src / "model-00002-of-00002.safetensors"
        reseed_safetensors(changed, 2)
        before = _stored(git_dir)
        result = hubver.push(src, repo, client=client, endpoint=hub.url, token=b.token, message="v2")
        after = _stored(git_dir)
        reqs = list(hub.app.requests)
        body = sum(r["body"] for r in reqs)
        lfs_put = sum(r["body"] for r in reqs if r["path"].startswith("/lfs-"))
        commit_body = sum(r["body"] for r in reqs if r["path"].endswith("/commit/main"))
        yaml_body = sum(r["body"] for r in reqs if r["path"] == "/api/validate-yaml")
        changed_size = changed.stat().st_size
        unchanged = list(result.unchanged)
        unchanged_bytes = sum((src / f).stat().st_size for f in unchanged)
        # Exactly the changed file through LFS, nothing unchanged re-sent, and the rest small
        # (hubver.json, the card and the index travel inside the commit body).
        ok = lfs_put == changed_size and body - changed_size < 256 * 1024
        details = {
            "requests": [{k: r[k] for k in ("method", "path", "body")} for r in reqs],
            "request_body_bytes": body,
            "lfs_upload_bytes": lfs_put,
            "commit_body_bytes": commit_body,
            "validate_yaml_bytes": yaml_body,
            "changed_file_bytes": changed_size,
            "unchanged_files": unchanged,
            "unchanged_bytes": unchanged_bytes,
            "uploaded_files": result.uploaded,
            "stored_delta": {k: after[k] - before[k] for k in after},
            "header_bytes": sum(r["header_bytes"] for r in reqs),
            "v1_bytes_total": v1_bytes_total,
        }
        return [
            Row(
                "push_v2_bytes",
                f"v2 push, 1 of 2 shards changed ({human_bytes(changed_size)} of {human_bytes(dir_size(src))})",
                {**summarize([body]), "unit": "bytes"},
                {**summarize([changed_size]), "unit": "bytes"},
                "changed file's size",
                f"+{human_bytes(body - changed_size)} (LFS {human_bytes(lfs_put)})",
                "only the changed files' bytes",
                b.judge(ok),
                details,
            )
        ]
    finally:
        hub.stop()
        rm(b.work / "counting-hub")


# -- hubver list with many versions -------------------------------------------------------------------


def _make_versions(b: Bench, repo: str, count: int) -> dict[str, Any]:
    """`count` real versions made by hubver.push, each a new adapter with its metrics."""
    import hubver
    from hubver.registry.browse import read_listing

    hub = b.client()
    src = b.work / "many"
    shutil.copytree(b.fixtures["adapter"], src)
    weights = src / "adapter_model.safetensors"
    counts: dict[int, int] = {}
    t0 = time.perf_counter()
    for i in range(count):
        reseed_safetensors(weights, 50_000 + i)
        hubver.push(
            src,
            repo,
            client=hub,
            endpoint=b.url,
            token=b.token,
            message=f"run {i + 1}: lr sweep",
            metrics={"eval_loss": 2.0 - i / (count * 2), "accuracy": i / count},
        )
        if i + 1 in (min(10, count), count // 10, count):
            with client_requests() as sent:
                read_listing(hub, repo, "main")
            counts[i + 1] = len(sent)
    rm(src)
    return {"seconds": time.perf_counter() - t0, "list_requests_by_versions": counts}


def list_versions(b: Bench) -> list[Row]:
    from huggingface_hub import hf_hub_download

    from hubver.registry.browse import read_listing

    n = b.sizes.versions
    repo = "bench/many-versions"
    made = _make_versions(b, repo, n)
    b.notes["many_versions_repo"] = repo
    api, hub = b.api(), b.client()

    def hf_style(cache: Path) -> int:
        refs = api.list_repo_refs(repo)
        for tag in refs.tags:
            path = hf_hub_download(
                repo, "hubver.json", revision=tag.name, cache_dir=cache, endpoint=b.url, token=b.token
            )
            json.loads(Path(path).read_text())
        return len(refs.tags)

    cli, lib, hf = [], [], []
    argv = [HUBVER, "list", *b.repo_args(repo)]
    for i in range(b.sizes.list_reps):
        for side in _alternate(i, "cli", "lib"):
            if side == "cli":
                cli.append(run_timed(argv, b.env, b.project))
            else:
                lib.append(timed(lambda: read_listing(hub, repo, "main"))[0])
    with client_requests() as sent_lib:
        listing = read_listing(hub, repo, "main")
    assert len(listing.versions) == n, len(listing.versions)
    for i in range(b.sizes.hf_list_reps):
        cache = b.work / f"hf-list-cache-{i}"
        if i == 0:
            with client_requests() as sent_hf:
                hf.append(timed(lambda cache=cache: hf_style(cache))[0])
        else:
            hf.append(timed(lambda cache=cache: hf_style(cache))[0])
        rm(cache)
    counts = made["list_requests_by_versions"]
    constant = len(set(counts.values())) == 1
    details = {
        "make_versions_seconds": made["seconds"],
        "list_requests_by_versions": counts,
        "requests_hubver": request_kinds(sent_lib),
        "requests_hf_style": request_kinds(sent_hf),
        "library_read_listing": summarize(lib),
        "hf_style": summarize(hf),
    }
    return [
        Row(
            "list",
            f"`hubver list` with {n} versions (command, start to exit)",
            measured(cli, "s"),
            measured(hf, "s"),
            "refs + hf_hub_download(hubver.json) per tag",
            f"{len(sent_lib)} vs {len(sent_hf)} requests",
            "<= 1 s, constant requests",
            b.judge(median(cli) <= 1.0 and constant),
            details,
        ),
        Row(
            "list_library",
            f"read_listing() with {n} versions (in-process)",
            measured(lib, "s"),
            measured(hf, "s"),
            "refs + hf_hub_download(hubver.json) per tag",
            f"x{median(hf) / median(lib):.0f} faster; requests at "
            + ", ".join(f"{k}: {v}" for k, v in counts.items()),
            "constant requests",
            b.judge(constant),
            {},
        ),
    ]


# -- process start --------------------------------------------------------------------------------


def process_start(b: Bench) -> list[Row]:
    repo = _small_repo(b, "bench/start", 3)
    commands = {
        "hubver --help": [HUBVER, "--help"],
        "hubver list": [HUBVER, "list", *b.repo_args(repo)],
        "hf --help": [HF, "--help"],
    }
    times: dict[str, list[float]] = {k: [] for k in commands}
    names = list(commands)
    for i in range(b.sizes.start_reps):
        order = names[i % 3 :] + names[: i % 3]
        for name in order:
            times[name].append(run_timed(commands[name], b.env, b.project))
    hf = median(times["hf --help"])
    rows = []
    for name in ("hubver --help", "hubver list"):
        ratio = median(times[name]) / hf
        rows.append(
            Row(
                "start",
                f"`{name}` (process start to exit)",
                measured(times[name], "s"),
                measured(times["hf --help"], "s"),
                "`hf --help`",
                f"x{ratio:.2f}",
                "<= 0.5 x hf --help",
                b.judge(ratio <= 0.5),
                {"import_check": _imports_of(name, b)},
            )
        )
    return rows


def _imports_of(name: str, b: Bench) -> dict[str, bool]:
    """Which heavy modules the command's code path imports (torch must never be one)."""
    if name == "hubver --help":
        code = "import sys; from hubver.cli import cli; print(sorted(m for m in ('torch','transformers','huggingface_hub') if m in sys.modules))"
    else:
        return {}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=b.env, cwd=b.project
    )
    loaded = json.loads(out.stdout.replace("'", '"')) if out.returncode == 0 else []
    return {m: m in loaded for m in ("torch", "transformers", "huggingface_hub")}


# -- checkout from a warm cache ---------------------------------------------------------------------


def checkout(b: Bench) -> list[Row]:
    import hubver

    repo = "bench/checkout"
    src = b.work / "checkout-src"
    shutil.copytree(b.fixtures["adapter"], src)
    tiny = Path(b.fixtures["base"])
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(tiny / name, src / name)
    # A bigger adapter (rank 512 on a 1024-wide model), so that a download would show.
    d = 1024
    r = max(1, b.sizes.checkout_bytes // 4 // (2 * 4 * d))
    write_safetensors(
        src / "adapter_model.safetensors",
        {
            f"base_model.model.transformer.h.{layer}.attn.c_attn.lora_{ab}.weight": shape
            for layer in range(2)
            for ab, shape in (("A", [r, d]), ("B", [3 * d, r]))
        },
        seed=3,
    )
    cfg = json.loads((src / "adapter_config.json").read_text())
    (src / "adapter_config.json").write_text(json.dumps({**cfg, "r": r, "lora_alpha": 2 * r}))
    hubver.push(src, repo, endpoint=b.url, token=b.token, message="checkout me")
    argv = [HUBVER, "checkout", "v1", *b.repo_args(repo)]
    cold, warm, downloaded = [], [], []
    n = 0
    for i in range(b.sizes.checkout_cold_reps):
        home = b.work / f"co-home-{i}"
        env = child_env(b.env, HF_HOME=str(home))
        cold.append(run_timed([*argv, "--to", str(b.work / f"co-{n}")], env, b.project))
        n += 1
        blobs = home / "hub" / f"models--{repo.replace('/', '--')}" / "blobs"
        for _ in range(b.sizes.checkout_warm_per_cold):
            before = tree_state(blobs)
            warm.append(run_timed([*argv, "--to", str(b.work / f"co-{n}")], env, b.project))
            n += 1
            after = tree_state(blobs)
            downloaded.append(sum(1 for k, v in after.items() if before.get(k) != v))
    # The library call alone, warm, with its requests counted.
    home = b.work / "co-home-0"
    with client_requests() as sent:
        lib_t, _ = timed(
            lambda: hubver.checkout(
                repo, "v1", b.work / "co-lib", cache_dir=home / "hub", quiet=True, client=b.client()
            )
        )
    # Files of the version downloaded again; the branch's index (.hubver/versions.jsonl, read
    # for tombstones since issue 16) is the version check's, not a file of the version.
    resolves = sum(
        1 for s in sent if "/resolve/" in s.path and s.method == "GET" and "/.hubver/" not in s.path
    )
    for i in range(n):
        rm(b.work / f"co-{i}")
    ok = max(downloaded) == 0 and resolves == 0 and median(warm) <= 0.5
    return [
        Row(
            "checkout",
            f"`hubver checkout` of a cached version ({human_bytes(dir_size(src))})",
            measured(warm, "s"),
            measured(cold, "s"),
            "first checkout (empty cache)",
            f"{max(downloaded)} files downloaded",
            "no download, <= 0.5 s",
            b.judge(ok),
            {
                "files_downloaded_per_warm_checkout": downloaded,
                "library_warm_seconds": lib_t,
                "library_warm_requests": request_kinds(sent),
            },
        )
    ]


# -- bulk transfer and the hub's memory ----------------------------------------------------------------


def _upload(b: Bench, repo: str, path: Path) -> float:
    api = b.api()
    api.create_repo(repo, exist_ok=True)
    return timed(lambda: api.upload_file(path_or_fileobj=str(path), path_in_repo=path.name, repo_id=repo))[0]


def _download(b: Bench, repo: str, name: str, cache: Path) -> float:
    from huggingface_hub import hf_hub_download

    t, path = timed(lambda: hf_hub_download(repo, name, cache_dir=cache, endpoint=b.url, token=b.token))
    assert Path(path).stat().st_size > 0
    return t


def _sha256_seconds(path: Path) -> float:
    import hashlib

    def run() -> None:
        h = hashlib.sha256()
        with path.open("rb") as f:
            while block := f.read(8 * MiB):
                h.update(block)

    return timed(run)[0]


def transfer(b: Bench) -> list[Row]:
    size = b.sizes.transfer_bytes
    src = b.work / "transfer.bin"
    write_data(src, size, seed=7)
    api = b.api()
    curl = shutil.which("curl")
    cp, up, down, raw_down, served, sha = [], [], [], [], [], []
    b.hub.reset_peak()
    for i in range(b.sizes.transfer_reps):
        copy = b.work / "transfer-copy.bin"
        cp.append(run_timed(["cp", str(src), str(copy)], b.env, b.work))
        copy.unlink()
        # The LFS protocol makes the client hash the whole file before sending a byte.
        sha.append(_sha256_seconds(src))
        repo = f"bench/transfer-{i}"
        up.append(_upload(b, repo, src))
        cache = b.work / f"dl-{i}"
        down.append(_download(b, repo, src.name, cache))
        rm(cache)
        if curl:  # the same GET by a client written in C: what the hub itself can serve
            url = f"{b.url}/{repo}/resolve/main/{src.name}"
            auth = f"Authorization: Bearer {b.token}"
            raw_down.append(run_timed([curl, "-sf", "-o", str(copy), "-H", auth, url], b.env, b.work))
            copy.unlink()
            # What the hub serves, without the client's own disk writes (on this VM, writing
            # bytes to pages never used before costs ~3 ms/MB of system time: cp pays it too,
            # but its median benefits from pages the previous copy freed).
            served.append(run_timed([curl, "-sf", "-o", os.devnull, "-H", auth, url], b.env, b.work))
        api.delete_repo(repo)
    peak = b.hub.peak_rss()
    rm(src)
    mb = size / 1e6

    def tput(xs: list[float]) -> list[float]:
        return [mb / x for x in xs]

    cp_tput = median(tput(cp))
    rows = []
    details = {
        "cp_seconds": summarize(cp),
        "client_sha256_seconds": summarize(sha),
        "hub_peak_rss": peak,
    }
    for what, xs in (("upload_file", up), ("hf_hub_download", down)):
        ratio = median(tput(xs)) / cp_tput
        rows.append(
            Row(
                "transfer",
                f"{human_bytes(size)} {what} through the hub",
                measured(tput(xs), "MB/s"),
                measured(tput(cp), "MB/s"),
                "cp of the same file",
                f"{ratio:.0%} of cp",
                ">= 50% of cp",
                b.judge(ratio >= 0.5),
                {"seconds": summarize(xs), **details},
            )
        )
    rows[0].details["sha256_share"] = median(sha) / median(up)
    if raw_down:
        rows.append(
            Row(
                "transfer_curl",
                f"{human_bytes(size)} download with curl (the hub's side alone)",
                measured(tput(raw_down), "MB/s"),
                measured(tput(cp), "MB/s"),
                "cp of the same file",
                f"{median(tput(raw_down)) / cp_tput:.0%} of cp",
                "(reference)",
                None,
                {"seconds": summarize(raw_down)},
            )
        )
        ratio = median(tput(served)) / cp_tput
        rows.append(
            Row(
                "transfer_curl",
                f"{human_bytes(size)} served by the hub to curl (-o /dev/null)",
                measured(tput(served), "MB/s"),
                measured(tput(cp), "MB/s"),
                "cp of the same file",
                f"{ratio:.0%} of cp",
                ">= 50% of cp",
                b.judge(ratio >= 0.5),
                {"seconds": summarize(served)},
            )
        )
    return rows


def hub_memory(b: Bench) -> list[Row]:
    size = b.sizes.rss_bytes
    src = b.work / "rss.bin"
    write_data(src, size, seed=11)
    repo = "bench/rss"
    baseline = b.hub.rss()
    reset = b.hub.reset_peak()
    with RssSampler(b.hub.rss) as sampler:
        t_up = _upload(b, repo, src)
        t_down = _download(b, repo, src.name, b.work / "rss-dl")
    hwm = b.hub.peak_rss()
    # Without a reset, VmHWM covers the hub's whole life; the sampler still bounds this transfer.
    peak = hwm if reset else sampler.peak
    rm(b.work / "rss-dl")
    rm(src)
    b.api().delete_repo(repo)
    mb = peak / 1e6
    return [
        Row(
            "hub_rss",
            f"hub peak RSS during a {human_bytes(size)} upload + download",
            {**summarize([mb]), "unit": "MB"},
            None,
            "",
            f"baseline {baseline / 1e6:.0f} MB",
            "<= 300 MB",
            b.judge(mb <= 300),
            {
                "baseline_rss": baseline,
                "vmhwm": hwm,
                "sampled_peak": sampler.peak,
                "hwm_reset": reset,
                "upload_seconds": t_up,
                "download_seconds": t_down,
            },
        )
    ]


# -- metadata latency ---------------------------------------------------------------------------------


def latency(b: Bench) -> list[Row]:
    repo = b.notes.get("many_versions_repo") or _small_repo(b, "bench/latency", 5)
    api = b.api()
    tags = sorted(t.name for t in api.list_repo_refs(repo).tags)
    parts = urlsplit(b.url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    headers = {"Authorization": f"Bearer {b.token}"}
    n = b.sizes.latency_requests

    def measure(method: str, path_of: Any) -> list[float]:
        out = []
        for i in range(n + 20):
            path = path_of(tags[i % len(tags)])
            t = time.perf_counter()
            conn.request(method, path, headers=headers)
            resp = conn.getresponse()
            resp.read()
            elapsed = time.perf_counter() - t
            assert resp.status == 200, (resp.status, path)
            if i >= 20:  # the first requests warm the connection and the hub's caches
                out.append(elapsed * 1000)
        return out

    cases = {
        "GET /api/models/{id}/revision/{tag}": ("GET", lambda t: f"/api/models/{repo}/revision/{t}"),
        "HEAD /{id}/resolve/{tag}/hubver.json": ("HEAD", lambda t: f"/{repo}/resolve/{t}/hubver.json"),
    }
    rows = []
    for label, (method, path_of) in cases.items():
        xs = measure(method, path_of)
        p50 = percentile(xs, 50)
        rows.append(
            Row(
                "latency",
                f"{label} (keep-alive, {len(tags)} tags rotated)",
                measured(xs, "ms"),
                None,
                "",
                f"p50 {p50:.2f} ms, p90 {percentile(xs, 90):.2f}, p99 {percentile(xs, 99):.2f}",
                "p50 <= 5 ms",
                b.judge(p50 <= 5),
                {"p90": percentile(xs, 90), "p99": percentile(xs, 99)},
            )
        )
    conn.close()
    # What a huggingface_hub caller sees for the same request (client overhead included).
    client = [timed(lambda: api.model_info(repo, revision=tags[0]))[0] * 1000 for _ in range(30)]
    rows[0].details["hf_client_model_info_ms"] = summarize(client)
    return rows


# -- web pages ------------------------------------------------------------------------------------


def _get_page(conn: http.client.HTTPConnection, path: str) -> tuple[float, int, bytes]:
    """One GET on a keep-alive connection: (seconds to the whole body, status, body)."""
    t = time.perf_counter()
    conn.request("GET", path, headers={"Accept": "text/html"})
    resp = conn.getresponse()
    body = resp.read()
    return time.perf_counter() - t, resp.status, body


def repo_page(b: Bench) -> list[Row]:
    """GET /NS/NAME (the versions table of every version) and the metric chart, as a browser would.

    Anonymous, like a visitor of a public repo; the first request of each page is reported
    apart (the hub's caches are cold), the target is on the median of the rest.
    """
    import hubver

    n = b.sizes.versions
    repo = b.notes.get("many_versions_repo")
    if repo is None:
        repo = "bench/page-versions"
        _make_versions(b, repo, n)
    # Aliases too, so the page draws what a real one does (alias cells, chart markers).
    if not b.notes.get("page_aliases"):
        for version, alias in (
            (f"v{max(1, n // 2)}", "production"),
            (f"v{n}", "staging"),
            (f"v{n - 1}", "production"),
        ):
            hubver.promote(repo, version, alias, endpoint=b.url, token=b.token)
        b.notes["page_aliases"] = True
    parts = urlsplit(b.url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    rows = []
    pages = {
        "repo": (f"/{repo}", f"repo page with {n} versions (GET /NS/NAME, keep-alive)", "< 100 ms"),
        "chart": (
            f"/{repo}/chart?metric=eval_loss",
            f"metric chart over {n} versions (GET /NS/NAME/chart)",
            "",
        ),
    }
    try:
        for name, (path, what, target) in pages.items():
            first, status, body = _get_page(conn, path)
            if status != 200:
                raise RuntimeError(f"GET {path}: status {status}: {body[:300]!r}")
            shown = body.count(b"data-version=") if name == "repo" else body.count(b'class="point"')
            if shown < n:
                raise RuntimeError(f"GET {path} shows {shown} versions of {n}")
            xs = []
            for _ in range(b.sizes.page_requests):
                seconds, status, body = _get_page(conn, path)
                assert status == 200, (status, path)
                xs.append(seconds * 1000)
            p50 = median(xs)
            rows.append(
                Row(
                    "repo_page" if name == "repo" else "chart_page",
                    what,
                    measured(xs, "ms"),
                    None,
                    "",
                    f"p50 {p50:.1f} ms, p90 {percentile(xs, 90):.1f}; first {first * 1000:.0f} ms; {human_bytes(len(body))}",
                    target or "(reference)",
                    b.judge(p50 < 100) if target else None,
                    {"first_request_ms": first * 1000, "html_bytes": len(body), "versions_shown": shown},
                )
            )
    finally:
        conn.close()
    return rows


# -- training with the callback -----------------------------------------------------------------------


def _train(b: Bench, label: str, spec: dict[str, Any]) -> dict[str, Any]:
    work = b.work / f"train-{label}"
    work.mkdir()
    spec = {
        **spec,
        "work": str(work),
        "tiny_base": b.fixtures["base"],
        "endpoint": b.url,
        "token": b.token,
        "repo": f"bench/train-{label}",
    }
    spec_file = work / "spec.json"
    spec_file.write_text(json.dumps(spec))
    worker = Path(__file__).with_name("worker.py")
    proc = subprocess.run(
        [sys.executable, str(worker), "train", str(spec_file)],
        env=b.env,
        cwd=b.project,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"training worker failed: {proc.stderr[-3000:]}")
    rm(work)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _training_row(b: Bench, label: str, what: str, out: dict[str, Any]) -> Row:
    per_epoch: dict[str, list[float]] = {"with": [], "without": []}
    totals: dict[str, list[float]] = {"with": [], "without": []}
    snapshots: list[float] = []
    pushes: list[float] = []
    failures = []
    for run in out["runs"]:
        snapshots += run.get("snapshot_seconds", [])
        pushes += run.get("push_seconds", [])
        # An epoch's first interval also holds the trainer's start-up; the first epoch with the
        # callback has no upload running beside it. Both are left out, on both sides.
        epochs = run["epochs"][1:] if len(run["epochs"]) > 1 else run["epochs"]
        per_epoch[run["mode"]] += epochs
        totals[run["mode"]].append(run["train_total"])
        failures += run["failures"]
    slower = median(per_epoch["with"]) / median(per_epoch["without"]) - 1
    total_slower = median(totals["with"]) / median(totals["without"]) - 1
    return Row(
        f"train_{label}",
        what,
        measured(per_epoch["with"], "s"),
        measured(per_epoch["without"], "s"),
        "same training without the callback",
        f"{slower:+.1%} per epoch ({total_slower:+.1%} total)",
        "<= 5% slower",
        b.judge(slower <= 0.05 and not failures),
        {
            "runs": out["runs"],
            "adapter_bytes": out["adapter_bytes"],
            "push_alone_seconds": out["push_alone"],
            "torch_threads": out["torch_threads"],
            # Where the time goes: the snapshot is saved on the training thread at each epoch's
            # end; the push then runs in the callback's thread beside the next epoch.
            "snapshot_on_training_thread": summarize(snapshots),
            "push_in_background": summarize(pushes),
            "train_total": {k: summarize(v) for k, v in totals.items()},
        },
    )


def training(b: Bench) -> list[Row]:
    s = b.sizes
    rows = []
    if s.tiny_reps:
        order = ["without", "with"] * s.tiny_reps
        spec = {"r": 8, "epochs": s.tiny_epochs, "order": order, "threads": s.train_threads}
        tiny = _train(b, "tiny", spec)
        what = f"training, tiny GPT-2 + LoRA r=8, {s.tiny_epochs} epochs, push every epoch (per epoch)"
        rows.append(_training_row(b, "tiny", what, tiny))
    if s.large_model and s.large_reps:
        m = s.large_model
        spec = {
            **m,
            "epochs": s.large_epochs,
            "order": ["without", "with"] * s.large_reps,
            "threads": s.train_threads,
        }
        large = _train(b, "large", spec)
        rows.append(
            _training_row(
                b,
                "large",
                f"training, GPT-2 {m['n_layer']}x{m['n_embd']} + LoRA r={m['r']} "
                f"({human_bytes(large['adapter_bytes'])} adapter), {s.large_epochs} epochs (per epoch)",
                large,
            )
        )
    return rows


# -- side by side with the `hf` command line: fresh processes, alternating -----------------------------

UPLOAD_AND_TAG = """
import sys
from huggingface_hub import HfApi
folder, repo, tag = sys.argv[1:4]
api = HfApi()
info = api.upload_folder(folder_path=folder, repo_id=repo, commit_message=tag)
api.create_tag(repo, tag=tag, revision=info.oid, tag_message=tag)
"""


def _sharded_model(b: Bench, name: str, seed: int) -> tuple[Path, list[Path]]:
    """A ~300 MB model as transformers saves it: 3 F32 safetensors shards, their index, a config."""
    src = b.work / name
    src.mkdir()
    (src / "config.json").write_text(json.dumps({"model_type": "gpt2", "n_embd": 1024}))
    shards, weight_map = [], {}
    rows = max(1, b.sizes.vs_hf_shard_bytes // 4 // 1024)
    for k in range(3):
        shard = src / f"model-{k + 1:05d}-of-00003.safetensors"
        tensor = f"transformer.h.{k}.mlp.c_fc.weight"
        write_safetensors(shard, {tensor: [rows, 1024]}, seed=seed + k)
        weight_map[tensor] = shard.name
        shards.append(shard)
    index = {"metadata": {"total_size": sum(p.stat().st_size for p in shards)}, "weight_map": weight_map}
    (src / "model.safetensors.index.json").write_text(json.dumps(index))
    return src, shards


def _pair_rows(
    b: Bench, case: str, what: str, ours: list[float], theirs: list[float], other: str, target: float
) -> Row:
    ratios = [h / r for h, r in zip(ours, theirs, strict=True)]
    ratio = median(ours) / median(theirs)
    return Row(
        case,
        what,
        measured(ours, "s"),
        measured(theirs, "s"),
        other,
        f"x{ratio:.2f} (paired x{median(ratios):.2f})",
        f"ratio <= {target}",
        b.judge(ratio <= target),
        {"paired_ratio": summarize(ratios), "load_average": os.getloadavg()},
    )


def push_vs_hf(b: Bench) -> list[Row]:
    """`hubver push` of a 3-shard model against `hf upload` of the same folder, both commands."""
    src, shards = _sharded_model(b, "vs-hf-push", seed=100)
    ours, theirs = "bench/vs-hf-push", "bench/vs-hf-push-raw"
    b.api().create_repo(theirs, exist_ok=True)
    hv = [HUBVER, "push", str(src), "-m", "rep", *b.repo_args(ours)]
    hf = [HF, "upload", theirs, str(src), ".", "--commit-message", "rep", "--token", b.token]
    run_timed(hv, b.env, b.project)  # creates the repositories: not timed
    run_timed(hf, b.env, b.project)
    times: dict[str, list[float]] = {"hubver": [], "hf": []}
    partial: dict[str, list[float]] = {"hubver": [], "hf": []}
    for i in range(1, b.sizes.vs_hf_reps + 1):
        for k, shard in enumerate(shards):  # every shard new: everything is hashed and uploaded
            reseed_safetensors(shard, 1000 * i + k)
        for side, argv in _alternate(i, ("hubver", hv), ("hf", hf)):
            times[side].append(run_timed(argv, b.env, b.project))
        reseed_safetensors(shards[-1], 1000 * i + 500)  # one shard of three changed
        for side, argv in _alternate(i, ("hubver", hv), ("hf", hf)):
            partial[side].append(run_timed(argv, b.env, b.project))
    size = human_bytes(dir_size(src))
    rm(src)
    return [
        _pair_rows(
            b,
            "push_vs_hf",
            f"`hubver push` of a 3-shard {size} model (command)",
            times["hubver"],
            times["hf"],
            "`hf upload` of the folder",
            0.9,
        ),
        _pair_rows(
            b,
            "push_vs_hf",
            "`hubver push` of that model, 1 of 3 shards changed (command)",
            partial["hubver"],
            partial["hf"],
            "`hf upload` of the folder",
            0.9,
        ),
    ]


def adapter_vs_hf(b: Bench) -> list[Row]:
    """`hubver push` of a 100 MB adapter against upload_folder + create_tag in a fresh process."""
    src = b.work / "vs-hf-adapter"
    shutil.copytree(b.fixtures["adapter"], src)
    d = 1024
    r = max(1, b.sizes.vs_hf_adapter_bytes // 4 // (2 * 4 * d))
    weights = src / "adapter_model.safetensors"
    write_safetensors(
        weights,
        {
            f"base_model.model.transformer.h.{layer}.attn.c_attn.lora_{ab}.weight": shape
            for layer in range(2)
            for ab, shape in (("A", [r, d]), ("B", [3 * d, r]))
        },
        seed=5,
    )
    cfg = json.loads((src / "adapter_config.json").read_text())
    (src / "adapter_config.json").write_text(json.dumps({**cfg, "r": r, "lora_alpha": 2 * r}))
    ours, theirs = "bench/vs-hf-adapter", "bench/vs-hf-adapter-raw"
    b.api().create_repo(theirs, exist_ok=True)
    hv = [HUBVER, "push", str(src), "-m", "rep", *b.repo_args(ours)]
    run_timed(hv, b.env, b.project)
    env = child_env(b.env, HF_TOKEN=b.token)
    raw = [sys.executable, "-c", UPLOAD_AND_TAG, str(src), theirs]
    run_timed([*raw, "v0"], env, b.project)
    times: dict[str, list[float]] = {"hubver": [], "raw": []}
    for i in range(1, b.sizes.vs_hf_reps + 1):
        reseed_safetensors(weights, 2000 + i)
        for side, argv, e in _alternate(i, ("hubver", hv, b.env), ("raw", [*raw, f"v{i}"], env)):
            times[side].append(run_timed(argv, e, b.project))
    size = human_bytes(weights.stat().st_size)
    rm(src)
    return [
        _pair_rows(
            b,
            "adapter_vs_hf",
            f"`hubver push` of a {size} LoRA adapter (command)",
            times["hubver"],
            times["raw"],
            "upload_folder + create_tag (fresh process)",
            1.0,
        )
    ]


def checkout_vs_hf(b: Bench) -> list[Row]:
    """Cold `hubver checkout` against `hf download --local-dir`, both from an empty cache; then warm.

    hubver twice: its default (as root here: copies out of the HF cache, see `place_file`) and
    `--link` (read-only hard links to the cache: the default for other users). The three
    sides rotate order on every repetition."""
    import hubver

    src, _ = _sharded_model(b, "vs-hf-checkout", seed=300)
    repo = "bench/vs-hf-checkout"
    hubver.push(src, repo, endpoint=b.url, token=b.token, message="checkout me")
    size = human_bytes(dir_size(src))
    rm(src)
    sides = ("hubver", "hubver --link", "hf")
    cold: dict[str, list[float]] = {side: [] for side in sides}
    warm: dict[str, list[float]] = {side: [] for side in sides[:2]}
    n = 0
    for i in range(b.sizes.vs_hf_reps):
        homes = {side: b.work / f"vs-co-{k}-{i}" for k, side in enumerate(sides)}
        argv = {}
        for k, side in enumerate(sides[:2]):
            argv[side] = [HUBVER, "checkout", "v1", "--to", str(b.work / f"vs-co-{k}-{i}-dir")]
            argv[side] += [*b.repo_args(repo), *(["--link"] if "link" in side else [])]
        argv["hf"] = [HF, "download", repo, "--revision", "v1", "--local-dir", str(b.work / f"vs-dl-{i}")]
        argv["hf"] += ["--token", b.token]
        order = sides[i % 3 :] + sides[: i % 3]
        for side in order:
            env = child_env(b.env, HF_HOME=str(homes[side]), HUBVER_HOME=str(homes[side] / "hubver"))
            cold[side].append(run_timed(argv[side], env, b.project))
        for side in sides[:2]:
            rm(Path(argv[side][4]))
        rm(b.work / f"vs-dl-{i}")
        rm(homes["hf"])
        for side in sides[:2]:
            env = child_env(b.env, HF_HOME=str(homes[side]), HUBVER_HOME=str(homes[side] / "hubver"))
            for _ in range(b.sizes.vs_hf_warm_reps if i == 0 else 1):
                target = b.work / f"vs-warm-{n}"
                n += 1
                warm[side].append(run_timed([*argv[side][:4], str(target), *argv[side][5:]], env, b.project))
                rm(target)
            rm(homes[side])
    rows = []
    for side in sides[:2]:
        flag = " --link" if "link" in side else ""
        rows.append(
            _pair_rows(
                b,
                "checkout_vs_hf",
                f"cold `hubver checkout{flag}` of a 3-shard {size} model (command, empty cache)",
                cold[side],
                cold["hf"],
                "`hf download --local-dir` (empty cache)",
                0.8,
            )
        )
    for side in sides[:2]:
        flag = " --link" if "link" in side else ""
        rows.append(
            Row(
                "checkout_vs_hf",
                f"warm `hubver checkout{flag}` of that model (command, version in the HF cache)",
                measured(warm[side], "s"),
                measured(cold["hf"], "s"),
                "`hf download --local-dir` (empty cache)",
                f"{median(warm[side]):.2f} s",
                "<= 0.2 s",
                b.judge(median(warm[side]) <= 0.2),
                {"load_average": os.getloadavg()},
            )
        )
    return rows


CASES = {
    "push_small": push_small,
    "push_large": push_large,
    "push_v2_bytes": push_v2_bytes,
    "list": list_versions,
    "start": process_start,
    "checkout": checkout,
    "latency": latency,
    "repo_page": repo_page,
    "training": training,
    "transfer": transfer,
    "hub_rss": hub_memory,
    "push_vs_hf": push_vs_hf,
    "adapter_vs_hf": adapter_vs_hf,
    "checkout_vs_hf": checkout_vs_hf,
}
