"""Make the README's pictures of the hub's pages: docs/web-repo.png and docs/web-compare.png.

    .venv/bin/python docs/screenshots.py            # needs Debian's chromium and the dev extra

Starts an embedded hub in a temporary directory, pushes the showcase repository
(`hubver.testing.showcase`: four versions of a tiny LoRA adapter, with metrics, loss curves
and promotions) with hubver, and screenshots its repo page and the compare page of v1...v3
in headless Chromium. Run it again when the pages change, and commit the PNGs.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

DOCS = Path(__file__).resolve().parent
REPO = "demo/tiny-gpt2-lora"
BASE = "demo/tiny-gpt2"
SHOTS = {
    "web-repo.png": f"/{REPO}",
    "web-compare.png": f"/{REPO}/compare/v1...v3",
}


def main() -> int:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        print("docs/screenshots.py needs Debian's chromium (apt-get install chromium)", file=sys.stderr)
        return 1
    work = Path(tempfile.mkdtemp(prefix="hubver-screenshots-"))
    # Read by huggingface_hub at import time: nothing of the user's own setup is used.
    os.environ.update(
        {
            "HF_HOME": str(work / "hf-home"),
            "HUBVER_HOME": str(work / "hubver-home"),
            "HF_HUB_DISABLE_TELEMETRY": "1",
            "HF_HUB_DISABLE_XET": "1",
            "HF_HUB_DISABLE_PROGRESS_BARS": "1",
            "DISABLE_SAFETENSORS_CONVERSION": "1",
            "TOKENIZERS_PARALLELISM": "false",
        }
    )
    for var in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HUBVER_TOKEN", "HUBVER_REPO", "HUBVER_ENDPOINT"):
        os.environ.pop(var, None)
    from huggingface_hub import HfApi
    from playwright.sync_api import sync_playwright

    from hubver.server import HubConfig, start_in_thread
    from hubver.testing import build_tiny_base
    from hubver.testing.showcase import ShowcaseVersion, push_showcase

    token = "hv_docs_" + secrets.token_hex(16)
    hub = start_in_thread(HubConfig(data_dir=work / "hub", admin_token=token))
    try:
        # The base model is on the hub too, so the pages show a hub id and the load code runs.
        base = build_tiny_base(work / "base")
        api = HfApi(endpoint=hub.url, token=token)
        api.create_repo(BASE)
        api.upload_folder(repo_id=BASE, folder_path=base, commit_message="tiny GPT-2")
        # A training project with a commit per run: what each version records as its code.
        project = work / "project"
        project.mkdir()
        git = ["git", "-c", "user.name=Demo", "-c", "user.email=demo@example.com", "-C", str(project)]
        subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
        os.chdir(project)

        def commit_run(v: ShowcaseVersion) -> None:
            (project / "train.py").write_text(f"# {v.message}\nPARAMS = {v.params!r}\n", "utf-8")
            subprocess.run([*git, "add", "train.py"], check=True)
            subprocess.run([*git, "commit", "-q", "-m", v.message], check=True)

        push_showcase(
            REPO,
            work / "showcase",
            endpoint=hub.url,
            token=token,
            base=base,
            base_model=BASE,
            before_push=commit_run,
        )
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, headless=True)
            page = browser.new_page(viewport={"width": 1200, "height": 800}, device_scale_factor=1)
            for name, path in SHOTS.items():
                response = page.goto(hub.url + path)
                if response is None or response.status != 200:
                    print(f"{path}: status {response and response.status}", file=sys.stderr)
                    return 1
                page.screenshot(path=str(DOCS / name), full_page=True)
                print(f"wrote docs/{name}")
            browser.close()
    finally:
        hub.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
