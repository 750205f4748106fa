"""hubver's command line: a thin layer that parses options, calls the library, prints the result.

This is the one place errors become output: `Error: ...` and a hint on stderr, exit 1.
`--debug` (or HUBVER_DEBUG=1) shows the traceback instead.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from .. import __version__


class HubverGroup(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except BrokenPipeError:
            # The reader went away (`hubver list | head`): stop quietly, as other CLIs do.
            sys.stderr.close()
            os._exit(0)
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            sys.exit(130)
        except Exception as e:
            if ctx.meta.get("hubver.debug") or os.environ.get("HUBVER_DEBUG") == "1":
                _traceback(e, ctx.meta.get("hubver.secrets") or set())
                sys.exit(1)
            _report(e, ctx.meta.get("hubver.secrets") or set())
            sys.exit(1)


def _traceback(e: Exception, extra_secrets: set[str]) -> None:
    """--debug: the whole traceback, with tokens and URL credentials scrubbed like every other output."""
    import traceback

    from ..redact import known_secrets, scrub, strip_url_credentials

    text = "".join(traceback.format_exception(type(e), e, e.__traceback__))
    click.echo(strip_url_credentials(scrub(text, known_secrets(extra_secrets))), err=True, nl=False)


def _report(e: Exception, extra_secrets: set[str]) -> None:
    from ..errors import HubverError
    from ..redact import known_secrets, scrub

    secrets = known_secrets(extra_secrets)
    if isinstance(e, HubverError):
        click.secho(f"Error: {scrub(e.message, secrets)}", fg="red", err=True)
        if e.hint:
            click.echo(scrub(e.hint, secrets), err=True)
        return
    detail = scrub(str(e).strip().splitlines()[0] if str(e).strip() else "", secrets)
    click.secho(f"Error: unexpected {type(e).__name__}{': ' + detail if detail else ''}", fg="red", err=True)
    click.echo("Run again with --debug to see the traceback, and please report it.", err=True)


@click.group(cls=HubverGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="hubver")
@click.option("--debug", is_flag=True, help="Show tracebacks instead of short error messages.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Version fine-tuned models and LoRA adapters on the Hugging Face Hub.

    Every training run becomes a version: one commit and one tag that are never
    overwritten, with its metadata in hubver.json and a generated model card.
    """
    ctx.meta["hubver.debug"] = debug


def _register() -> None:
    from . import aliases, browse, checkout, push, server, ui, verify

    for module in (push, browse, checkout, verify, aliases, server, ui):
        for command in module.COMMANDS:
            cli.add_command(command)


_register()


def main() -> None:
    cli(prog_name="hubver")
