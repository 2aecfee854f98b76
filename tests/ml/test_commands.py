from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from medconsult.ml import crossval, predict
from medconsult.ml.commands import register


def test_register_adds_subcommands_with_handlers() -> None:
    parser = argparse.ArgumentParser(prog="medconsult")
    subparsers = parser.add_subparsers(dest="command")
    register(subparsers)
    args = parser.parse_args(["train", "--epochs", "3", "--seed", "7", "--max-length", "64"])
    assert callable(args.func)
    assert args.epochs == 3
    assert args.seed == 7
    assert args.max_length == 64
    args = parser.parse_args(["evaluate", "--model", "m", "--format", "json", "--int8", "--bf16"])
    assert callable(args.func)
    assert args.format == "json"
    assert args.int8
    assert args.bf16
    args = parser.parse_args(
        ["evaluate-ood", "--model", "m", "--in", "a.csv", "--out", "b.csv", "--format", "json"]
    )
    assert callable(args.func)
    assert (args.in_data, str(args.out_data), args.precision) == ([Path("a.csv")], "b.csv", "fp32")
    args = parser.parse_args(["predict", "--model", "m", "I have a cough"])
    assert callable(args.func)
    assert args.precision == "auto"
    assert args.text == ["I have a cough"]


def test_handler_turns_model_errors_into_status_2(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    parser = argparse.ArgumentParser(prog="medconsult")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["predict", "--model", str(tmp_path / "missing"), "a cough"])
    assert args.func(args) == 2
    assert "not found" in capsys.readouterr().err


def test_main_runs_one_subcommand_as_its_own_program(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        crossval.main(["--help"])
    help_text = capsys.readouterr().out
    assert help_text.startswith("usage: medconsult cv")
    first_line, rest = (crossval.__doc__ or "").split("\n", 1)
    words = " ".join(help_text.split())  # argparse wraps the description
    assert first_line in words
    assert " ".join(rest.strip().split("\n")[0].split()) not in words  # the first line only
    assert predict.main(["--model", str(tmp_path / "missing"), "a cough"]) == 2
    assert "not found" in capsys.readouterr().err


def test_expected_errors_exit_with_status_2_and_a_message(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from medconsult.ml.errors import ArtifactError, exit_status

    def failing() -> int:
        raise ArtifactError("artifact x is missing")

    assert exit_status(failing) == 2
    assert capsys.readouterr().err == "error: artifact x is missing\n"
    assert exit_status(lambda: 0) == 0
