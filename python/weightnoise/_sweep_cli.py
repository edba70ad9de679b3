"""The ``weightnoise sweep`` subcommand: a grid of training runs on a Dask cluster, from the command line.

    weightnoise sweep --etas 0.001 0.01 0.1 --seeds 0 1 2 --hidden 32x32 64 --epochs 200
    weightnoise sweep --grid grid.json --scheduler tcp://10.0.0.5:8786 --format parquet

Each grid option takes several values and the grid is their Cartesian
product (``--grid FILE`` reads one from JSON instead). Results go to
``OUT/results.csv`` (or ``OUT/results.parquet``) one row per finished point,
and a rerun with the same options runs only the missing points.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable, Collection
from pathlib import Path
from typing import TYPE_CHECKING, Any

import weightnoise as wn

from . import datasets, plots
from ._typing import StrPath
from .experiments import OBJECTIVES

if TYPE_CHECKING:
    import pandas as pd

    from .cli import _Say

DEFAULT_ETAS = [0.003, 0.01, 0.03]
DEFAULT_SEEDS = [0, 1, 2]
# Grid options: flag, setting name, metavar, help. Each takes one or more values.
GRID_OPTIONS = (
    ("--etas", "eta", "ETA", "noise variances η (default 0.003 0.01 0.03)"),
    ("--seeds", "seed", "SEED", "seeds of the initialization, the minibatches and the noise (default 0 1 2)"),
    ("--hidden", "hidden", "WIDTHS", "architectures as hidden widths, e.g. 32x32 64 (default 32x32)"),
    ("--activation", "activation", "NAME", f"activations: {', '.join(wn.ACTIVATIONS)} (default tanh)"),
    ("--noise", "noise", "MODE", f"noise modes: {', '.join(wn.NOISE_MODES)} (default local)"),
    ("--optimizer", "optimizer", "NAME", "sgd and/or adam (default sgd)"),
    ("--lr", "lr", "LR", "learning rates (default 0.05)"),
    ("--momentum", "momentum", "M", "SGD momenta in [0, 1) (default 0.9)"),
    ("--epochs", "epochs", "N", "epochs of the first phase (default 400)"),
    ("--cooldown-epochs", "cooldown_epochs", "N",
     "epochs at a tenth of the learning rate after the first phase (default: half of --epochs)"),
    ("--batch-size", "batch_size", "N", "minibatch sizes (default: full batch)"),
)
RESULTS = {"csv": "results.csv", "parquet": "results.parquet"}
FIGURE = "sweep.png"


def add_parser(commands: argparse._SubParsersAction[Any]) -> argparse.ArgumentParser:
    """Add the ``sweep`` subcommand to the ``weightnoise`` command's subparsers."""
    from .cli import _fraction, _non_negative_int, _positive_float, _positive_int

    parser: argparse.ArgumentParser = commands.add_parser(
        "sweep", help="grids of η, seeds, architectures and data sets, trained on a Dask cluster",
        description="Trains every point of a grid (the product of the grid options' values) as one Dask task: "
                    "plain, noise and penalty training from one start, their final J, J̃_η, ηΩ, ηC and test J, "
                    "and the distance between the noise- and penalty-trained functions. Rows are written as "
                    "points finish; a rerun runs only the missing ones. Needs pip install 'weightnoise[sweep]'.")
    grid = parser.add_argument_group("the grid (each option takes one or more values)")
    for flag, setting, metavar, text in GRID_OPTIONS:
        grid.add_argument(flag, dest=f"grid_{setting}", nargs="+", metavar=metavar, help=text,
                          type=_setting_type(setting))
    grid.add_argument("--objectives", nargs="+", choices=OBJECTIVES, default=list(OBJECTIVES),
                      help="objectives each point trains from one start (default all three)")
    grid.add_argument("--eval-draws", type=_positive_int, default=100, metavar="K",
                      help="antithetic draws of each trained model's final J̃_η (default 100)")
    grid.add_argument("--grid", metavar="FILE", help="a JSON grid instead of the options above: a dict of lists "
                                                     "of settings, or a list of dicts (see docs/sweeps.md)")
    data = parser.add_argument_group("data (each data set is standardized with its training rows' statistics)")
    data.add_argument("--data", nargs="+", choices=("synthetic", "diabetes"), metavar="NAME",
                      help="built-in data sets: synthetic and/or diabetes (default synthetic, unless --csv)")
    data.add_argument("--csv", metavar="PATH", help="your own data: a CSV file with a header row, numbers only")
    data.add_argument("--target", metavar="COLUMN", help="the CSV column to predict")
    data.add_argument("--n-examples", type=_positive_int, default=800, metavar="N",
                      help="rows of the synthetic data (default 800)")
    data.add_argument("--test-fraction", type=_fraction, default=0.25, metavar="F",
                      help="share of rows held out for testing (default 0.25)")
    data.add_argument("--data-seed", type=_non_negative_int, default=0, metavar="SEED",
                      help="seed of the synthetic data and of the train/test split (default 0)")
    cluster = parser.add_argument_group("cluster")
    cluster.add_argument("--scheduler", metavar="ADDRESS",
                         help="a Dask scheduler, e.g. tcp://10.0.0.5:8786 (default: a local cluster)")
    cluster.add_argument("--workers", type=_positive_int, metavar="N",
                         help="worker processes of the local cluster (default: one per core)")
    cluster.add_argument("--threads", type=_positive_int, metavar="N",
                         help="OpenMP threads per task (default: a host's cores over its task slots)")
    cluster.add_argument("--timeout", type=_positive_float, metavar="SECONDS",
                         help="stop waiting after this long; finished rows are kept (default: no limit)")
    output = parser.add_argument_group("output")
    output.add_argument("--out", default="weightnoise-sweep", metavar="DIR",
                        help="folder for the results and sweep.png (default weightnoise-sweep)")
    output.add_argument("--format", choices=tuple(RESULTS), default="csv",
                        help="results as one CSV file, or a folder of Parquet files (needs pyarrow; default csv)")
    output.add_argument("--no-plots", action="store_true", help="draw no figure")
    output.add_argument("--no-progress", action="store_true",
                        help="print no progress bar, dashboard address or cluster line")
    return parser


