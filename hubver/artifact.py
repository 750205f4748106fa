"""The directory a training run wrote: which files to publish, their hashes, and what they are.

A PEFT adapter is recognised by `adapter_config.json` plus adapter weights; a full model by
`config.json` plus weights. Files that are training state rather than the model
(`training_args.bin`, optimizer and RNG state, checkpoint folders) are left out:
`training_args.bin` is a pickle that may hold tokens, and hubver never loads it.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import hashlib
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ArtifactError
from .hashcache import open_cache
from .hashing import sha256_files
from .jsonio import load_json

SKIP_DIRS = {".git", "__pycache__", ".ipynb_checkpoints", "runs", "wandb", ".hubver", ".cache"}
SKIP_DIR_PATTERNS = ("checkpoint-*",)
SKIP_FILES = {
    "training_args.bin": "a pickle of the training arguments (may hold tokens; hyperparameters go in hubver.json)",
    "optimizer.pt": "optimizer state",
    "scheduler.pt": "scheduler state",
    "scaler.pt": "grad-scaler state",
    "trainer_state.json": "read for metrics, recorded in hubver.json",
    "hubver.json": "written by hubver",
    "README.md": "the model card is generated (your text outside hubver's section is kept)",
    ".gitattributes": "managed by the Hub",
    ".DS_Store": "not part of the model",
}
SKIP_FILE_PATTERNS = ("rng_state*.pth",)
ADAPTER_WEIGHTS = ("adapter_model.safetensors", "adapter_model.bin")
MODEL_WEIGHTS = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
    "tf_model.h5",
    "flax_model.msgpack",
)
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle")
# What the Hub refuses in a commit, checked before anything is uploaded.
MAX_PATH_BYTES = 1024
# hubver's own paths in the repo: a file there would clash with the version index.
RESERVED_ROOT_NAMES = {".hubver"}


@dataclass(frozen=True)
class ArtifactFile:
    path: str  # posix path inside the artifact, as it will be in the repo
    local: Path  # the file to read (a symlink's target)
    size: int
    sha256: str

    def manifest_entry(self) -> dict[str, Any]:
        return {"path": self.path, "size": self.size, "sha256": self.sha256}


@dataclass
class Artifact:
    root: Path
    kind: str  # "adapter" | "model"
    files: list[ArtifactFile]
    skipped: list[tuple[str, str]] = field(default_factory=list)
    adapter_config: dict[str, Any] | None = None
    config: dict[str, Any] | None = None
    trainer_state: dict[str, Any] | None = None

    @property
    def paths(self) -> set[str]:
        return {f.path for f in self.files}

    @property
    def manifest(self) -> list[dict[str, Any]]:
        return [f.manifest_entry() for f in self.files]

    @property
    def total_size(self) -> int:
        return sum(f.size for f in self.files)

    @property
    def weight_files(self) -> list[ArtifactFile]:
        return [f for f in self.files if f.path.endswith(".safetensors")]

    @property
    def pickle_only(self) -> bool:
        """True when the weights exist only in pickle formats (unsafe to load)."""
        has_pickle = any(f.path.endswith(PICKLE_SUFFIXES) for f in self.files)
        return has_pickle and not self.weight_files


def manifest_digest(manifest: list[dict[str, Any]]) -> str:
    """One hash for a set of files: equal digests mean byte-identical artifacts."""
    h = hashlib.sha256()
    for entry in sorted(manifest, key=lambda e: e["path"]):
        h.update(f"{entry['path']}\0{entry['sha256']}\0{entry['size']}\n".encode())
    return h.hexdigest()


def _skip_reason(rel: str, name: str, excludes: tuple[str, ...]) -> str | None:
    for pattern in excludes:
        if fnmatch.fnmatch(rel, pattern) or fnmatch.fnmatch(name, pattern):
            return f"excluded by {pattern!r}"
    if name == ".git":
        return "a git link file (of a submodule or worktree), not part of the model"
    if "/" in rel:
        return None
    if name in SKIP_FILES:
        return SKIP_FILES[name]
    if any(fnmatch.fnmatch(name, p) for p in SKIP_FILE_PATTERNS):
        return "training state"
    return None


def _check_name(rel: str, root: Path) -> None:
    try:
        rel.encode("utf-8")
    except UnicodeEncodeError:
        raise ArtifactError(
            f"{root / rel!r} has a file name that is not valid UTF-8; the Hub cannot store it.",
            "Rename the file.",
        ) from None
    if "\\" in rel or any(ord(c) < 0x20 or ord(c) == 0x7F for c in rel):
        raise ArtifactError(
            f"The file name {rel!r} in {root} contains a backslash or a control character.",
            "Rename the file.",
        )


def _check_hub_name(rel: str, root: Path) -> None:
    """What the Hub would refuse in a commit, found before anything is uploaded."""
    size = len(rel.encode("utf-8"))
    if size > MAX_PATH_BYTES:
        raise ArtifactError(
            f"The path {rel[:60]!r}... in {root} is {size} bytes long; the Hub stores paths of at most "
            f"{MAX_PATH_BYTES} bytes.",
            "Rename the file or its folders, or leave it out with --exclude.",
        )
    if rel.split("/")[-1].lower().rstrip(". ") in (".git", ".gitmodules"):
        raise ArtifactError(
            f"{root / rel} is named like git's own files ('.git' or '.gitmodules'); the Hub refuses them.",
            f"Rename it, or leave it out with --exclude {rel.split('/')[-1]!r}.",
        )


def scan(root: Path | str, *, excludes: tuple[str, ...] = (), hash_files: bool = True) -> Artifact:
    """Inspect the directory to publish. Raises ArtifactError saying what is wrong and how to fix it."""
    root = Path(root).expanduser()
    if not root.exists():
        raise ArtifactError(
            f"No such directory: {root}.",
            "Pass the directory that trainer.save_model() / save_pretrained() wrote.",
        )
    if not root.is_dir():
        raise ArtifactError(
            f"{root} is a file, not a directory.", "Pass the directory that holds the model files."
        )
    real_root = root.resolve()
    files: list[ArtifactFile] = []
    skipped: list[tuple[str, str]] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        here = Path(dirpath)
        rel_dir = here.relative_to(root).as_posix()
        rel_dir = "" if rel_dir == "." else rel_dir
        keep = []
        for d in sorted(dirnames):
            rel = f"{rel_dir}/{d}" if rel_dir else d
            _check_name(rel, root)
            if d in SKIP_DIRS or (not rel_dir and any(fnmatch.fnmatch(d, p) for p in SKIP_DIR_PATTERNS)):
                skipped.append((rel + "/", "training checkpoints and tool folders are not published"))
                continue
            _check_hub_name(rel, root)
            if (here / d).is_symlink():
                _resolve_link(here / d, real_root, rel)
                skipped.append((rel + "/", "a symlink to a directory (its files are not followed)"))
                continue
            keep.append(d)
        dirnames[:] = keep
        for name in sorted(filenames):
            rel = f"{rel_dir}/{name}" if rel_dir else name
            _check_name(rel, root)
            full = here / name
            reason = _skip_reason(rel, name, excludes)
            if reason:
                skipped.append((rel, reason))
                continue
            _check_hub_name(rel, root)
            if rel in RESERVED_ROOT_NAMES:
                raise ArtifactError(
                    f"{full} is a file named {rel!r}; hubver keeps its version index in the folder "
                    f"{rel}/ of the repository.",
                    f"Rename it, or leave it out with --exclude {rel}.",
                )
            target = _resolve_link(full, real_root, rel) if full.is_symlink() else full
            try:
                st = target.stat()
            except OSError as e:
                raise ArtifactError(f"Cannot read {full}: {e.strerror}.") from None
            if not stat.S_ISREG(st.st_mode):
                raise ArtifactError(
                    f"{full} is not a regular file.", "Remove it, or exclude it with --exclude."
                )
            if not os.access(target, os.R_OK):
                raise ArtifactError(
                    f"Cannot read {full}: permission denied.", f"Fix its permissions (chmod u+r {full})."
                )
            files.append(ArtifactFile(rel, target, st.st_size, ""))
    if not files:
        raise ArtifactError(
            f"{root} has no files to publish."
            if not skipped
            else f"{root} has nothing to publish besides {skipped[0][0]}.",
            "Point hubver at the directory that trainer.save_model() / save_pretrained() wrote.",
        )
    if hash_files:
        files = _hashed(root, files)
    return _classify(root, files, skipped)


def hashed(artifact: Artifact) -> Artifact:
    """`artifact` (scanned with hash_files=False) with every file's sha256."""
    return dataclasses.replace(artifact, files=_hashed(artifact.root, artifact.files))


