"""The command line's parsing: help for everything, and bad arguments refused before any network."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from hubver.cli import cli

pytestmark = pytest.mark.fast

# Nothing listens here: a command that got past its parsing would fail with "unreachable", not
# with the usage error these tests expect.
NOWHERE = "http://127.0.0.1:9"


def _commands(group: click.Group = cli, prefix: tuple[str, ...] = ()):
    for name, command in sorted(group.commands.items()):
        yield (*prefix, name), command
        if isinstance(command, click.Group):
            yield from _commands(command, (*prefix, name))


COMMANDS = list(_commands())


@pytest.fixture
def run():
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(cli, list(args), catch_exceptions=False)

    return invoke


def test_the_commands_are_all_there():
    names = {" ".join(path) for path, _ in COMMANDS}
    assert {
        "push",
        "list",
        "show",
        "diff",
        "checkout",
        "verify",
        "promote",
        "aliases",
        "history",
        "hub",
    } <= names
    assert {"hub serve", "hub add-user", "hub fsck", "hub remove-version"} <= names


@pytest.mark.parametrize("path", [p for p, _ in COMMANDS], ids=lambda p: " ".join(p))
def test_every_command_has_help(run, path):
    result = run(*path, "--help")
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"Usage: cli {' '.join(path)}")
    command = dict(COMMANDS)[path]
    assert command.help and command.help.strip(), path
    for param in command.params:
        if isinstance(param, click.Option) and param.name != "help":
            assert param.help, f"{' '.join(path)} {param.opts[0]} has no help text"


def test_top_level_help_and_version(run):
    assert run("--help").exit_code == 0 and run("-h").output == run("--help").output
    result = run("--version")
    assert result.exit_code == 0 and result.output.startswith("hubver, version ")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("nope",), "No such command 'nope'"),
        (("push", "--scheme", "date"), "Invalid value for '--scheme'"),
        (("push", "--bump", "huge"), "Invalid value for '--bump'"),
        (("push", "--num-samples", "many"), "'many' is not a valid integer"),
        (("push", "--frobnicate"), "No such option '--frobnicate'"),
        (("list", "--limit", "ten"), "'ten' is not a valid integer"),
        (("show",), "Missing argument 'VERSION'"),
        (("diff", "v1"), "Missing argument"),
        (("promote", "v1"), "Missing argument"),
        (("hub", "remove-version", "org/m"), "Missing argument"),
    ],
)
def test_usage_errors_exit_2_with_clicks_message(run, args, message):
    result = run(*args, "--endpoint", NOWHERE) if args[0] not in ("nope", "hub") else run(*args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("list", "--repo", "no-namespace"), "Error: Invalid repository id 'no-namespace'"),
        (("list", "--repo", "a/b", "--local", "--endpoint", NOWHERE), "Error: --local and --endpoint cannot"),
        (("list", "--repo", "a/b", "--endpoint", "ftp://x"), "Error: Invalid endpoint 'ftp://x'"),
        (
            ("push", "--repo", "a/b", "--endpoint", NOWHERE, "--version", "main"),
            "Error: Invalid version id 'main'",
        ),
        (("list", "--endpoint", NOWHERE), "Error: No repository given."),
    ],
)
def test_bad_settings_exit_1_before_any_request(run, args, message, tmp_path):
    result = run(*args)
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith(message), result.stderr
    assert "unreachable" not in result.stderr.lower() and "Traceback" not in result.stderr
