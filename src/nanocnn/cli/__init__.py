"""The ``nanocnn`` command. Each subcommand lives in its own module of this package, which
defines ``register(subparsers)`` (its arguments) and ``run(args) -> int`` (what it does):

    nanocnn train     [--task NAME] [--model PRESET] [--epochs N] [--batch-size N] [--lr F]
                      [--optimizer adam|sgd] [--seed N] [--data-dir PATH] [--out runs/NAME]
                      [--resume] [--augment] ... and the options of the task (nanocnn.tasks)
    nanocnn evaluate  MODEL_FILE [--data-dir PATH]
    nanocnn predict   MODEL_FILE IMAGE [IMAGE ...]
    nanocnn summary   MODEL_FILE
    nanocnn export    MODEL_FILE OUT(.onnx|.safetensors|.npz) [--input-shape C,H,W] [--opset N]
    nanocnn gradcheck [--layer TYPE] [--tolerance F]
    nanocnn app       [--model PATH] [--port N] [--host ADDR]

Bad arguments and bad files end in one line on stderr and exit status 2, never a traceback
(``nanocnn --debug ...`` shows it). Output piped into a reader that stops early (``| head``)
ends the command quietly, with the shell's status for SIGPIPE (141). Ctrl-C ends a command
with status 130; ``nanocnn train`` ends on SIGTERM or SIGHUP as on Ctrl-C, with status 128 +
the signal (143, 129). Heavy imports happen inside ``run``, so ``--help`` is quick. Pillow's
own warnings about odd files are silenced (the error line says what is wrong).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import warnings
from collections.abc import Sequence

from nanocnn import __version__
from nanocnn.cli import (
    app,
    evaluate,
    export,
    gradcheck,
    lr_find,
    predict,
    summary,
    train,
    tune,
)
from nanocnn.errors import NanocnnError
from nanocnn.interrupts import exit_status

COMMANDS = [train, evaluate, predict, summary, export, gradcheck, app, lr_find, tune]


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    formatwarning = warnings.formatwarning
    if not args.debug:
        warnings.filterwarnings("ignore", module=r"PIL\.")
        warnings.formatwarning = one_line_warning
    try:
        return args.run(args)
    except KeyboardInterrupt as interrupt:  # Ctrl-C, or SIGTERM and SIGHUP for train
        return exit_status(interrupt)
    except BrokenPipeError:  # `nanocnn predict ... | head`: the reader has all it wants
        silence_stdout()
        return 128 + signal.SIGPIPE  # as the shell reports a tool stopped by SIGPIPE
    except (NanocnnError, OSError, ValueError, ImportError) as error:
        if args.debug:
            raise
        print(f"nanocnn {args.command}: error: {error}", file=sys.stderr)
        return 2
    finally:
        warnings.formatwarning = formatwarning  # as it was, for a caller in the same process


def silence_stdout() -> None:
    """Point standard output at the null device, so the interpreter's last flush of what is
    still buffered for a closed pipe does not fail again (Python's documented recipe)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def one_line_warning(message: Warning | str, *args: object, **kwargs: object) -> str:
    """A warning as the command line shows it: one line, without the code that warned."""
    return f"nanocnn: warning: {message}\n"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nanocnn", description="Convolutional networks from scratch in NumPy."
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    parser.add_argument("--version", action="version", version=f"nanocnn {__version__}")
    subparsers = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")
    for command in COMMANDS:
        name = command.__name__.rsplit(".", 1)[-1].replace("_", "-")  # lr_find: lr-find
        command.register(subparsers).set_defaults(run=command.run, command=name)
    return parser
