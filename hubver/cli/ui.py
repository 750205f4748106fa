"""`hubver ui`: the web pages for any hub, served on 127.0.0.1 (the token stays in this process)."""

from __future__ import annotations

import sys

import click

from ..settings import Settings
from .common import emit_json, repo_options


@click.command()
@repo_options
@click.option("--port", type=int, default=0, show_default=True, help="Port on 127.0.0.1 (0: a free one).")
@click.option("--no-browser", is_flag=True, help="Print the URL only; do not open a browser.")
def ui(settings: Settings, as_json: bool, port: int, no_browser: bool) -> None:
    """Browse versions, charts and comparisons in a browser, for any hub (huggingface.co included).

    The first line printed is the URL to open: its path carries a random key, and every page is
    under it, so no other local user or web page can read your private repositories through
    the port. Keep it to yourself: it is good until `hubver ui` stops. The browser is opened
    at a private file that forwards to it, so the key never shows in `ps`.
    """
    import shutil
    import signal

    from ..client import open_client
    from ..web.ui import launch_file, start_ui

    with open_client(settings) as client:
        running = start_ui(client, repo=settings.repo, port=port)
        if as_json:
            emit_json({"url": running.url, "endpoint": client.endpoint, "repo": settings.repo})
        else:
            click.echo(running.url)
        sys.stdout.flush()
        click.echo(f"Serving the pages of {client.endpoint} at {running.base}; Ctrl-C stops.", err=True)
        opened = None

        def stop(signum: int, frame: object) -> None:
            raise KeyboardInterrupt  # a `kill` stops it as Ctrl-C does: the browser's file removed

        signal.signal(signal.SIGTERM, stop)
        try:
            if not no_browser:
                import webbrowser

                page, opened = launch_file(running.url)
                webbrowser.open(page.as_uri())
            running.wait()
        except KeyboardInterrupt:
            pass
        finally:
            running.stop()
            if opened is not None:
                shutil.rmtree(opened, ignore_errors=True)


COMMANDS = [ui]
