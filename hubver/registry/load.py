"""`hubver.load`: a version as a ready model, with the safe defaults a registry should have.

For an adapter, the base model is loaded at the revision recorded when the version was
pushed, then the adapter from the version's own commit. Everything is read from local
snapshots in the HF cache, so the global HF endpoint does not matter. Weights load with
safetensors only, unless the caller allows pickles; `trust_remote_code` is never turned on
by hubver; and without a `device_map` the whole model sits on one device.
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path
from typing import Any

from .. import layout
from ..artifact import PICKLE_SUFFIXES
from ..client import HubClient
from ..errors import HubverError, IntegrityError, LoadError
from ..ids import is_hub_id
from ..jsonio import load_json
from ..lockfile import Lock, LockedVersion
from ..settings import Settings
from . import Registry, connect
from .browse import selected_name
from .checkout import check_snapshot, fetch_checked

log = logging.getLogger("hubver")

TASK_CLASSES = {
    "CAUSAL_LM": "AutoModelForCausalLM",
    "SEQ_CLS": "AutoModelForSequenceClassification",
    "SEQ_2_SEQ_LM": "AutoModelForSeq2SeqLM",
    "TOKEN_CLS": "AutoModelForTokenClassification",
    "QUESTION_ANS": "AutoModelForQuestionAnswering",
    "FEATURE_EXTRACTION": "AutoModel",
}


def _check_weights(directory: Path, what: str, allow_pickle: bool) -> None:
    files = [p.name for p in directory.rglob("*") if p.is_file()]
    has_safe = any(name.endswith(".safetensors") for name in files)
    pickles = sorted(name for name in files if name.endswith(PICKLE_SUFFIXES) and name != "training_args.bin")
    if pickles and not has_safe and not allow_pickle:
        raise LoadError(
            f"{what} has only pickle weights ({', '.join(pickles[:3])}). Loading a pickle can run arbitrary code, "
            "so hubver refuses it by default.",
            "Re-save the model with safetensors (save_pretrained does by default), or pass allow_pickle=True "
            "if you trust its author.",
        )


def _model_class(model_class: Any, default: str | None = None) -> Any:
    """A transformers Auto class from a class, a class name, or the task's default."""
    if model_class is not None and not isinstance(model_class, str):
        return model_class
    import transformers

    return getattr(transformers, model_class or default or "AutoModelForCausalLM")


def load(
    repo: str | None = None,
    version: str = "",
    *,
    base_model: Any = None,
    model_class: Any = None,
    device: str | None = None,
    allow_pickle: bool = False,
    cache_dir: str | Path | None = None,
    unchecked: bool = False,
    endpoint: str | None = None,
    local: bool = False,
    token: str | None = None,
    settings: Settings | None = None,
    client: HubClient | None = None,
    hub: HubClient | None = None,
    lock: str | Path | Lock | None = None,
    **kwargs: Any,
) -> Any:
    """Load `version` of `repo` as a model (in eval mode).

    `lock` (a lockfile written by `hubver lock`, or a `Lock`) loads exactly what it pins: the
    repo and version come from it (`version` picks one of several), every file is checked
    against it, and the base model is read at the commit it pins. Offline (HF_HUB_OFFLINE=1)
    the locked commit is read from the cache by its sha.

    For an adapter: the base named in its metadata (at its recorded revision; override with
    `base_model=` a path, hub id or loaded model) plus the adapter, via peft. Other keyword
    arguments (`device_map`, `torch_dtype`/`dtype`, ...) go to `from_pretrained`.
    `device="cuda"` moves the whole result to one device afterwards.

    >>> model = hubver.load("me/my-adapter", "v3")  # doctest: +SKIP
    """
    if lock is not None:
        from ..lockfile import read_lock

        pinned = lock if isinstance(lock, Lock) else read_lock(lock)
        repo = repo or pinned.pick(version or None, f"the lockfile {lock}").repo
    with connect(
        repo, endpoint=endpoint, local=local, token=token, settings=settings, client=client, hub=hub
    ) as registry:
        return registry.load(
            version,
            lock=lock,
            base_model=base_model,
            model_class=model_class,
            device=device,
            allow_pickle=allow_pickle,
            cache_dir=cache_dir,
            unchecked=unchecked,
            **kwargs,
        )


