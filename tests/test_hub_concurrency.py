"""Concurrent writers to one branch: compare-and-swap on `parentCommit` loses nothing."""

from __future__ import annotations

import subprocess
import threading

from helpers import git_dir
from huggingface_hub import CommitOperationAdd, HfApi
from huggingface_hub.errors import HfHubHTTPError

WRITERS = 8


def test_concurrent_commits_with_parent_commit(hub, hub_token, api, repo_id):
    api.create_repo(repo_id)
    start = threading.Barrier(WRITERS)
    results: dict[int, str] = {}
    refused: list[int] = []
    listings: list[list[str]] = []
    failures: list[BaseException] = []

    def writer(i: int) -> None:
        client = HfApi(endpoint=hub.url, token=hub_token)
        try:
            first = True
            while True:
                branches = client.list_repo_refs(repo_id).branches
                listings.append([b.name for b in branches])
                head = branches[0].target_commit
                if first:
                    # Everyone read the same head before anyone commits: a guaranteed race.
                    start.wait()
                    first = False
                try:
                    info = client.create_commit(
                        repo_id,
                        [CommitOperationAdd(f"writer-{i}.txt", f"written by {i}\n".encode())],
                        commit_message=f"writer {i}",
                        parent_commit=head,
                    )
                except HfHubHTTPError as e:
                    if e.response is not None and e.response.status_code == 412:
                        refused.append(i)
                        continue
                    raise
                results[i] = info.oid
                return
        except BaseException as e:  # reported by the main thread
            failures.append(e)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(WRITERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not failures, failures
    assert sorted(results) == list(range(WRITERS))
    # Only one of the writers of the first round could win; the others were refused, then retried.
    assert len(refused) >= WRITERS - 1
    # Refs read while others commit never show a ref update's temp file as a branch.
    assert all(names == ["main"] for names in listings), listings

    commits = api.list_repo_commits(repo_id)
    # A straight line: initial commit plus exactly one commit per writer, each reported id in it.
    assert len(commits) == WRITERS + 1
    assert {c.commit_id for c in commits[:-1]} == set(results.values())
    assert sorted(c.title for c in commits[:-1]) == sorted(f"writer {i}" for i in range(WRITERS))
    files = set(api.list_repo_files(repo_id))
    assert files == {".gitattributes", *(f"writer-{i}.txt" for i in range(WRITERS))}

    bare = git_dir(hub, repo_id)
    log = subprocess.run(
        ["git", "--git-dir", str(bare), "log", "--format=%H %P", "main"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\n")
    lines = [line.split() for line in log if line]
    assert [line[0] for line in lines] == [c.commit_id for c in commits]
    # Each commit's only parent is the next one down: nobody's commit was overwritten.
    for (_, parent), (below, *_) in zip(lines, lines[1:], strict=False):
        assert parent == below
    fsck = subprocess.run(
        ["git", "--git-dir", str(bare), "fsck", "--full", "--strict"], capture_output=True, text=True
    )
    assert fsck.returncode == 0, fsck.stdout + fsck.stderr
    problems = [
        line
        for line in (fsck.stdout + fsck.stderr).splitlines()
        if not line.startswith(("dangling ", "Checking ", "notice: HEAD"))
    ]
    assert problems == []


def test_half_written_ref_files_are_not_refs(hub, api, repo_id):
    """A writer killed between writing a ref's temp file and renaming it leaves no phantom ref."""
    api.create_repo(repo_id)
    head = api.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=repo_id).oid
    api.create_tag(repo_id, tag="v1")
    bare = git_dir(hub, repo_id)
    # What Refs.update leaves behind when killed before its os.replace.
    (bare / "refs" / "heads" / ".tmp-ref-crashed").write_text(head + "\n")
    (bare / "refs" / "tags" / ".tmp-ref-crashed").write_text(head + "\n")

    refs = api.list_repo_refs(repo_id)
    assert [b.name for b in refs.branches] == ["main"]
    assert [t.name for t in refs.tags] == ["v1"]
    # And the hub keeps working around them.
    api.create_tag(repo_id, tag="v2")
    api.create_branch(repo_id, branch="dev")
    after = api.list_repo_refs(repo_id)
    assert sorted(b.name for b in after.branches) == ["dev", "main"]
    assert sorted(t.name for t in after.tags) == ["v1", "v2"]
