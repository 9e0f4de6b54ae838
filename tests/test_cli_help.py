"""Every command documents itself, and the package reports its version."""

from __future__ import annotations

import subprocess
import sys

import pytest

from kbbuild import __version__

COMMANDS = {
    "ingest": ["--kb", "--embed-model", "--chunk-tokens", "--full", "--json", "Exit codes"],
    "query": ["--kb", "-k", "--json", "--version", "--embed-model"],
    "versions": ["--kb", "--json"],
    "export": ["--format", "--kb"],
    "plugins": ["--config"],
    "schemas": ["--out"],
    "doctor": ["--deep", "--json"],
    "inspect": ["--page", "--out", "--markdown", "--raw"],
}


def test_version_flag(cli):
    result = cli("--version")
    assert result.exit_code == 0
    assert result.output.strip() == f"kbbuild {__version__}"


def test_top_level_help_lists_every_command(cli):
    result = cli("--help")
    assert result.exit_code == 0
    for command in COMMANDS:
        assert command in result.output


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_command_help_is_complete(cli, command):
    result = cli(command, "--help")
    assert result.exit_code == 0
    for needle in COMMANDS[command]:
        assert needle in result.output, f"`kbbuild {command} --help` does not mention {needle}"


def test_console_script_runs_and_help_is_fast():
    """The installed entry point works, and --help does not import torch or FlagEmbedding."""
    code = (
        "import sys; from kbbuild.cli.app import main; sys.argv=['kbbuild','--help']; "
        "\ntry:\n    main()\nexcept SystemExit: pass\nprint('torch' in sys.modules, 'FlagEmbedding' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().endswith("False False")


def test_help_reads_cleanly_at_80_columns():
    """Paragraphs are wrapped to the terminal, not broken where the docstrings' lines end; flags show
    no type; the command list gives each command's whole one-line summary."""
    from typer.testing import CliRunner

    from kbbuild.cli.app import SHORT_HELP, app

    runner = CliRunner()
    top = runner.invoke(app, ["--help"], env={"COLUMNS": "80"}).output
    listed = top.split("Commands:")[1]
    assert all(SHORT_HELP[name] in listed for name in SHORT_HELP) and "..." not in listed
    for args in (["--help"], *([name, "--help"] for name in SHORT_HELP)):
        result = runner.invoke(app, args, env={"COLUMNS": "80"})
        assert result.exit_code == 0, result.output
        wide = [line for line in result.output.splitlines() if len(line) > 80]
        assert not wide, (args, wide)
        assert "<bool>" not in result.output, args
    ingest = runner.invoke(app, ["ingest", "--help"], env={"COLUMNS": "80"}).output
    # The docstring breaks its line after "A bad file is"; the help joins the paragraph and wraps it anew.
    assert "file is reported with its reason" in ingest