def _hashed(root: Path, files: list[ArtifactFile]) -> list[ArtifactFile]:
    """The files with their sha256: hashed in parallel, unchanged ones taken from the hash cache."""
    cache = open_cache()
    try:
        digests = sha256_files([f.local for f in files], cache.sha256 if cache else None)
    except OSError as e:
        raise ArtifactError(f"Cannot read a file in {root}: {e.strerror} ({e.filename}).") from None
    if cache:
        cache.save()
    return [dataclasses.replace(f, sha256=d) for f, d in zip(files, digests, strict=True)]


def _resolve_link(link: Path, real_root: Path, rel: str) -> Path:
    try:
        target = link.resolve(strict=True)
    except (OSError, RuntimeError):
        raise ArtifactError(f"{link} is a broken symlink.", "Fix or remove the link.") from None
    if target != real_root and real_root not in target.parents:
        raise ArtifactError(
            f"{rel} is a symlink to {target}, outside {real_root}; hubver only publishes files inside the directory.",
            "Copy the file into the directory, or remove the link.",
        )
    return target


def _classify(root: Path, files: list[ArtifactFile], skipped: list[tuple[str, str]]) -> Artifact:
    top = {f.path for f in files}
    art = Artifact(root=root, kind="", files=files, skipped=skipped)
    if (root / "trainer_state.json").is_file():
        art.trainer_state = load_json(root / "trainer_state.json")
    if "adapter_config.json" in top:
        art.adapter_config = load_json(root / "adapter_config.json")
        from .metadata import check_adapter_config

        check_adapter_config(art.adapter_config, str(root / "adapter_config.json"))
        if not any(w in top for w in ADAPTER_WEIGHTS):
            raise ArtifactError(
                f"{root} has adapter_config.json but no adapter weights (adapter_model.safetensors).",
                "Save the adapter with model.save_pretrained(dir) or trainer.save_model(dir).",
            )
        art.kind = "adapter"
    elif "config.json" in top and (
        any(w in top for w in MODEL_WEIGHTS) or any(p.endswith(".safetensors") for p in top)
    ):
        art.config = load_json(root / "config.json")
        art.kind = "model"
    else:
        raise ArtifactError(
            f"No model or adapter files in {root}.",
            "Expected adapter_config.json + adapter_model.safetensors (a PEFT adapter) or config.json + "
            "model.safetensors (a transformers model): pass the directory trainer.save_model() wrote.",
        )
    if "config.json" in top and art.config is None:
        art.config = load_json(root / "config.json")
    return art
