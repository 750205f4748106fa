"""hubver's benchmarks: every case against an embedded hub on 127.0.0.1, one entry point.

    make bench                                   # full sizes (~5 min), writes benchmarks/results.json
    .venv/bin/python benchmarks/run.py --smoke   # tiny sizes, 1 repetition, under a minute
    .venv/bin/python benchmarks/run.py --only list,latency --keep

The hub runs as a `hubver hub serve` subprocess, so its memory is measured apart from the
clients'. Everything happens under a temporary directory that is deleted at the end (unless
--keep). The cases and the latest figures are described in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from harness import HubProcess, Row, child_env, fmt_value, machine, top_frames  # noqa: E402

# Read by huggingface_hub at import time: set before anything imports it.
BENCH_ENV = {
    "HF_HUB_DISABLE_XET": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "HF_DATASETS_DISABLE_PROGRESS_BARS": "1",
    "DISABLE_SAFETENSORS_CONVERSION": "1",
    "TOKENIZERS_PARALLELISM": "false",
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Run hubver's benchmarks against an embedded hub.")
    p.add_argument("--smoke", action="store_true", help="Tiny sizes, one repetition, no verdicts.")
    p.add_argument("--only", help="Comma-separated case names (default: all).")
    p.add_argument(
        "--output",
        type=Path,
        help="Where to write the JSON results (default: benchmarks/results.json; none with --smoke).",
    )
    p.add_argument("--work-dir", type=Path, help="Parent of the temporary work directory.")
    p.add_argument("--keep", action="store_true", help="Keep the work directory (hub data, logs).")
    p.add_argument("--strict", action="store_true", help="Exit 1 when a target is missed.")
    p.add_argument("--markdown", action="store_true", help="Also print the table as Markdown.")
    p.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="Write a pyinstrument profile of each case's client side to DIR (and, with --py-spy, the server's).",
    )
    p.add_argument(
        "--py-spy",
        dest="py_spy",
        metavar="PATH",
        help="With --profile: run the hub under this py-spy binary and write DIR/server.txt (+ a summary).",
    )
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="SIZE=VALUE",
        help="Override one size or repetition count (see Sizes in cases.py), e.g. --set versions=100.",
    )
    return p.parse_args(argv)


def make_project(root: Path, env: dict[str, str]) -> Path:
    """A small git checkout to push from: hubver records code provenance, as in a real project."""
    root.mkdir()
    (root / "train.py").write_text("# the training script of this benchmark project\n")
    git = [
        "git",
        "-c",
        "user.name=bench",
        "-c",
        "user.email=bench@localhost",
        "-c",
        "init.defaultBranch=main",
    ]
    for args in (["init", "-q"], ["add", "train.py"], ["commit", "-q", "-m", "init"]):
        subprocess.run([*git, *args], cwd=root, env=env, check=True, capture_output=True)
    return root


def build_fixtures(out: Path, env: dict[str, str], cwd: Path) -> dict[str, str]:
    proc = subprocess.run(
        [sys.executable, str(HERE / "worker.py"), "fixtures", str(out)],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"building the fixtures failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run_case(case: Any, bench: Any, profile_to: Path | None) -> list[Row]:
    if not profile_to:
        return case(bench)
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.001)
    profiler.start()
    try:
        return case(bench)
    finally:
        profiler.stop()
        profile_to.write_text(profiler.output_text(unicode=False, color=False))


def with_overrides(sizes: Any, overrides: list[str]) -> Any:
    changes: dict[str, Any] = {}
    for item in overrides:
        key, _, value = item.partition("=")
        if not hasattr(sizes, key):
            raise SystemExit(f"--set {item}: no size named {key!r}")
        current = getattr(sizes, key)
        changes[key] = json.loads(value) if not isinstance(current, str) else value
    return dataclasses.replace(sizes, **changes)


def status(row: Row) -> str:
    return {True: "PASS", False: "MISS", None: "-"}[row.passed]


def text_table(rows: list[Row]) -> str:
    headers = ["STATUS", "CASE", "MEASURED (median [min..max])", "BASELINE", "RESULT", "TARGET"]
    cells = [
        [
            status(r),
            r.what,
            fmt_value(r.value),
            f"{fmt_value(r.baseline)}" if r.baseline else "-",
            r.result,
            r.target,
        ]
        for r in rows
    ]
    widths = [max([len(h), *(len(c[i]) for c in cells)]) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    return "\n".join(lines)


def markdown_table(rows: list[Row]) -> str:
    lines = [
        "| case | measured: median [min..max] | compared with | result | target | status |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        base = f"{r.baseline_label}: {fmt_value(r.baseline)}" if r.baseline else r.baseline_label or "-"
        lines.append(f"| {r.what} | {fmt_value(r.value)} | {base} | {r.result} | {r.target} | {status(r)} |")
    return "\n".join(lines)


def _compile_hubver() -> None:
    """Byte-compile hubver as `pip install` of its wheel does. An editable install is not
    compiled, and with PYTHONDONTWRITEBYTECODE set (as on this machine) every `hubver`
    process would compile its modules again (~0.1 s), which no user's install does; `hf`,
    installed from a wheel, is compiled."""
    import compileall

    import hubver

    compileall.compile_dir(str(Path(hubver.__file__).parent), quiet=1)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from cases import CASES, SMOKE, Bench, Sizes

    names = list(CASES) if not args.only else [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = [n for n in names if n not in CASES]
    if unknown:
        print(f"unknown case(s): {', '.join(unknown)}; known: {', '.join(CASES)}", file=sys.stderr)
        return 2
    if args.work_dir:
        args.work_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="hubver-bench-", dir=args.work_dir))
    env = child_env(
        dict(os.environ),
        **BENCH_ENV,
        HF_HOME=str(work / "hf-home"),
        HUBVER_HOME=str(work / "hubver-home"),
    )
    os.environ.clear()
    os.environ.update(env)
    _compile_hubver()
    started = time.perf_counter()
    info = machine()
    wrapper: list[str] = []
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
        if args.py_spy:
            out = args.profile / "server.txt"
            wrapper = [args.py_spy, "record", "--rate", "200", "--format", "raw", "--output", str(out), "--"]
    hub = HubProcess(work / "hub-data", work / "hub.log", wrapper)
    rows: list[Row] = []
    errors: dict[str, str] = {}
    timings: dict[str, float] = {}
    try:
        url = hub.start(env)
        env["HF_ENDPOINT"] = os.environ["HF_ENDPOINT"] = url
        project = make_project(work / "project", env)
        os.chdir(project)
        print(f"hub {url} (pid {hub.pid}); work dir {work}", flush=True)
        t = time.perf_counter()
        fixtures = build_fixtures(work / "fixtures", env, project)
        timings["fixtures"] = time.perf_counter() - t
        bench = Bench(
            work=work,
            hub=hub,
            env=env,
            sizes=with_overrides(SMOKE if args.smoke else Sizes(), args.overrides),
            smoke=args.smoke,
            fixtures=fixtures,
            project=project,
        )
        for name in names:
            t = time.perf_counter()
            print(f"-- {name} ...", end=" ", flush=True)
            try:
                new = run_case(CASES[name], bench, args.profile and args.profile / f"client-{name}.txt")
            except Exception as e:  # one broken case must not hide the others' figures
                errors[name] = "".join(traceback.format_exception(e))
                print(f"ERROR: {type(e).__name__}: {e}", flush=True)
                continue
            finally:
                timings[name] = time.perf_counter() - t
                # Flush what the case wrote (up to GiBs) now, so that the kernel's writeback
                # does not compete with the next case for the two cores.
                os.sync()
            rows += new
            print(
                f"{timings[name]:.1f} s: " + "; ".join(f"{r.result} [{status(r)}]" for r in new), flush=True
            )
    finally:
        os.chdir(HERE)
        hub.stop()
        if args.profile and args.py_spy and (args.profile / "server.txt").exists():
            summary = top_frames(args.profile / "server.txt")
            (args.profile / "server-top.txt").write_text(summary + "\n")
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    total = time.perf_counter() - started
    info["loadavg_at_end"] = list(os.getloadavg())
    print()
    print(text_table(rows))
    if args.markdown:
        print()
        print(markdown_table(rows))
    for name, tb in errors.items():
        print(f"\n{name} failed:\n{tb}", file=sys.stderr)
    print(f"\n{len(rows)} rows in {total:.0f} s on {info['nproc']} x {info['cpu']}, {info['memory_gib']} GiB")
    output = args.output or (None if args.smoke else HERE / "results.json")
    if output:
        result = {
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "smoke": args.smoke,
            "machine": info,
            "seconds": {"total": total, **timings},
            "rows": [r.to_dict() for r in rows],
            "errors": errors,
        }
        output.write_text(json.dumps(result, indent=2, default=str) + "\n")
        print(f"wrote {output}")
    if errors or (args.strict and any(r.passed is False for r in rows)):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
