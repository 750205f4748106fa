"""The shape of what hubver writes to the Hub: `hubver.json` and the index lines, as types.

`VersionRecord` is one version's ``hubver.json`` (schema version 1), as `metadata.build`
writes it: every top-level key is always present, `None` where nothing is known. The nested
records say which of their keys are always there (the ``*Required`` bases) and which appear
only when known (``total=False``). `IndexEntry` is one line of ``.hubver/versions.jsonl``
(`index.entry_for`). ``docs/hubver.schema.json`` is the same contract as a JSON Schema, for
readers that are not Python; the test suite validates every ``hubver.json`` it publishes
against it.

These are types only: nothing here checks a document read from the Hub, which anyone with
write access may have edited (readers treat every field as untrusted).
"""

from __future__ import annotations

from typing import Any, Literal, TypeAlias, TypedDict

__all__ = [
    "Accelerator",
    "BaseModelRecord",
    "CIRecord",
    "CodeRecord",
    "DatasetRecord",
    "DistributedRecord",
    "EnvironmentRecord",
    "FileRecord",
    "IndexEntry",
    "IndexLink",
    "JSONValue",
    "LogPoint",
    "ParentRecord",
    "PeftRecord",
    "PullRequestRecord",
    "RunRecord",
    "TrainingRecord",
    "VersionRecord",
]

JSONValue: TypeAlias = "str | int | float | bool | None | list[JSONValue] | dict[str, JSONValue]"
"""Free-form user data: hyperparameters, `extra`, metric values."""


class _BaseModelRequired(TypedDict):
    name: str  # a hub id, or a local path (then `local` is true)
    revision: str | None  # the commit (or tag) of the base on the hub, when known
    source: str  # "adapter_config.json", "config.json", "--base-model" or the callback's


class BaseModelRecord(_BaseModelRequired, total=False):
    local: bool  # `name` is a path on the pushing machine, not a hub id


class PeftRecord(TypedDict, total=False):
    """The adapter_config.json keys listed in `metadata.PEFT_KEYS`, those the adapter has.

    Copied as the file holds them: only the module-name lists are checked before a push, so
    the other values are what peft writes (shown here) unless someone edited the file.
    """

    peft_type: JSONValue  # "LORA"
    r: JSONValue  # an int
    lora_alpha: JSONValue  # an int or float
    lora_dropout: JSONValue  # a float
    target_modules: list[str] | str | None
    task_type: JSONValue  # "CAUSAL_LM", ...
    bias: JSONValue  # "none", "all", "lora_only"
    use_rslora: JSONValue  # a bool
    use_dora: JSONValue  # a bool
    fan_in_fan_out: JSONValue  # a bool
    modules_to_save: list[str] | str | None
    init_lora_weights: JSONValue  # a bool or the name of an initialisation


class LogPoint(TypedDict, total=False):
    """One point of the loss curve (`training.loss_curve`)."""

    step: int
    epoch: float
    loss: float
    eval_loss: float
    learning_rate: float
    grad_norm: float


class DistributedRecord(TypedDict, total=False):
    world_size: int
    distributed_type: str
    parallel_mode: str
    per_device_train_batch_size: int | None
    gradient_accumulation_steps: int
    effective_batch_size: int
    sharding: Literal["fsdp", "deepspeed"]


class _RunRequired(TypedDict):
    id: str


class RunRecord(_RunRequired, total=False):
    resumed_from: str  # the checkpoint this run resumed from
    this_run: str  # the id of the resumed process, when `id` is the original run's
    recovered: bool  # published after a crash, from what the outbox kept


class _TrainingRequired(TypedDict):
    epoch: float | None
    global_step: int | None
    hyperparameters: dict[str, JSONValue]
    log_history: list[LogPoint]


class TrainingRecord(_TrainingRequired, total=False):
    """Recorded by `HubverCallback` only: the extras of `metadata.TRAINING_EXTRAS`."""

    distributed: DistributedRecord
    run: RunRecord
    metric_steps: dict[str, int]  # metric name -> the step it was measured at
    last_eval: dict[str, Any]  # the latest evaluation before this step ({"step": n, metrics...})


