"""`PushRequest`: the options of one push, as one typed value that survives a trip through JSON.

`hubver.push(...)` builds one from its keyword arguments; `HubverCallback` writes one into each
snapshot's job.json (`"push"`), and the upload process (or `hubver push --pending`) reads it
back. JSON carries no Paths or tuples: they are written as strings and lists and come back
as the types below, so what the trainer asked for is what the upload process publishes.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import MetadataError


@dataclass(frozen=True)
class PushRequest:
    """What to publish a directory as: every option of `hubver.push` except where to."""

    version: str | None = None
    scheme: str = "counter"
    bump: str | None = None
    message: str | None = None
    private: bool = False
    metrics: dict[str, Any] | None = None
    metrics_file: str | None = None
    params: dict[str, Any] | None = None
    dataset: str | dict[str, Any] | None = None
    num_samples: int | None = None
    base_model: str | None = None
    template: str | None = None
    excludes: tuple[str, ...] = field(default_factory=tuple)
    training: dict[str, Any] | None = None
    extra: dict[str, Any] | None = None
    dry_run: bool = False
    push_id: str | None = None
    chart_metric: str | None = None  # the metric the card charts across versions (card_charts)

    def __post_init__(self) -> None:
        # Paths as strings and excludes as a tuple, whatever the caller passed: one form for JSON.
        for name in ("metrics_file", "template"):
            value = getattr(self, name)
            if isinstance(value, Path):
                object.__setattr__(self, name, str(value))
        if not isinstance(self.excludes, tuple):
            object.__setattr__(self, "excludes", tuple(self.excludes))

    def to_json(self) -> dict[str, Any]:
        """A JSON object of the options that differ from their defaults (`from_json` gives back an
        equal PushRequest). Leaving defaults out keeps a job.json readable by earlier hubvers, whose
        callback wrote only the options it set, and whose push takes `push_id` from the job itself."""
        data = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
            if value != default:
                data[f.name] = list(value) if isinstance(value, tuple) else value
        return data

    @classmethod
    def from_json(cls, data: Any, what: str = "push options") -> PushRequest:
        """A PushRequest from `to_json()`'s output, or from the loose push keyword arguments that
        job.json files of earlier hubver versions hold (any subset of the fields).

        Raises MetadataError naming `what` for anything else: not an object, an unknown option.
        """
        if not isinstance(data, dict):
            raise MetadataError(f"The {what} are not a JSON object.")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(str(k) for k in data if k not in known)
        if unknown:
            raise MetadataError(
                f"The {what} hold options hubver.push does not take: {', '.join(unknown)}.",
                f"Known options: {', '.join(sorted(known))}.",
            )
        values = dict(data)
        if values.get("excludes") is not None:
            values["excludes"] = tuple(values["excludes"])
        else:
            values.pop("excludes", None)
        return cls(**values)

    def replace(self, **changes: Any) -> PushRequest:
        return dataclasses.replace(self, **changes)
