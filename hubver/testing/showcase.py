"""A repository worth looking at: a few versions of tiny LoRA adapters, pushed with hubver.

The browser tests (tests/test_web_browser.py) and the README's screenshots
(docs/screenshots.py) both show it. Each version has its own metrics, hyperparameters and a
loss curve in its `trainer_state.json` log history; an alias is promoted twice and another
once, so the pages have aliases, markers on the metric chart and an alias timeline to draw.

`SHOWCASE` is the plan; `push_showcase()` carries it out against any hub and returns it, so
a caller checks what the pages show against the same numbers that were pushed.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["SHOWCASE", "Showcase", "ShowcaseVersion", "push_showcase"]


@dataclass(frozen=True)
class ShowcaseVersion:
    version: str
    rank: int
    seed: int  # of the random adapter; ranks 4 and 8 use the seeds of tests/conftest.py's `adapters`
    message: str
    metrics: dict[str, float]
    params: dict[str, Any]
    losses: tuple[float, ...]  # the loss logged every 10 steps (trainer_state.json's log history)
    extra_files: dict[str, str] = field(default_factory=dict)

    def log_history(self) -> list[dict[str, Any]]:
        return [
            {"step": 10 * (i + 1), "epoch": round((i + 1) / len(self.losses), 4), "loss": loss}
            for i, loss in enumerate(self.losses)
        ]


@dataclass(frozen=True)
class Showcase:
    repo: str
    versions: tuple[ShowcaseVersion, ...]
    promotions: tuple[tuple[str, str], ...]  # (alias, version), in the order they were made

    def version(self, version: str) -> ShowcaseVersion:
        return next(v for v in self.versions if v.version == version)

    def aliases_of(self, version: str) -> list[str]:
        """The aliases that point at `version` after every promotion."""
        final: dict[str, str] = {}
        for alias, target in self.promotions:
            final[alias] = target
        return sorted(a for a, v in final.items() if v == version)


def _curve(start: float, end: float, n: int = 12) -> tuple[float, ...]:
    return tuple(round(start + (end - start) * (i / (n - 1)) ** 0.5, 4) for i in range(n))


SHOWCASE = Showcase(
    repo="",
    versions=(
        ShowcaseVersion(
            "v1",
            4,
            4,
            "baseline: rank 4, lr 2e-4",
            {"eval_loss": 2.0, "accuracy": 0.5},
            {"learning_rate": 0.0002, "lora_r": 4, "epochs": 1},
            _curve(3.2, 2.1),
        ),
        ShowcaseVersion(
            "v2",
            8,
            8,
            "rank 8: more capacity",
            {"eval_loss": 1.5, "accuracy": 0.625},
            {"learning_rate": 0.0002, "lora_r": 8, "epochs": 2},
            _curve(3.1, 1.6),
            {"notes.txt": "rank 8 run: eval on the held-out split\n"},
        ),
        ShowcaseVersion(
            "v3",
            8,
            3,
            "lower lr, longer schedule",
            {"eval_loss": 1.25, "accuracy": 0.75},
            {"learning_rate": 0.0001, "lora_r": 8, "epochs": 3},
            _curve(3.0, 1.3),
            {"notes.txt": "rank 8, lr 1e-4, three epochs\n"},
        ),
        ShowcaseVersion(
            "v4",
            16,
            16,
            "rank 16 overfits",
            {"eval_loss": 1.75, "accuracy": 0.6875},
            {"learning_rate": 0.0001, "lora_r": 16, "epochs": 3},
            _curve(3.0, 0.9),
        ),
    ),
    promotions=(("production", "v1"), ("staging", "v2"), ("production", "v3")),
)


def push_showcase(
    repo: str,
    work: str | Path,
    *,
    endpoint: str,
    token: str,
    base: str | Path | None = None,
    adapters: dict[tuple[int, int], Path] | None = None,
    base_model: str | None = None,
    before_push: Callable[[ShowcaseVersion], None] | None = None,
    plan: Showcase = SHOWCASE,
) -> Showcase:
    """Push `plan`'s versions to `repo` and make its promotions; return the plan with `repo` set.

    `work` receives the tiny base model (unless `base` is given), the adapters (unless
    `adapters` maps (rank, seed) to one already built) and one directory per version.
    `base_model` (a hub id) is recorded as the adapters' base instead of `base`'s local path;
    `before_push(version)` runs before each push (e.g. to make the code commit it records).
    Needs the ``train`` extra (the adapters are real PEFT adapters).
    """
    import hubver

    from .tinymodel import build_lora_adapter, build_tiny_base

    work = Path(work)
    base_dir = Path(base) if base else build_tiny_base(work / "base")
    built = dict(adapters or {})
    for v in plan.versions:
        src = built.get((v.rank, v.seed))
        if src is None:
            src = built[(v.rank, v.seed)] = build_lora_adapter(
                base_dir, work / f"adapter-r{v.rank}-s{v.seed}", r=v.rank, seed=v.seed
            )
        run = work / f"run-{v.version}"
        shutil.copytree(src, run)
        state = {"global_step": 10 * len(v.losses), "epoch": 1.0, "log_history": v.log_history()}
        (run / "trainer_state.json").write_text(json.dumps(state), "utf-8")
        for name, text in v.extra_files.items():
            (run / name).write_text(text, "utf-8")
        if before_push is not None:
            before_push(v)
        result = hubver.push(
            run,
            repo,
            version=v.version,
            message=v.message,
            metrics=v.metrics,
            params=v.params,
            base_model=base_model,
            endpoint=endpoint,
            token=token,
        )
        if result.version != v.version or not result.created:
            raise RuntimeError(f"push of {v.version} to {repo} made {result.version} ({result.reason})")
    for alias, version in plan.promotions:
        hubver.promote(repo, version, alias, endpoint=endpoint, token=token)
    return Showcase(repo, plan.versions, plan.promotions)
