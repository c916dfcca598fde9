"""Velocity command triples on a command line, backwards ones included."""

import argparse

import pytest

from twist_core.cli_commands import parse_command, protect_negative_commands


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    parser.add_argument("--commands", nargs="+", type=parse_command)
    parser.add_argument("--seconds", type=float)
    return parser


def test_backwards_commands_parse_as_values_and_options_stay_options():
    """-0.5,0,0 and -1e-1,0,0 are commands, not options; --seconds after them is still an option."""
    argv = protect_negative_commands(["--commands", "-0.5,0,0", "0.5,-0.3,0", "-1e-1,0,-1.5", "--seconds", "-2"])
    args = _parser().parse_args(argv)
    assert args.commands == [(-0.5, 0.0, 0.0), (0.5, -0.3, 0.0), (-0.1, 0.0, -1.5)]
    assert args.seconds == -2.0  # a lone negative number argparse reads itself
    with pytest.raises(SystemExit):  # unprotected, argparse refuses the backwards triple
        _parser().parse_args(["--commands", "-0.5,0,0"])


@pytest.mark.parametrize("text", ["0.5,0", "0.5,0,0,0", "a,0,0", "", "0.5;0;0"])
def test_a_malformed_command_is_a_clear_error(text):
    """Not three numbers: an argparse type error naming what was given."""
    with pytest.raises(argparse.ArgumentTypeError, match="a command is vx,vy,yaw_rate"):
        parse_command(text)
