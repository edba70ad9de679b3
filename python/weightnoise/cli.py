"""The ``weightnoise`` command: weight noise against the gradient penalty, on data.

    weightnoise                      # the demo: both experiments on the built-in data
    weightnoise equivalence --etas 1e-4 1e-3 1e-2 --draws 2000
    weightnoise train --csv my.csv --target price --etas 0.001 0.01

This module parses arguments and orchestrates; the experiments live in
:mod:`weightnoise.experiments`, the tables in :mod:`weightnoise.report`, the
figures in :mod:`weightnoise.plots`, the data in :mod:`weightnoise.datasets`.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn, Protocol

import numpy as np

import weightnoise as wn

from . import _checks, _sweep_cli, datasets, experiments, plots, report
from ._typing import StrPath
from .threads import MAX_THREADS

COMMANDS = ("demo", "equivalence", "train")
DEFAULT_GRID = [float(f"{eta:.3g}") for eta in np.logspace(-5, -1, 9)]
DEFAULT_TRAIN_ETAS = [0.003, 0.03]
EXIT_ERROR = 2
EXIT_INTERRUPTED = 130


class CLIError(Exception):
    """A problem with the command line's arguments or environment, reported in one line."""


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``weightnoise: error: …`` and a pointer to --help."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_ERROR, f"weightnoise: error: {_one_line(message)} (see '{self.prog} --help')\n")


# What str.splitlines breaks at: an argument holding one (weightnoise demo $'\n') must not split the error line.
_LINE_BREAKS = "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"


def _one_line(text: str) -> str:
    """``text`` with its line breaks escaped as Python writes them (\\n, \\r, \\x85, …)."""
    return "".join(ascii(ch)[1:-1] if ch in _LINE_BREAKS else ch for ch in text)