def load_from(
    registry: Registry,
    version: str,
    *,
    base_model: Any = None,
    model_class: Any = None,
    device: str | None = None,
    allow_pickle: bool = False,
    cache_dir: str | Path | None = None,
    unchecked: bool = False,
    lock: str | Path | Lock | None = None,
    **kwargs: Any,
) -> Any:
    """`Registry.load`: see `load`."""
    if not allow_pickle:
        kwargs.setdefault("use_safetensors", True)
    # Unset, transformers asks on stdin whether to run the repo's code (and runs it on "y").
    kwargs.setdefault("trust_remote_code", False)
    offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes")
    client, r = registry.client, registry.repo
    locked: LockedVersion | None = None
    if lock is not None:
        from ..lockfile import cache_snapshot, refuse_unless_matches
        from . import _locked
        from .lock import check_pinned, same_repo

        locked, source = _locked(lock, version)
        version = locked.version
        same_repo(registry, locked)
        if not offline:
            check_pinned(registry, locked)
    else:
        version = selected_name(registry, version, offline=offline)
    if offline and locked is not None:
        snapshot = cache_snapshot(r, locked.commit, cache_dir)
        if not snapshot.is_dir():
            raise LoadError(
                f"{r} {version} (locked at {locked.commit[:12]}) is not in the local cache, and "
                "HF_HUB_OFFLINE is set.",
                f"Run `hubver checkout --lock FILE {version}` while online first.",
            )
    elif offline:
        snapshot = _offline_snapshot(r, version, cache_dir)
        log.warning("%s of %s: checked against the local cache only (HF_HUB_OFFLINE is set).", version, r)
    else:
        cache = Path(cache_dir) if cache_dir else None
        snapshot, _ = fetch_checked(client, r, registry.branch, version, cache, unchecked=unchecked)
    if locked is not None:
        if snapshot.name != locked.commit:
            raise IntegrityError(
                f"{r} {version} was read at {snapshot.name[:12]}, but {source} pins {locked.commit[:12]}.",
                "Regenerate the lock with `hubver lock` if the new version is intended.",
            )
        refuse_unless_matches(snapshot, locked, source)
    check_snapshot(snapshot, r, version)
    meta_path = snapshot / layout.METADATA_PATH
    meta = load_json(meta_path) if meta_path.exists() else {}
    is_adapter = (snapshot / "adapter_config.json").exists()
    _check_weights(snapshot, f"Version {version} of {r}", allow_pickle)
    base_dir = None
    if is_adapter and base_model is None:
        pinned = locked.base_model.commit if locked and locked.base_model else None
        base_dir = _base_snapshot(client, meta, snapshot, cache_dir, offline, pinned)
        _check_weights(base_dir, f"The base model {base_dir}", allow_pickle)
    try:
        if not is_adapter:
            return _finish(_model_class(model_class).from_pretrained(str(snapshot), **kwargs), device)
        return _finish(_load_adapter(snapshot, meta, base_model, base_dir, model_class, kwargs), device)
    except ValueError as e:
        if "trust_remote_code" not in str(e):
            raise
        raise LoadError(
            f"Version {version} of {r} needs code from its repository to load (auto_map in its config), "
            "and hubver never runs a repository's code.",
            "If you trust its author, load it with transformers and trust_remote_code=True yourself.",
        ) from None


def _offline_snapshot(repo: str, version: str, cache_dir: str | Path | None) -> Path:
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(repo, revision=version, cache_dir=cache_dir, local_files_only=True))
    except Exception:
        raise LoadError(
            f"Version {version} of {repo} is not in the local cache, and HF_HUB_OFFLINE is set.",
            f"Run `hubver checkout {version} --repo {repo}` while online first.",
        ) from None


def _base_snapshot(
    client: HubClient,
    meta: dict[str, Any],
    snapshot: Path,
    cache_dir: str | Path | None,
    offline: bool,
    pinned: str | None = None,
) -> Path:
    base = meta.get("base_model") or {}
    adapter_cfg = load_json(snapshot / "adapter_config.json")
    name = base.get("name") or adapter_cfg.get("base_model_name_or_path")
    revision = pinned or base.get("revision") or adapter_cfg.get("revision")
    if not name:
        raise LoadError("The adapter does not name its base model.", "Pass base_model= (a path or a hub id).")
    local_path = Path(name).expanduser()
    if local_path.is_dir():
        return local_path
    if not is_hub_id(name):
        raise LoadError(
            f"The base model was recorded as the local path {name}, which is not on this machine.",
            "Pass base_model= with a path or hub id of the same model.",
        )
    if offline:
        return _offline_snapshot(name, revision or "main", cache_dir)
    try:
        return client.snapshot(
            name, revision or "main", cache_dir=Path(cache_dir) if cache_dir else None, quiet=True
        )
    except HubverError as e:
        raise LoadError(
            f"Cannot fetch the base model {name}@{revision or 'main'} from {client.endpoint}: {e.message}",
            "Pass base_model= with a local path or another hub id.",
        ) from None


def _load_adapter(
    snapshot: Path,
    meta: dict[str, Any],
    base_model: Any,
    base_dir: Path | None,
    model_class: Any,
    kwargs: dict[str, Any],
) -> Any:
    from peft import PeftModel

    task = (meta.get("peft") or {}).get("task_type") or load_json(snapshot / "adapter_config.json").get(
        "task_type"
    )
    cls = _model_class(model_class, TASK_CLASSES.get(task or ""))
    if base_model is None or isinstance(base_model, (str, Path)):
        source = str(base_model) if base_model is not None else str(base_dir)
        base = cls.from_pretrained(source, **kwargs)
    else:
        base = base_model
    peft_kwargs = {k: kwargs[k] for k in ("torch_device",) if k in kwargs}
    with warnings.catch_warnings():
        # peft 0.21 reads a transformers attribute that transformers 5 deprecates: noise the
        # caller cannot act on. Only this exact message is silenced.
        warnings.filterwarnings(
            "ignore", message="`is_gradient_checkpointing` is deprecated", category=FutureWarning
        )
        return PeftModel.from_pretrained(base, str(snapshot), is_trainable=False, **peft_kwargs)


def _finish(model: Any, device: str | None) -> Any:
    if device is not None:
        model = model.to(device)
    model.eval()
    return model
