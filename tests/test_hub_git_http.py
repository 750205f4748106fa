"""git over HTTP against the embedded hub, with the real `git` and `git-lfs`: clone (public, private
with a token as the password), LFS weights fetched by git-lfs, pushes under the hub's rules."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from helpers import git_dir, sha256

pytestmark = pytest.mark.skipif(
    shutil.which("git") is None
    or subprocess.run(["git", "lfs", "version"], capture_output=True).returncode != 0,
    reason="needs git and git-lfs (.ci/run installs git-lfs)",
)


@pytest.fixture
def git(tmp_path):
    """git(*args, cwd=...) with a private HOME (git-lfs installed in it) and no prompts;
    returns the CompletedProcess (check=False: tests look at refusals)."""
    home = tmp_path / "git-home"
    home.mkdir()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("GIT_")},
        "HOME": str(home),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_ASKPASS": "",
        "SSH_ASKPASS": "",
    }

    def run(*args: str, cwd: Path | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
        if check and proc.returncode != 0:
            raise AssertionError(f"git {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
        return proc

    run("lfs", "install", "--skip-repo")
    run("config", "--global", "user.name", "Tester")
    run("config", "--global", "user.email", "tester@example.com")
    return run


def url(hub, repo_id: str, token: str | None = None, *, prefix: str = "", suffix: str = "") -> str:
    host = hub.url.removeprefix("http://")
    cred = f"anyone:{token}@" if token else ""
    return f"http://{cred}{host}/{prefix}{repo_id}{suffix}"


def test_public_clone_fetches_lfs_weights_that_load_with_transformers(
    hub, api, repo_id, tiny_base, git, tmp_path
):
    from helpers import same_weights, state
    from transformers import AutoModelForCausalLM

    api.create_repo(repo_id)
    api.upload_folder(folder_path=tiny_base, repo_id=repo_id)
    work = tmp_path / "clone"
    git("clone", url(hub, repo_id), str(work))  # anonymous, no .git suffix
    weights = (tiny_base / "model.safetensors").read_bytes()
    assert sha256((work / "model.safetensors").read_bytes()) == sha256(weights)  # not the pointer
    assert git("rev-parse", "HEAD", cwd=work).stdout.strip() == api.list_repo_commits(repo_id)[0].commit_id
    loaded = AutoModelForCausalLM.from_pretrained(work)
    assert same_weights(state(loaded), state(AutoModelForCausalLM.from_pretrained(tiny_base)))
    # The .git form, and a fetch into an existing clone.
    git("clone", "--bare", url(hub, repo_id, suffix=".git"), str(tmp_path / "bare.git"))
    git("fetch", "origin", cwd=work)


def test_private_clone_needs_a_token_as_the_password(hub, api, repo_id, git, tmp_path, caplog):
    caplog.set_level(logging.DEBUG, logger="hubver.server")
    api.create_repo(repo_id, private=True)
    weights = os.urandom(4096)
    api.upload_file(path_or_fileobj=weights, path_in_repo="w.safetensors", repo_id=repo_id)

    anonymous = git("clone", url(hub, repo_id), str(tmp_path / "anon"), check=False)
    assert anonymous.returncode != 0  # 401 with a Basic challenge: git asks for credentials
    assert "could not read Username" in anonymous.stderr or "Authentication failed" in anonymous.stderr
    other = hub.app.tokens.create_user("someone-else")
    foreign = git("clone", url(hub, repo_id, other), str(tmp_path / "foreign"), check=False)
    assert foreign.returncode != 0 and "not found" in foreign.stderr.lower()
    assert not (tmp_path / "anon").exists() and not (tmp_path / "foreign").exists()

    token = api.token
    assert isinstance(token, str)
    work = tmp_path / "mine"
    git("clone", url(hub, repo_id, token, suffix=".git"), str(work))
    assert (work / "w.safetensors").read_bytes() == weights  # git-lfs used the same credentials
    assert token not in caplog.text and other not in caplog.text


def test_push_of_a_new_commit_with_lfs_weights(hub, api, repo_id, git, tmp_path):
    from huggingface_hub import hf_hub_download

    api.create_repo(repo_id)
    work = tmp_path / "work"
    git("clone", url(hub, repo_id, api.token), str(work))
    weights = os.urandom(300_000)
    (work / "model.safetensors").write_bytes(weights)
    (work / "README.md").write_text("pushed with git\n")
    git("add", ".", cwd=work)
    git("commit", "-qm", "weights over git", cwd=work)
    git("push", "origin", "main", cwd=work)
    head = git("rev-parse", "HEAD", cwd=work).stdout.strip()
    commits = api.list_repo_commits(repo_id)
    assert commits[0].commit_id == head and commits[0].title == "weights over git"
    info = api.get_paths_info(repo_id, ["model.safetensors"])[0]
    assert info.lfs is not None and info.lfs.sha256 == sha256(weights)
    path = hf_hub_download(repo_id, "model.safetensors", token=api.token, cache_dir=tmp_path / "cache")
    assert Path(path).read_bytes() == weights
    # Enough objects that receive-pack keeps a pack instead of loose objects: the hub reads it.
    for i in range(150):
        (work / "many" / f"{i:03}.txt").parent.mkdir(exist_ok=True)
        (work / "many" / f"{i:03}.txt").write_text(f"file {i}\n")
    git("add", ".", cwd=work)
    git("commit", "-qm", "many files", cwd=work)
    git("push", "origin", "main", cwd=work)
    assert list((git_dir(hub, repo_id) / "objects" / "pack").glob("*.pack"))
    assert api.list_repo_commits(repo_id)[0].title == "many files"
    files = api.list_repo_files(repo_id)
    assert len([f for f in files if f.startswith("many/")]) == 150
    api.upload_file(path_or_fileobj=b"after\n", path_in_repo="many/000.txt", repo_id=repo_id)
    git("pull", "-q", "--ff-only", cwd=work)
    assert (work / "many" / "000.txt").read_text() == "after\n"


def test_push_without_a_token_is_refused(hub, api, repo_id, git, tmp_path):
    api.create_repo(repo_id)
    work = tmp_path / "work"
    git("clone", url(hub, repo_id), str(work))
    (work / "a.txt").write_text("anonymous\n")
    git("add", ".", cwd=work)
    git("commit", "-qm", "nope", cwd=work)
    refused = git("push", "origin", "main", cwd=work, check=False)
    assert refused.returncode != 0
    assert "could not read Username" in refused.stderr or "Authentication failed" in refused.stderr
    wrong = git("push", url(hub, repo_id, "hf_not_a_token"), "main", cwd=work, check=False)
    assert wrong.returncode != 0
    assert len(api.list_repo_commits(repo_id)) == 1


def test_moving_or_deleting_a_version_tag_is_refused_with_the_reason(
    hub, api, repo_id, adapters, copy_of, git, tmp_path
):
    import hubver

    art = copy_of(adapters[4], "art")
    first = hubver.push(art, repo_id, message="v1", endpoint=hub.url, token=api.token)
    tag = first.version
    work = tmp_path / "work"
    git("clone", url(hub, repo_id, api.token), str(work))
    (work / "notes.txt").write_text("later\n")
    git("add", ".", cwd=work)
    git("commit", "-qm", "later", cwd=work)
    git("tag", "-f", tag, cwd=work)
    moved = git("push", "-f", "origin", f"refs/tags/{tag}", cwd=work, check=False)
    assert moved.returncode != 0
    assert "remote:" in moved.stderr and "marks a hubver version" in moved.stderr, moved.stderr
    deleted = git("push", "origin", f":refs/tags/{tag}", cwd=work, check=False)
    assert deleted.returncode != 0 and "cannot be deleted" in deleted.stderr
    tags = {t.name: t.target_commit for t in api.list_repo_refs(repo_id).tags}
    assert tags[tag] == first.commit
    # The commit itself goes in; a new tag is the owner's to make.
    git("push", "origin", "main", cwd=work)
    # main holds the version: it cannot be rewound past it, even with --force.
    git("reset", "-q", "--hard", "HEAD~1", cwd=work)
    rewound = git("push", "-f", "origin", "main", cwd=work, check=False)
    assert rewound.returncode != 0 and "cannot be rewound" in rewound.stderr, rewound.stderr
    git("pull", "-q", "--ff-only", "origin", "main", cwd=work)
    git("tag", "notes-1", cwd=work)
    git("push", "origin", "notes-1", cwd=work)
    assert "notes-1" in {t.name for t in api.list_repo_refs(repo_id).tags}


def test_pointers_to_objects_the_hub_lacks_are_refused(hub, api, repo_id, git, tmp_path):
    api.create_repo(repo_id)
    work = tmp_path / "work"
    git("clone", url(hub, repo_id, api.token), str(work))
    missing = "ab" * 32
    (work / "ghost.bin").write_text(
        f"version https://git-lfs.github.com/spec/v1\noid sha256:{missing}\nsize 123\n"
    )
    git("add", ".", cwd=work)
    git("commit", "-qm", "ghost", cwd=work)
    refused = git("push", "--no-verify", "origin", "main", cwd=work, check=False)  # skips git-lfs' upload
    assert refused.returncode != 0
    assert f"ghost.bin: its LFS object {missing}" in refused.stderr, refused.stderr
    assert len(api.list_repo_commits(repo_id)) == 1


def test_dataset_repos_clone_under_their_prefix(hub, api, repo_id, git, tmp_path):
    api.create_repo(repo_id, repo_type="dataset")
    api.upload_file(path_or_fileobj=b"a,b\n", path_in_repo="data.csv", repo_id=repo_id, repo_type="dataset")
    work = tmp_path / "ds"
    git("clone", url(hub, repo_id, prefix="datasets/"), str(work))
    assert (work / "data.csv").read_text() == "a,b\n"
    missing = git("clone", url(hub, repo_id), str(tmp_path / "as-model"), check=False)
    assert missing.returncode != 0


def test_a_push_never_overwrites_a_concurrent_api_commit(hub, api, repo_id, git, tmp_path):
    api.create_repo(repo_id)
    work = tmp_path / "work"
    git("clone", url(hub, repo_id, api.token), str(work))
    api.upload_file(path_or_fileobj=b"api\n", path_in_repo="api.txt", repo_id=repo_id)
    (work / "git.txt").write_text("git\n")
    git("add", ".", cwd=work)
    git("commit", "-qm", "from git", cwd=work)
    stale = git("push", "origin", "main", cwd=work, check=False)
    assert stale.returncode != 0 and "rejected" in stale.stderr
    assert api.list_repo_commits(repo_id)[0].title.startswith("Upload api.txt")
    git("pull", "-q", "--rebase", "origin", "main", cwd=work)
    git("push", "origin", "main", cwd=work)
    assert set(api.list_repo_files(repo_id)) >= {"api.txt", "git.txt"}


def test_big_regular_files_must_go_through_lfs(hub, api, repo_id, git, tmp_path):
    api.create_repo(repo_id)
    work = tmp_path / "work"
    git("clone", url(hub, repo_id, api.token), str(work))
    (work / "big.txt").write_bytes(b"x" * (hub.app.config.regular_file_limit + 1))
    git("add", ".", cwd=work)
    git("commit", "-qm", "big", cwd=work)
    refused = git("push", "origin", "main", cwd=work, check=False)
    assert refused.returncode != 0 and "big.txt" in refused.stderr and "git-lfs" in refused.stderr


def test_the_smart_http_answers(hub, api, repo_id):
    import base64
    import gzip
    import urllib.error
    import urllib.request

    api.create_repo(repo_id, private=True)
    base = f"{hub.url}/{repo_id}"

    def call(path: str, token: str | None = None, data: bytes | None = None, headers: dict | None = None):
        h = dict(headers or {})
        if token:
            h["Authorization"] = "Basic " + base64.b64encode(f"x:{token}".encode()).decode()
        req = urllib.request.Request(base + path, data=data, headers=h, method="POST" if data else "GET")
        try:
            with urllib.request.urlopen(req) as r:
                return r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read()

    status, headers, _ = call("/info/refs?service=git-upload-pack")
    assert status == 401 and headers["WWW-Authenticate"].startswith("Basic")
    status, headers, _ = call("/info/refs?service=git-upload-pack", hub.app.tokens.create_user("other"))
    assert status == 404 and headers["X-Error-Code"] == "RepoNotFound"
    status, headers, body = call(".git/info/refs?service=git-upload-pack", api.token)
    assert status == 200 and headers["Content-Type"] == "application/x-git-upload-pack-advertisement"
    assert body.startswith(b"001e# service=git-upload-pack\n0000") and b"refs/heads/main" in body
    assert call("/info/refs", api.token)[0] == 403  # no dumb HTTP
    status, _, _ = call(
        "/git-upload-pack", api.token, gzip.compress(b"garbage"), {"Content-Encoding": "gzip"}
    )
    assert status == 400
    status, _, _ = call("/git-upload-pack", api.token, b"not gzip", {"Content-Encoding": "gzip"})
    assert status == 400
    public = f"{repo_id}-pub"
    api.create_repo(public)
    base = f"{hub.url}/{public}"
    status, headers, _ = call("/info/refs?service=git-receive-pack")
    assert status == 401 and "WWW-Authenticate" in headers
    assert call("/info/refs?service=git-receive-pack", hub.app.tokens.create_user("other"))[0] == 403


def test_pushes_and_api_commits_at_once_lose_nothing(hub, api, repo_id, git, tmp_path):
    import threading

    api.create_repo(repo_id)
    clones = []
    for n in range(2):
        work = tmp_path / f"work{n}"
        git("clone", "-q", url(hub, repo_id, api.token), str(work))
        clones.append(work)
    failures: list[BaseException] = []

    def api_commits() -> None:
        try:
            for i in range(6):
                api.upload_file(
                    path_or_fileobj=f"{i}\n".encode(), path_in_repo=f"api/{i}.txt", repo_id=repo_id
                )
        except BaseException as e:  # reported by the main thread
            failures.append(e)

    def pushes(work: Path, n: int) -> None:
        try:
            for i in range(3):
                (work / f"git{n}-{i}.txt").write_text("x\n")
                git("add", ".", cwd=work)
                git("commit", "-qm", f"git {n} {i}", cwd=work)
                for _ in range(30):  # a stale push is refused: fetch, rebase, retry
                    if git("push", "-q", "origin", "main", cwd=work, check=False).returncode == 0:
                        break
                    git("pull", "-q", "--rebase", "origin", "main", cwd=work)
                else:
                    raise AssertionError("push never got through")
        except BaseException as e:
            failures.append(e)

    threads = [threading.Thread(target=api_commits)]
    threads += [threading.Thread(target=pushes, args=(w, n)) for n, w in enumerate(clones)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures, failures
    files = set(api.list_repo_files(repo_id))
    assert {f"api/{i}.txt" for i in range(6)} <= files
    assert {f"git{n}-{i}.txt" for n in range(2) for i in range(3)} <= files
    titles = [c.title for c in api.list_repo_commits(repo_id)]
    assert len(titles) == 1 + 6 + 6  # linear: every commit on main, none overwritten


def test_a_push_adds_commits_to_an_open_pull_request(hub, api, repo_id, git, tmp_path):
    from huggingface_hub import CommitOperationAdd

    api.create_repo(repo_id)
    pr = api.create_commit(
        repo_id, [CommitOperationAdd("pr.txt", b"one\n")], commit_message="open a PR", create_pr=True
    )
    ref = pr.pr_revision
    assert ref and ref.startswith("refs/pr/")
    work = tmp_path / "work"
    git("clone", "-q", url(hub, repo_id, api.token), str(work))
    git("fetch", "-q", "origin", f"{ref}:pr", cwd=work)
    git("checkout", "-q", "pr", cwd=work)
    (work / "pr.txt").write_text("two\n")
    git("commit", "-qam", "more for the PR", cwd=work)
    git("push", "-q", "origin", f"pr:{ref}", cwd=work)
    assert api.list_repo_commits(repo_id, revision=ref)[0].title == "more for the PR"
    assert len(api.list_repo_commits(repo_id)) == 1  # main did not move
    created = git("push", "origin", "pr:refs/pr/99", cwd=work, check=False)
    assert created.returncode != 0 and "never created" in created.stderr


def test_hubver_hub_serve_takes_a_push_and_logs_no_token(git, tmp_path):
    """The installed entry point as a separate process, at debug log level (access log on): the
    pre-receive hook runs there too, and the token in the remote URL reaches no log line."""
    import sys

    from huggingface_hub import HfApi

    token = "hv_githttp_" + "7" * 24
    log_file = tmp_path / "hub.log"
    with log_file.open("w") as log_out:
        proc = subprocess.Popen(
            [str(Path(sys.executable).with_name("hubver")), "hub", "serve", "--port", "0"]
            + ["--data-dir", str(tmp_path / "hub"), "--log-level", "debug"],
            stdout=subprocess.PIPE,
            stderr=log_out,
            env={**os.environ, "HUBVER_HUB_TOKEN": token},
            text=True,
        )
        try:
            assert proc.stdout is not None
            base = proc.stdout.readline().strip()
            assert base.startswith("http://127.0.0.1:"), base
            api = HfApi(endpoint=base, token=token)
            api.create_repo("org/served", private=True)
            remote = base.replace("http://", f"http://u:{token}@") + "/org/served"
            work = tmp_path / "work"
            git("clone", "-q", remote, str(work))
            (work / "w.safetensors").write_bytes(os.urandom(10_000))
            git("add", ".", cwd=work)
            git("commit", "-qm", "over git", cwd=work)
            git("push", "-q", "origin", "main", cwd=work)
            assert api.list_repo_commits("org/served")[0].title == "over git"
            refused = git("push", "origin", "main:refs/meta/x", cwd=work, check=False)
            assert refused.returncode != 0 and "can be pushed" in refused.stderr
        finally:
            proc.terminate()
            proc.wait(10)
        assert proc.stdout is not None
        with proc.stdout:
            logged = log_file.read_text() + proc.stdout.read()  # uvicorn's access log is on stdout
    assert "git-receive-pack" in logged  # the access log was on
    assert token not in logged


def test_what_a_killed_push_leaves_is_swept_at_start(hub, api, repo_id, git, tmp_path):
    from hubver.server import HubConfig
    from hubver.server.app import HubApp

    api.create_repo(repo_id)
    repo = git_dir(hub, repo_id)
    lock = repo / "refs" / "heads" / "main.lock"  # receive-pack killed while moving main
    quarantine = repo / "objects" / "incoming-AbC123"  # ... or while receiving the pack
    (quarantine / "pack").mkdir(parents=True)
    lock.write_text("0" * 40 + "\n")
    old = 1_000_000_000
    os.utime(lock, (old, old))
    os.utime(quarantine, (old, old))
    HubApp(HubConfig(data_dir=hub.data_dir, admin_token="hv_sweep_" + "2" * 24))
    assert not lock.exists() and not quarantine.exists()
    work = tmp_path / "work"
    git("clone", "-q", url(hub, repo_id, api.token), str(work))
    git("commit", "-q", "--allow-empty", "-m", "after the sweep", cwd=work)
    git("push", "-q", "origin", "main", cwd=work)


def test_rights_follow_the_repos_namespace_not_the_urls_casing(hub, api, repo_id, git, tmp_path):
    from huggingface_hub import HfApi

    from hubver.server.storage_errors import InvalidName

    owner_name = f"case-{repo_id[-8:]}"
    owner_token = hub.app.tokens.create_user(owner_name)
    # A second namespace that differs only in case would own every URL spelled in capitals.
    with pytest.raises(InvalidName, match="only in case"):
        hub.app.tokens.create_user(owner_name.upper())
    with pytest.raises(InvalidName, match="only in case"):
        hub.app.tokens.create_user(f"other-{repo_id[-8:]}", orgs=(owner_name.title(),))
    owner = HfApi(endpoint=hub.url, token=owner_token)
    private = f"{owner_name}/hidden"
    owner.create_repo(private, private=True)
    owner.upload_file(path_or_fileobj=b"secret", path_in_repo="s.txt", repo_id=private)
    spelled = f"{owner_name.upper()}/HIDDEN"
    stranger = hub.app.tokens.create_user(f"stranger-{repo_id[-8:]}")
    refused = git("clone", url(hub, spelled, stranger), str(tmp_path / "stranger"), check=False)
    assert refused.returncode != 0 and not (tmp_path / "stranger").exists()
    # The owner reaches their own repo however the URL spells it, and may push to it.
    work = tmp_path / "mine"
    git("clone", url(hub, spelled, owner_token), str(work))
    (work / "t.txt").write_text("pushed through a capitalised URL\n")
    git("add", "t.txt", cwd=work)
    git("commit", "-m", "t", cwd=work)
    git("push", "origin", "HEAD:main", cwd=work)
    assert "t.txt" in owner.list_repo_files(private)
    pushed = git("push", url(hub, spelled, stranger), "HEAD:refs/heads/pwned", cwd=work, check=False)
    assert pushed.returncode != 0
    assert "pwned" not in {b.name for b in owner.list_repo_refs(private).branches}


def test_a_pruned_version_tag_may_be_deleted_by_git_push(hub, api, repo_id, adapters, copy_of, git, tmp_path):
    """The hub's rule for git pushes: a version tag goes only once its branch records a tombstone."""
    from huggingface_hub import CommitOperationAdd

    import hubver
    from hubver import index

    art = copy_of(adapters[4], "art")
    conn = {"endpoint": hub.url, "token": api.token}
    first = hubver.push(art, repo_id, **conn)
    (art / "n.txt").write_text("2")
    hubver.push(art, repo_id, **conn)
    raw = Path(api.hf_hub_download(repo_id, index.INDEX_PATH, cache_dir=tmp_path / "c")).read_bytes()
    entries, _ = index.parse(raw)
    stone = index.tombstone("v1", at="2026-12-01T00:00:00Z", by="tester", reason="old", commit=first.commit)
    api.create_commit(
        repo_id,
        [CommitOperationAdd(index.INDEX_PATH, index.render([*entries, stone]))],
        commit_message="hubver: prune 1 version(s): v1",
    )
    work = tmp_path / "work"
    git("clone", "-q", url(hub, repo_id, api.token), str(work))
    kept = git("push", "origin", ":refs/tags/v2", cwd=work, check=False)
    assert kept.returncode != 0 and "cannot be deleted" in kept.stderr, kept.stderr
    # Pruned, but a branch points at it (an alias being created): it stays.
    api.create_branch(repo_id, branch="production", revision=first.commit)
    held = git("push", "origin", ":refs/tags/v1", cwd=work, check=False)
    assert held.returncode != 0 and "still in use: the branch 'production'" in held.stderr, held.stderr
    api.create_commit(
        repo_id, [CommitOperationAdd("notes.txt", b"x")], commit_message="moved on", revision="production"
    )
    git("push", "origin", ":refs/tags/v1", cwd=work)
    assert {t.name for t in api.list_repo_refs(repo_id).tags} == {"v2"}
    assert [v.version for v in hubver.list_versions(repo_id, **conn)] == ["v2"]