def _positive_int(text: str) -> int:
    value = _integer(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


def _non_negative_int(text: str) -> int:
    value = _integer(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative integer, got {text!r}")
    return value


def _below(parse: Callable[[str], int], limit: int, limit_text: str) -> Callable[[str], int]:
    """``parse`` that also refuses values of ``limit`` or more."""
    def parse_below(text: str) -> int:
        value = parse(text)
        if value >= limit:
            raise argparse.ArgumentTypeError(f"must be below {limit_text}, got {text!r}")
        return value
    return parse_below


# Draws, epochs and minibatch sizes index 32-bit counters of the random streams; seeds are 64-bit.
_count = _below(_positive_int, _checks.COUNT_LIMIT, "2**32")
_epochs = _below(_non_negative_int, _checks.COUNT_LIMIT, "2**32")
_seed = _below(_non_negative_int, 2**64, "2**64")
_threads = _below(_non_negative_int, MAX_THREADS + 1, str(MAX_THREADS + 1))


def _integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a finite positive number, got {text!r}")
    return value


def _fraction(text: str) -> float:
    value = _positive_float(text)
    if value >= 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text!r}")
    return value


def _momentum(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {text!r}")
    return value


def _common_options() -> _Parser:
    parent = _Parser(add_help=False)
    data = parent.add_argument_group("data (inputs and target are standardized with the training rows' statistics)")
    data.add_argument("--data", choices=("synthetic", "diabetes"), default="synthetic",
                      help="built-in data: a synthetic regression problem generated from --seed (default), or "
                           "scikit-learn's diabetes data (needs scikit-learn)")
    data.add_argument("--csv", metavar="PATH", help="your own data: a CSV file with a header row, numbers only")
    data.add_argument("--target", metavar="COLUMN", help="the CSV column to predict; every other column is an input")
    data.add_argument("--n-examples", type=_positive_int, default=800, metavar="N",
                      help="rows of the synthetic data (default 800)")
    data.add_argument("--test-fraction", type=_fraction, default=0.25, metavar="F",
                      help="share of rows held out for testing, split by --seed (default 0.25)")
    model = parent.add_argument_group("model")
    model.add_argument("--hidden", type=_positive_int, nargs="+", default=[32, 32], metavar="WIDTH",
                       help="hidden layer widths (default 32 32)")
    model.add_argument("--activation", choices=wn.ACTIVATIONS, default="tanh", help="(default tanh)")
    noise = parent.add_argument_group("noise and training")
    noise.add_argument("--noise", choices=wn.NOISE_MODES, default="local",
                       help="how the weight noise is sampled (default local: per example, through the "
                            "pre-activations)")
    noise.add_argument("--epochs", type=_epochs, default=400, metavar="N",
                       help="epochs of the first training phase (default 400)")
    noise.add_argument("--cooldown-epochs", type=_epochs, metavar="N",
                       help="epochs of a second phase at a tenth of the learning rate, which settles the noisy "
                            "iterate (default: half of --epochs)")
    noise.add_argument("--lr", type=_positive_float, default=0.05, help="learning rate (default 0.05)")
    noise.add_argument("--optimizer", choices=("sgd", "adam"), default="sgd", help="(default sgd)")
    noise.add_argument("--momentum", type=_momentum, default=0.9, help="SGD momentum (default 0.9)")
    noise.add_argument("--batch-size", type=_count, metavar="N", help="minibatch size (default: full batch)")
    output = parent.add_argument_group("run and output")
    output.add_argument("--seed", type=_seed, default=0,
                        help="seed of the data, the split, the initialization and the noise (default 0)")
    output.add_argument("--threads", type=_threads, metavar="N",
                        help="threads of the kernels (default: all; results do not depend on it)")
    output.add_argument("--out", default="weightnoise-results", metavar="DIR",
                        help="folder for results.json and the figures (default weightnoise-results)")
    output.add_argument("--no-plots", action="store_true", help="write no figures")
    output.add_argument("--no-progress", action="store_true", help="show no progress bars")
    return parent


def _grid_option(parser: argparse.ArgumentParser, flag: str, dest: str) -> None:
    parser.add_argument(flag, dest=dest, type=_positive_float, nargs="+", default=DEFAULT_GRID, metavar="ETA",
                        help="the grid of noise variances η of the equivalence table (default 9 values, "
                             "log-spaced from 1e-5 to 1e-1)")
    parser.add_argument("--draws", type=_count, default=500, metavar="K",
                        help="antithetic draws of J̃_η per η (default 500); the O(η²) remainder is resolved "
                             "down to smaller η with more draws, at proportional cost")


def _train_etas_option(parser: argparse.ArgumentParser, flag: str) -> None:
    parser.add_argument(flag, dest="train_etas", type=_positive_float, nargs="+", default=DEFAULT_TRAIN_ETAS,
                        metavar="ETA", help="noise variances η to train with (default 0.003 0.03)")
    parser.add_argument("--eval-draws", type=_count, default=100, metavar="K",
                        help="antithetic draws of the final J̃_η of each trained model (default 100)")
    parser.add_argument("--monitor-every", type=_count, metavar="N",
                        help="record J, J̃_η, ηΩ, ηC and test J every N epochs (default: about 40 points per "
                             "curve)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``weightnoise`` command and its subcommands."""
    parser = _Parser(prog="weightnoise", description=(
        "Weight noise against the gradient penalty, on data. Training with Gaussian weight noise of variance η "
        "minimizes J̃_η = J + ηΩ + ηC + O(η²); the textbook keeps only the penalty ηΩ. These commands measure "
        "all three and show when the textbook equivalence holds. With no command, runs 'demo'."),
        epilog="Set WEIGHTNOISE_TRACEBACK=1 to see a full traceback instead of a one-line error.")
    parser.add_argument("--version", action="version", version=f"weightnoise {wn.__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    common = _common_options()
    demo = commands.add_parser("demo", parents=[common], help="both experiments on the default data (under a minute)",
                               description="The equivalence table at initialization and after training, then plain, "
                                           "noise and penalty training compared.")
    _grid_option(demo, "--etas", "etas")
    _train_etas_option(demo, "--train-etas")
    equivalence = commands.add_parser(
        "equivalence", parents=[common], help="measured J̃_η against J + ηΩ and J + ηΩ + ηC over a grid of η",
        description="For a model at initialization and after plain training: measured J̃_η ± stderr, the "
                    "textbook J + ηΩ and the second-order J + ηΩ + ηC, both residuals and their fitted slopes.")
    _grid_option(equivalence, "--etas", "etas")
    train = commands.add_parser(
        "train", parents=[common], help="plain, noise and penalty training from the same start",
        description="Trains plain, noise and penalty models from the same initialization on the same minibatches, "
                    "for each η: per-epoch history, final J and J̃_η on train and test data, ηΩ, ηC, and the "
                    "distance between the functions learned with noise and with the penalty.")
    _train_etas_option(train, "--etas")
    _sweep_cli.add_parser(commands)
    return parser


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parsed arguments; no command means ``demo``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version")):
        argv.insert(0, "demo")  # options without a command are the demo's
    args = build_parser().parse_args(argv)
    if args.command == "sweep":
        return _sweep_cli.check(args)
    if args.csv is None and args.target is not None:
        raise CLIError("--target only applies with --csv PATH")
    if args.csv is not None and args.target is None:
        raise CLIError("--csv needs --target COLUMN, the column to predict")
    if args.cooldown_epochs is None:
        args.cooldown_epochs = args.epochs // 2
    if getattr(args, "etas", None) is not None:
        args.etas = sorted(set(args.etas))
        if args.command != "train" and len(args.etas) < 2:
            raise CLIError("--etas needs at least two values to fit a slope")
    if getattr(args, "train_etas", None) is not None:
        args.train_etas = sorted(set(args.train_etas))
    return args


class _Say(Protocol):
    """What run() prints through: a line (or an empty one), and a section heading."""

    def __call__(self, text: str = "") -> None: ...

    def section(self, title: str) -> None: ...


class _Console:
    """Prints to stdout, spelling symbols in ASCII where the terminal cannot show them."""

    def __call__(self, text: str = "") -> None:
        print(report.for_terminal(text, sys.stdout.encoding), flush=True)

    def section(self, title: str) -> None:
        self()
        self(title)
        self("─" * min(len(title), 100))


def _settings(args: argparse.Namespace) -> dict[str, Any]:
    skip = {"no_progress"}
    return {key: value for key, value in vars(args).items() if key not in skip}


def _jsonable(value: object) -> object:
    """Plain JSON types; NaN and infinities become null."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    return value


def run(args: argparse.Namespace, say: _Say | None = None) -> dict[str, Any]:
    """Run the command ``args`` asks for; print its tables; write results.json and the figures."""
    say = say or _Console()
    if args.command == "sweep":
        return _sweep_cli.run(args, say)
    started = time.perf_counter()
    if args.threads is not None:
        wn.set_num_threads(args.threads)
    progress = not args.no_progress and sys.stderr.isatty()
    dataset = datasets.load(args.data, csv_path=args.csv, target=args.target, n_examples=args.n_examples,
                            test_fraction=args.test_fraction, seed=args.seed)
    out = _output_folder(args.out)
    layer_sizes = (dataset.n_features, *args.hidden, 1)
    model = wn.MLP(layer_sizes, args.activation)
    schedule = experiments.Schedule(args.optimizer, args.lr, args.momentum, args.epochs, args.cooldown_epochs,
                                     args.batch_size)
    results = {"command": args.command, "weightnoise_version": wn.__version__, "settings": _settings(args),
               "data": dataset.describe(),
               "model": {"layer_sizes": list(layer_sizes), "activation": args.activation, "n_params": model.n_params},
               "environment": {"python": platform.python_version(), "numpy": np.__version__,
                               "threads": wn.get_num_threads()}}
    say(f"weightnoise {wn.__version__} {args.command}: {dataset.description}")
    say(f"  {dataset.X_train.shape[0]} training and {dataset.X_test.shape[0]} test rows, inputs and target "
        f"standardized; model {list(layer_sizes)} {args.activation}, {model.n_params} parameters; "
        f"{wn.get_num_threads()} threads")

    if args.command in ("demo", "equivalence"):
        results["equivalence"] = experiments.equivalence_experiment(
            dataset, layer_sizes=layer_sizes, activation=args.activation, etas=args.etas, n_draws=args.draws,
            noise=args.noise, schedule=schedule, seed=args.seed, progress=progress)
        say.section("Weight noise against the gradient penalty, at initialization")
        say(report.equivalence_table(results["equivalence"]["at_initialization"]))
        say.section("The same after plain training")
        say(f"trained by {report.schedule_line(schedule.to_dict(), dataset.X_train.shape[0])}")
        say(report.equivalence_table(results["equivalence"]["after_training"]))

    if args.command in ("demo", "train"):
        total_epochs = args.epochs + args.cooldown_epochs
        monitor_every = args.monitor_every or max(1, total_epochs // 40)
        results["training"] = experiments.training_experiment(
            dataset, layer_sizes=layer_sizes, activation=args.activation, etas=args.train_etas, noise=args.noise,
            schedule=schedule, seed=args.seed, n_draws=args.eval_draws, monitor_every=monitor_every,
            progress=progress)
        say.section("Training with noise, with the penalty, and plainly, from one start on the same batches")
        say(f"{report.schedule_line(schedule.to_dict(), dataset.X_train.shape[0])}; J̃_η: {args.noise} noise, "
            f"{args.eval_draws} antithetic draws; ηΩ and ηC on the training rows")
        for run_result in results["training"]["runs"]:
            say()
            say(report.training_table(run_result))

    say.section("Reading the numbers")
    say(report.summary(results))
    results["figures"] = _draw(results, out, args, say)
    results["seconds"] = time.perf_counter() - started
    path = out / "results.json"
    path.write_text(json.dumps(_jsonable(results), indent=1, allow_nan=False) + "\n", encoding="utf-8")
    say()
    say(f"Wrote {path}" + "".join(f", {figure}" for figure in results["figures"])
        + f" in {results['seconds']:.1f} s.")
    return results


def _output_folder(path: StrPath) -> Path:
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise CLIError(f"--out {out} is a file, not a folder")
    out.mkdir(parents=True, exist_ok=True)
    return out


def _draw(results: dict[str, Any], out: Path, args: argparse.Namespace, say: _Say) -> list[str]:
    if args.no_plots:
        return []
    if not plots.available():
        print(report.for_terminal(f"weightnoise: matplotlib is not installed, so no figures were drawn; "
                                  f"{plots.INSTALL_HINT} to get them.", sys.stderr.encoding), file=sys.stderr)
        return []
    return [str(path) for path in plots.draw_all(results, out)]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``weightnoise`` command; returns the exit status.

    Errors in the arguments, the data or the output folder, and work too
    large for memory, print one line, ``weightnoise: error: …``, to stderr
    and return 2; no traceback.
    """
    try:
        args = parse(argv)
        run(args)
    except SystemExit as exit_:  # argparse: --help, --version and usage errors
        return exit_.code if isinstance(exit_.code, int) else EXIT_ERROR
    except KeyboardInterrupt:
        print("weightnoise: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (CLIError, ValueError, TypeError, OSError, MemoryError) as exc:
        if os.environ.get("WEIGHTNOISE_TRACEBACK"):
            raise
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(report.for_terminal(f"weightnoise: error: {message}", sys.stderr.encoding), file=sys.stderr)
        return EXIT_ERROR
    return 0


if __name__ == "__main__":
    sys.exit(main())
