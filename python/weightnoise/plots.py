"""Figures of the command line's experiments, drawn with matplotlib (an optional extra).

matplotlib is imported only when a figure is drawn, and only through its
object-oriented API (``Figure`` with the Agg canvas): no pyplot, no global
backend switch, nothing shown on screen.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from ._typing import Array, StrPath

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

INSTALL_HINT = "pip install 'weightnoise[plot]' (or pip install matplotlib)"
COLORS = {"plain": "tab:gray", "noise": "tab:blue", "penalty": "tab:orange"}
PANELS = (("at_initialization", "at initialization"), ("after_training", "after plain training"))


def available() -> bool:
    """Whether matplotlib can be imported."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _figure(n_rows: int, n_cols: int, size: tuple[float, float]) -> tuple[Figure, NDArray[np.object_]]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=size, dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(n_rows, n_cols, squeeze=False)
    return figure, axes


def _title(result: dict[str, Any], label: str) -> str:
    ratio = result["curvature"] / result["penalty"] if result["penalty"] else float("nan")
    return f"{label}: C/Ω = {ratio:+.1%}"


def equivalence_figure(equivalence: dict[str, Any], path: StrPath) -> Path:
    """Log-log |J̃_η − J| against η, measured with error bars, and the η·Ω and η·(Ω + C) predictions."""
    figure, axes = _figure(1, 2, (10, 4.2))
    for ax, (key, label) in zip(axes[0], PANELS):
        result = equivalence[key]
        table = {name: np.asarray(values) for name, values in result["table"].items()}
        eta, J = table["eta"], result["loss"]
        measured = np.abs(table["measured"] - J)
        ax.errorbar(eta, measured, yerr=table["stderr"], fmt="o", color="black", ms=5, capsize=3,
                    label="measured |J̃_η − J| ± stderr")
        ax.plot(eta, eta * result["penalty"], "--", color="tab:orange", label="ηΩ (textbook)")
        ax.plot(eta, np.abs(eta * (result["penalty"] + result["curvature"])), "-", color="tab:blue",
                label="|ηΩ + ηC| (second order)")
        ax.set(xscale="log", yscale="log", xlabel="noise variance η", ylabel="|J̃_η − J|",
               title=_title(result, label))
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=8)
    return _save(figure, path)


def _fitted_line(ax: Axes, eta: Array, fit: dict[str, Any], residual: Array, color: str, name: str) -> None:
    fitted = np.asarray(fit["fitted"])
    if fit["n_points"] < 2:
        return
    x, r = eta[fitted], np.abs(residual[fitted])
    # Through the geometric mean of the fitted points, with the fitted slope.
    centre_x, centre_y = np.exp(np.mean(np.log(x))), np.exp(np.mean(np.log(r)))
    grid = np.array([x.min(), x.max()])
    ax.plot(grid, centre_y * (grid / centre_x) ** fit["slope"], "-", color=color, lw=2, alpha=0.6,
            label=f"{name}: fitted slope {fit['slope']:.2f}")


def slopes_figure(equivalence: dict[str, Any], path: StrPath) -> Path:
    """|J̃ − (J+ηΩ)| and |J̃ − (J+ηΩ+ηC)| against η with their fitted slopes and the noise floor."""
    figure, axes = _figure(1, 2, (10, 4.2))
    series = (("residual_textbook", "slope_textbook", "tab:orange", "J̃ − (J+ηΩ)"),
              ("residual_second_order", "slope_second_order", "tab:blue", "J̃ − (J+ηΩ+ηC)"))
    for ax, (key, label) in zip(axes[0], PANELS):
        result = equivalence[key]
        table = {name: np.asarray(values) for name, values in result["table"].items()}
        eta = table["eta"]
        for column, slope_key, color, name in series:
            residual, fit = table[column], result[slope_key]
            resolved = np.asarray(fit["resolved"])
            magnitude = np.maximum(np.abs(residual), 1e-300)
            ax.errorbar(eta[resolved], magnitude[resolved], yerr=table["stderr"][resolved], fmt="o", color=color,
                        ms=5, capsize=3, label=f"|{name}|")
            ax.plot(eta[~resolved], magnitude[~resolved], "o", mfc="none", color=color, ms=5)
            _fitted_line(ax, eta, fit, residual, color, name)
        ax.plot(eta, 3 * table["stderr"], ":", color="gray", label="3 × stderr: below it, not resolved")
        ax.set(xscale="log", yscale="log", xlabel="noise variance η", ylabel="|residual|",
               title=_title(result, label))
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=8)
    return _save(figure, path)


def training_figure(training: dict[str, Any], path: StrPath) -> Path:
    """Training curves of the three objectives: train J, test J and train J̃_η, one row per η."""
    runs = training["runs"]
    figure, axes = _figure(len(runs), 3, (12, 3.3 * len(runs)))
    columns = (("loss", "train J"), ("val_loss", "test J"), ("perturbed_loss", "train J̃_η"))
    for row, run in zip(axes, runs):
        for ax, (key, label) in zip(row, columns):
            for objective, history in run["history"].items():
                points = [(record["epoch"], record[key]) for record in history if key in record]
                if points:
                    epochs, values = np.array(points).T
                    ax.plot(epochs, values, color=COLORS.get(objective), label=objective)
            cooldown = [record["epoch"] for record in next(iter(run["history"].values())) if record.get("phase") == 2]
            if cooldown:
                ax.axvline(cooldown[0] - 1, color="gray", ls=":", lw=1)
            ax.set(yscale="log", xlabel="epoch", title=f"{label}, η = {run['eta']:g}")
            ax.grid(True, which="major", alpha=0.3)
        row[0].legend(fontsize=8)
    return _save(figure, path)