class DatasetRecord(TypedDict, total=False):
    name: str
    revision: str | None
    num_samples: int
    fingerprint: str  # "sha256:<hex>" of a local file, "datasets:<fingerprint>" of a Dataset
    size: int  # bytes, of a local file


class CodeRecord(TypedDict):
    """The git checkout the push ran in (`provenance.code_provenance`)."""

    repo_root: str | None  # the checkout's directory name, never its full path
    commit: str
    branch: str | None
    dirty: bool | None
    diff_sha256: str | None
    remote: str | None  # without credentials


class PullRequestRecord(TypedDict):
    number: int | None
    title: str | None
    url: str | None
    merged: bool | None
    merge_commit: str | None


class CIRecord(TypedDict):
    """The GitHub Actions run that pushed (`ci.github_context`)."""

    provider: Literal["github-actions"]
    repository: str | None
    commit: str | None
    ref: str | None
    event: str | None
    workflow: str | None
    job: str | None
    run_id: str | None
    run_attempt: str | None
    run_url: str | None
    actor: str | None
    pull_request: PullRequestRecord | None
    idempotency_key: str


class Accelerator(TypedDict, total=False):
    type: Literal["cpu", "cuda", "mps", "unknown"]
    count: int
    name: str
    cuda: str | None
    detected_by: str


class EnvironmentRecord(TypedDict):
    python: str
    platform: str
    machine: str
    packages: dict[str, str]  # distribution name -> version, of those installed
    accelerator: Accelerator


class _FileRequired(TypedDict):
    path: str  # relative, "/"-separated
    size: int
    sha256: str


class FileRecord(_FileRequired, total=False):
    git: str  # the git blob id, for files small enough to hash (since #11)


class ParentRecord(TypedDict):
    version: str
    commit: str | None  # the parent's tag's commit; None when that tag was missing at push time


class VersionRecord(TypedDict):
    """``hubver.json``: everything recorded about one version (`metadata.build`)."""

    schema_version: Literal[1]
    version: str
    created_at: str  # UTC, to the second: "2026-01-31T12:00:00Z"
    created_by: str
    message: str | None
    kind: Literal["adapter", "model"]
    base_model: BaseModelRecord | None
    peft: PeftRecord | None
    lora_ranks: dict[str, int] | None  # module -> rank, read from the weights' shapes
    training: TrainingRecord
    metrics: dict[str, JSONValue]
    dataset: DatasetRecord | None
    code: CodeRecord | None
    ci: CIRecord | None
    environment: EnvironmentRecord
    files: list[FileRecord]  # sorted by path
    digest: str  # `artifact.manifest_digest(files)`
    parent: ParentRecord | None  # the version this one follows on its branch
    extra: dict[str, JSONValue]


class IndexLink(TypedDict):
    """The entry before this one on its branch: what makes the index a hash chain."""

    version: str
    hash: str  # `trust.entry_hash` of that entry
    commit: str | None  # the commit its tag pointed at


class _IndexEntryRequired(TypedDict):
    version: str
    created_at: str
    created_by: str | None
    message: str | None
    kind: str | None
    base_model: str | None
    lora_rank: int | None
    metrics: dict[str, int | float]  # the numeric metrics only, at most `index.MAX_INDEX_METRICS`
    files: int
    size: int
    digest: str | None
    push_id: str
    ci_key: str | None
    parent: str | None


class IndexEntry(_IndexEntryRequired, total=False):
    """One line of ``.hubver/versions.jsonl`` (`index.entry_for`, then `push`): what `hubver list`
    shows, plus the links that let readers check it. Lines written before #11 lack the optional keys."""

    branch: str
    metadata_blob: str  # the git blob id of this version's hubver.json
    charts: dict[str, str]  # the card's pictures in the commit: path -> git blob id ({} for none; #15)
    prev: IndexLink  # absent on the first entry
