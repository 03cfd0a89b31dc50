"""``nanocnn train``: train a preset on a task's data into a run folder, then report on the
test set. The options every task shares come from ``TrainOptions``; each task adds its own
(``Task.options``), and an option given to a task that lacks it is refused by name.

``--workers N`` trains data-parallel on this machine: it checks what can be checked without
the data and chooses the run folder, then runs the same command (with that ``--out``) under
the installed MPI's ``mpiexec -n N``. Started by an ``mpiexec`` of one's own (a cluster),
each rank finds the world size itself, and an error on any rank ends the whole job, said
once by rank 0. SIGTERM and SIGHUP stop a run as Ctrl-C does (:mod:`nanocnn.interrupts`).
"""

from __future__ import annotations

import argparse
import shlex
import warnings
from dataclasses import replace
from pathlib import Path

from nanocnn.cli.arguments import positive_int
from nanocnn.cli.run_options import add_data_options, add_recipe_options, train_options


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "train",
        help="train a model on digits, your own pictures or faces, and report on it",
        description="Train a model from scratch; writes the model, history, test metrics "
        "and plots into a run folder.",
    )
    add_data_options(parser)
    add_recipe_options(parser)
    parser.add_argument("--out", type=Path, help="run folder (default: runs/MODEL)")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in --out with the options it was started with (a larger "
        "--epochs extends a finished run)",
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="start again in an --out that holds a run"
    )
    parser.add_argument(
        "--workers",
        type=positive_int,
        help="train data-parallel in N processes on this machine (MPI, one BLAS thread each; "
        "needs: pip install 'nanocnn[mpi]'); under mpiexec the ranks are the workers",
    )
    parser.add_argument(
        "--check-weights",
        type=positive_int,
        metavar="STEPS",
        help="data-parallel debugging: check that the workers' weights agree every STEPS steps",
    )
    return parser


def run(args: argparse.Namespace) -> int:
    from nanocnn.interrupts import interrupt, on_stop_signals
    from nanocnn.job import RunFolder, option_words, train
    from nanocnn.job.setup import plan
    from nanocnn.parallel import Workers, launch, mpiexec, world_size

    kept = {}
    if args.resume and args.out is not None:  # the options the run was started with
        from nanocnn.job.options import from_kept

        kept = from_kept(RunFolder(args.out).kept_options())
    options = train_options(args, kept)
    ranks = world_size()
    if args.workers and ranks > 1 and args.workers != ranks:
        raise ValueError(f"--workers {args.workers}, but mpiexec started {ranks} ranks")
    if args.workers and args.workers > 1 and ranks == 1:
        mpiexec()  # MPI is there, or one line says how to install it, before anything else
        name = plan(options, args.workers).name  # refused before any rank starts...
        run = RunFolder.choose(options.out, name, options.resume, options.overwrite)  # ...too
        words = shlex.split(" ".join(option_words(replace(options, out=run.path))))
        return launch(args.workers, [*(["--debug"] if args.debug else []), "train", *words])
    with on_stop_signals(interrupt), warnings.catch_warnings():  # kill: as Ctrl-C does
        workers = Workers.from_environment()
        if not workers.is_root:
            warnings.simplefilter("ignore")  # rank 0 alone speaks
        with workers.abort_on_error("nanocnn train", traceback=args.debug):
            train(options, workers)
    return 0
