"""The route table and docs/hub-api.md list the same routes; templates match as documented."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

from hubver.server.app import HubApp, HubConfig
from hubver.server.routing import compile_template

DOC = Path(__file__).resolve().parent.parent / "docs" / "hub-api.md"


def documented_routes() -> list[str]:
    section = DOC.read_text().split("\n## Routes\n", 1)[1]
    return re.findall(r"^- `([A-Z*]+ [^`]+)`", section, re.M)


def test_every_route_is_documented_and_every_documented_route_exists(tmp_path):
    app = HubApp(HubConfig(data_dir=tmp_path, admin_token="hf_route_table_test_token"))
    table = [line for r in app.router.routes for line in r.describe()]
    assert documented_routes() == table


def test_templates_keep_quoted_segments_whole_and_exclude_reserved_prefixes():
    rev = compile_template("/api/{repo_type}/{namespace}/{name}/revision/{rev}")
    m = rev.match("/api/models/org/m/revision/refs%2Fpr%2F1")
    assert m and m["rev"] == "refs%2Fpr%2F1"
    assert rev.match("/api/models/org/m/revision/a/b") is None
    resolve = compile_template("[/{repo_type}]/{namespace}/{name}/resolve/{rev}/{path:path}")
    m = resolve.match("/datasets/org/d/resolve/main/a/b.txt")
    assert m and (m["repo_type"], m["namespace"], m["path"]) == ("datasets", "org", "a/b.txt")
    m = resolve.match("/org/m/resolve/main/x")
    assert m and m["repo_type"] is None
    for reserved in ("api", "datasets", "spaces", "lfs-upload"):
        assert resolve.match(f"/{reserved}/m/resolve/main/x") is None


def test_the_server_imports_nothing_of_the_client():
    # Beyond what `import hubver` itself loads: only the server's modules and the neutral,
    # stdlib-only helpers both sides share (hashing, front matter, charts).
    code = (
        "import sys, hubver\n"
        "before = set(sys.modules)\n"
        "import hubver.server.app, hubver.server.run\n"
        "print(sorted(m for m in set(sys.modules) - before if m.startswith(('hubver', 'huggingface_hub'))"
        " and not m.startswith('hubver.server')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    # The web pages (hubver/web) are mounted in the hub: they may load, with the pure modules
    # they share with the client (charts, versiondiff), but never the API-backed source of `hubver ui`.
    loaded = set(ast.literal_eval(out))
    shared = {"hubver.hashing", "hubver.frontmatter", "hubver.charts", "hubver.versiondiff", "hubver.web"}
    assert {m for m in loaded if not m.startswith("hubver.web.")} <= shared, out
    assert "hubver.web.api_source" not in loaded and not any(
        m.startswith("huggingface_hub") for m in loaded
    ), out