def _setting_type(setting: str) -> Callable[[str], Any]:
    """argparse's type for one grid value; sweep() checks the values once more, naming the point."""
    from ._sweep_grid import as_hidden
    from .cli import _momentum, _non_negative_int, _positive_float, _positive_int

    def hidden(text: str) -> list[int]:
        try:
            return as_hidden(text, "--hidden")
        except (TypeError, ValueError) as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    def eta(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not (math.isfinite(value) and value >= 0):
            raise argparse.ArgumentTypeError(f"must be a finite non-negative number, got {text!r}")
        return value

    def choice(choices: Collection[str]) -> Callable[[str], str]:
        def check(text: str) -> str:
            if text not in choices:
                raise argparse.ArgumentTypeError(f"choose from {', '.join(choices)}; got {text!r}")
            return text
        return check

    return {"eta": eta, "seed": _non_negative_int, "hidden": hidden, "activation": choice(wn.ACTIVATIONS),
            "noise": choice(wn.NOISE_MODES), "optimizer": choice(("sgd", "adam")), "lr": _positive_float,
            "momentum": _momentum, "epochs": _non_negative_int, "cooldown_epochs": _non_negative_int,
            "batch_size": _positive_int}[setting]


def check(args: argparse.Namespace) -> argparse.Namespace:
    """The sweep's arguments, checked across options; ``args.grid`` becomes the grid itself."""
    from .cli import CLIError

    if (args.csv is None) != (args.target is None):
        raise CLIError("--csv PATH and --target COLUMN go together")
    given = [flag for flag, setting, *_ in GRID_OPTIONS if getattr(args, f"grid_{setting}") is not None]
    if args.grid is not None:
        if given:
            raise CLIError(f"--grid replaces the grid options; drop {', '.join(given)}")
        args.grid = read_grid(args.grid)
    else:
        args.grid = {"eta": args.grid_eta or DEFAULT_ETAS, "seed": args.grid_seed or DEFAULT_SEEDS}
        for _, setting, *_ in GRID_OPTIONS[2:]:
            values = getattr(args, f"grid_{setting}")
            if values is not None:
                args.grid[setting] = values
        args.grid["objectives"] = [args.objectives]
        args.grid["eval_draws"] = [args.eval_draws]
    return args


def read_grid(path: StrPath) -> dict[str, Any] | list[Any]:
    """A grid from a JSON file: a dict of lists, or a list of dicts."""
    from .cli import CLIError

    path = Path(path)
    try:
        grid = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CLIError(f"cannot read --grid {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise CLIError(f"--grid {path} is not JSON: {exc}") from None
    if not isinstance(grid, (dict, list)):
        raise CLIError(f"--grid {path} must hold a JSON object (dict of lists) or an array of objects")
    return grid


def load_data(args: argparse.Namespace) -> dict[str, datasets.Dataset]:
    """The named data sets the arguments ask for."""
    names = args.data or ([] if args.csv else ["synthetic"])
    data = {name: datasets.load(name, n_examples=args.n_examples, test_fraction=args.test_fraction,
                                seed=args.data_seed) for name in dict.fromkeys(names)}
    if args.csv:
        dataset = datasets.load(csv_path=args.csv, target=args.target, test_fraction=args.test_fraction,
                                seed=args.data_seed)
        data[dataset.name] = dataset
    return data


def run(args: argparse.Namespace, say: _Say) -> dict[str, Any]:
    """Run the sweep; print a summary table; write the results file and the figure."""
    from .cli import CLIError, _output_folder
    from .sweep import sweep

    data = load_data(args)
    out = _output_folder(args.out)
    path = out / RESULTS[args.format]
    say(f"weightnoise {wn.__version__} sweep: " + "; ".join(d.description for d in data.values()))
    try:
        results = sweep(args.grid, data, scheduler=args.scheduler, out=path, n_workers=args.workers,
                        threads=args.threads, progress=not args.no_progress, timeout=args.timeout)
    except ImportError as exc:
        raise CLIError(str(exc)) from None
    say()
    say(summary_table(results))
    figures = [] if args.no_plots else _draw(results, out / FIGURE, say)
    failed = int((results["error"] != "").sum())
    say()
    say(f"Wrote {path}" + "".join(f", {figure}" for figure in figures) + f": {len(results)} points"
        + (f", {failed} failed (see the 'error' column)" if failed else ""))
    return {"results": results, "path": str(path), "figures": figures}


def summary_table(results: pd.DataFrame) -> str:
    """Means over seeds per η (and per other setting that varies): test J of each objective and the
    noise–penalty distance."""
    from ._sweep_grid import SETTINGS

    finished = results[results["error"] == ""]
    if finished.empty:
        return "No point finished."
    varying = [name for name in SETTINGS if name not in ("eta", "seed")
               and finished[name].nunique(dropna=False) > 1]
    columns = {f"test J {objective}": (f"{objective}_test_loss", "mean") for objective in OBJECTIVES
               if finished[f"{objective}_test_loss"].notna().any()}
    if finished["noise_penalty_distance"].notna().any():
        columns["noise–penalty distance"] = ("noise_penalty_distance", "mean")
    columns["seeds"] = ("seed", "nunique")
    table = finished.groupby([*varying, "eta"], dropna=False).agg(**columns)
    text: str = table.to_string(float_format=lambda value: f"{value:.4g}" if math.isfinite(value) else "-")
    return "Means over seeds\n" + text


def _draw(results: pd.DataFrame, path: Path, say: _Say) -> list[str]:
    from . import report

    if not plots.available():
        print(report.for_terminal(f"weightnoise: matplotlib is not installed, so no figure was drawn; "
                                  f"{plots.INSTALL_HINT} to get it.", sys.stderr.encoding), file=sys.stderr)
        return []
    try:
        return [str(plots.sweep_figure(results, path))]
    except ValueError as exc:  # nothing finished, or too many combinations for one figure
        say(f"No figure: {exc}")
        return []