def _save(figure: Figure, path: StrPath) -> Path:
    path = Path(path)
    figure.savefig(path)
    return path


def draw_all(results: dict[str, Any], folder: StrPath) -> list[Path]:
    """Every figure the results allow, as PNG files in ``folder``."""
    folder = Path(folder)
    paths: list[Path] = []
    if "equivalence" in results:
        paths.append(equivalence_figure(results["equivalence"], folder / "equivalence.png"))
        paths.append(slopes_figure(results["equivalence"], folder / "residual_slopes.png"))
    if "training" in results:
        paths.append(training_figure(results["training"], folder / "training_curves.png"))
    return paths


# Lines of the sweep figure's distance panel: the columns, their labels and styles.
SWEEP_DISTANCES = (("noise_penalty_distance", "noise–penalty", "black", "-"),
                   ("noise_plain_distance", "noise–plain", COLORS["noise"], ":"),
                   ("penalty_plain_distance", "penalty–plain", COLORS["penalty"], ":"))
SWEEP_MAX_ROWS = 8


def sweep_figure(results: pd.DataFrame, path: StrPath) -> Path:
    """Test J and the distances between the learned functions against η, from a sweep's results.

    One line per objective (and per distance): the mean over seeds, shaded
    from the lowest to the highest seed. Settings other than η and the seed
    that vary in ``results`` (architecture, data set, learning rate, …) get
    one row of panels per combination.

    Parameters
    ----------
    results : pandas.DataFrame
        What :func:`weightnoise.sweep` returns (or
        ``weightnoise.sweep.load_results(path)``); rows with an error are left out.
    path : path
        The PNG file to write.

    Raises
    ------
    ImportError
        Without matplotlib.
    ValueError
        With no finished row, or more than 8 combinations of the other settings
        (select rows first, e.g. ``results[results.hidden == "32x32"]``).
    """
    if not available():
        raise ImportError(f"the sweep figure needs matplotlib: {INSTALL_HINT}")
    from ._sweep_grid import SETTINGS

    finished = results[results["error"].fillna("") == ""]
    if finished.empty:
        raise ValueError("the sweep results hold no finished point to draw")
    varying = [name for name in SETTINGS if name not in ("eta", "seed", "objectives")
               and finished[name].nunique(dropna=False) > 1]
    groups = list(finished.groupby(varying, dropna=False, sort=True)) if varying else [((), finished)]
    if len(groups) > SWEEP_MAX_ROWS:
        raise ValueError(f"{', '.join(varying)} vary together in {len(groups)} combinations, more than the "
                         f"{SWEEP_MAX_ROWS} rows of panels a figure holds; draw a selection of the rows")
    figure, axes = _figure(len(groups), 2, (11, 3.8 * len(groups)))
    for (values, group), (loss_ax, distance_ax) in zip(groups, axes):
        values = values if isinstance(values, tuple) else (values,)
        label = ", ".join(f"{name} {value}" for name, value in zip(varying, values))
        seeds = group["seed"].nunique()
        spread = f"mean of {seeds} seeds, band: lowest to highest" if seeds > 1 else "one seed"
        for objective, color in COLORS.items():
            _spread_line(loss_ax, group, f"{objective}_test_loss", objective, color, "-")
        for column, name, color, style in SWEEP_DISTANCES:
            _spread_line(distance_ax, group, column, name, color, style)
        log_eta = bool((group["eta"] > 0).all())
        loss_ax.set(xscale="log" if log_eta else "linear", xlabel="noise variance η", ylabel="test J",
                    title=f"test J ({spread})" + (f"\n{label}" if label else ""))
        distance_ax.set(xscale="log" if log_eta else "linear", xlabel="noise variance η",
                        ylabel="RMS distance on the test inputs",
                        title="distance between the learned functions" + (f"\n{label}" if label else ""))
        for ax in (loss_ax, distance_ax):
            ax.grid(True, which="major", alpha=0.3)
            if ax.get_legend_handles_labels()[0]:
                ax.legend(fontsize=8)
    return _save(figure, path)


def _spread_line(ax: Axes, rows: pd.DataFrame, column: str, label: str, color: str, style: str) -> None:
    """The mean of ``column`` over seeds against η, shaded from its minimum to its maximum."""
    stats = rows.groupby("eta")[column].agg(["mean", "min", "max"]).dropna()
    if stats.empty:
        return
    eta = stats.index.to_numpy(dtype=float)
    ax.plot(eta, stats["mean"], marker="o", ms=4, ls=style, color=color, label=label)
    ax.fill_between(eta, stats["min"], stats["max"], color=color, alpha=0.15, lw=0)
