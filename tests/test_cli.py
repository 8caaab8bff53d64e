"""The `textcycle` console script: every subcommand resolves to a module with a main()."""

import importlib

import pytest

from textcycle.cli import COMMANDS, main


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_subcommand_has_a_main(name):
    module = importlib.import_module(COMMANDS[name][0])
    assert callable(getattr(module, "main", None)), name


def test_help_and_unknown_command(capsys):
    # no command is a usage error (exit 2, usage on stderr), --help is not
    assert main([]) == 2
    assert "rewrite" in capsys.readouterr().err
    assert main(["--help"]) == 0
    assert "rewrite" in capsys.readouterr().out
    assert main(["no-such-command"]) == 2
    assert "unknown command" in capsys.readouterr().err


def test_subcommand_help_exits_cleanly(capsys):
    with pytest.raises(SystemExit) as e:
        main(["evaluate-split", "--help"])
    assert e.value.code == 0
    assert "--config" in capsys.readouterr().out
