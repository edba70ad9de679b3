"""Terminal tables of the command line's experiments.

Each function takes the plain dicts of :mod:`weightnoise.experiments` and
returns text; nothing here computes a result.
"""

from __future__ import annotations

import math
import unicodedata
from typing import Any

from .experiments import EXPANSION_RANGE, RESOLVED_STDERRS

# ASCII stand-ins for terminals that cannot show the symbols.
ASCII = {"J̃": "J~", "η": "eta", "Ω": "Omega", "±": "+-", "—": "-", "–": "-", "−": "-", "─": "-", "·": "*",
         "≈": "~", "→": "->", "²": "^2", "×": "x", "…": "...", "≥": ">=", "≤": "<=", "≠": "!="}
# Column widths: every column of the equivalence table; the training table's after its first.
EQUIVALENCE_WIDTHS = (8, 22, 11, 11, 12, 15)
TRAINING_WIDTHS = (8, 8, 20, 20, 9, 10)


def for_terminal(text: str, encoding: str | None) -> str:
    """``text``, with its symbols spelled in ASCII if ``encoding`` cannot show them."""
    try:
        text.encode(encoding or "ascii")
        return text
    except (UnicodeEncodeError, LookupError):
        for symbol, spelled in ASCII.items():
            text = text.replace(symbol, spelled)
        return text.encode("ascii", "replace").decode("ascii")


def _width(text: str) -> int:
    """Columns ``text`` takes on a terminal: combining marks (the tilde of J̃) take none."""
    return sum(0 if unicodedata.combining(char) else 1 for char in text)


def _right(text: str, width: int) -> str:
    return " " * max(0, width - _width(text)) + text


def _left(text: str, width: int) -> str:
    return text + " " * max(0, width - _width(text))


def _g(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.{digits}g}"


def _eta(value: float) -> str:
    return f"{value:.2g}"


def _slope_line(name: str, fit: dict[str, Any], expected: str) -> str:
    if fit["n_points"] < 2:
        return f"  {name}  not measurable: fewer than two η where it is resolved and in range ({expected})"
    return (f"  {name}  {fit['slope']:5.2f}   over η {_eta(fit['eta_min'])} … {_eta(fit['eta_max'])}, "
            f"{fit['n_points']} points   ({expected})")


def equivalence_table(result: dict[str, Any]) -> str:
    """The table of one :func:`~weightnoise.experiments.measure_equivalence` result."""
    J, omega, C = result["loss"], result["penalty"], result["curvature"]
    ratio = C / omega if omega else float("nan")
    lines = [f"J = {J:.6g}   Ω = {omega:.6g}   C = {C:.4g}   (ηC is {ratio:+.1%} of ηΩ)",
             (f"{result['noise']} noise, {result['n_draws']} antithetic draws per η, the same draws at every η "
             f"(common random numbers), {result['n_examples']} training rows"),
             "",
             "  ".join(_right(name, width) for name, width in zip(
                 ("η", "measured J̃_η ± stderr", "J + ηΩ", "J + ηΩ + ηC", "J̃ − (J+ηΩ)", "J̃ − (J+ηΩ+ηC)"),
                 EQUIVALENCE_WIDTHS))]
    table = result["table"]
    textbook, second = result["slope_textbook"], result["slope_second_order"]
    for i, eta in enumerate(table["eta"]):
        measured = f"{table['measured'][i]:.7g} ± {table['stderr'][i]:.2g}"
        cells = [_eta(eta), measured, f"{table['textbook'][i]:.7g}", f"{table['second_order'][i]:.7g}"]
        for fit, key in ((textbook, "residual_textbook"), (second, "residual_second_order")):
            text = f"{table[key][i]:.3g}"
            cells.append(text if fit["resolved"][i] else f"({text})")
        flag = "" if result["in_expansion_range"][i] else "  !"
        lines.append("  ".join(_right(cell, width) for cell, width in zip(cells, EQUIVALENCE_WIDTHS)) + flag)
    lines.append("")
    if not all(textbook["resolved"]) or not all(second["resolved"]):
        lines.append(f"(…) residual within {RESOLVED_STDERRS:g} standard errors of zero: not resolved, not fitted.")
    if not all(result["in_expansion_range"]):
        lines.append(f"!   beyond the expansion's range (remainder over {EXPANSION_RANGE:.0%} of ηΩ + ηC): not fitted.")
    lines += ["Fitted log-log slope of |residual| against η:",
              _slope_line("J̃ − (J+ηΩ)   ", textbook, "textbook: about 1 where C ≠ 0, it misses ηC"),
              _slope_line("J̃ − (J+ηΩ+ηC)", second, "second order: about 2, the O(η²) remainder")]
    return "\n".join(lines)


def _objective_row(name: str, final: dict[str, Any]) -> str:
    cells = [name, f"{final['train_loss']:.4g}", f"{final['test_loss']:.4g}",
             f"{final['train_perturbed_loss']:.4g} ± {final['train_perturbed_loss_stderr']:.2g}",
             f"{final['test_perturbed_loss']:.4g} ± {final['test_perturbed_loss_stderr']:.2g}",
             f"{final['eta_penalty']:.4g}", f"{final['eta_curvature']:.3g}"]
    return _training_row(cells)


def _training_row(cells: list[str]) -> str:
    return _left(cells[0], 9) + "".join("  " + _right(cell, width) for cell, width in zip(cells[1:], TRAINING_WIDTHS))


def training_table(run: dict[str, Any]) -> str:
    """The final terms and function-space distances of one η of the training experiment."""
    lines = [f"η = {run['eta']:g}",
             _training_row(["objective", "train J", "test J", "train J̃_η ± stderr", "test J̃_η ± stderr", "ηΩ", "ηC"])]
    lines += [_objective_row(name, final) for name, final in run["final"].items()]
    d = run["distances"]
    lines.append(f"function distance, RMS on the test inputs: noise–penalty {d['noise_penalty']:.3g}, "
                 f"noise–plain {d['noise_plain']:.3g}, penalty–plain {d['penalty_plain']:.3g}")
    ratio = relative_distance(run)
    if math.isfinite(ratio):
        lines.append(f"→ {_verdict(ratio)}: their distance is {ratio:.0%} of the smaller distance to plain training")
    return "\n".join(lines)


def _verdict(ratio: float) -> str:
    if ratio < 0.35:
        return "noise and penalty training learn nearly the same function"
    if ratio < 1:
        return "noise and penalty training pull the same way but learn visibly different functions"
    return "noise and penalty training disagree"


def schedule_line(schedule: dict[str, Any], n_train: int) -> str:
    batch = "full batch" if not schedule["batch_size"] else f"batches of {schedule['batch_size']}"
    momentum = f", momentum {schedule['momentum']:g}" if schedule["optimizer"] == "sgd" else ""
    line = f"{schedule['optimizer']} ({batch} of {n_train} rows{momentum}), lr {schedule['lr']:g} for " \
           f"{schedule['epochs']} epochs"
    if schedule["cooldown_epochs"]:
        line += f", then lr {schedule['lr'] / 10:g} for {schedule['cooldown_epochs']}"
    return line


def _curvature_sentence(result: dict[str, Any], when: str) -> str:
    ratio = result["curvature"] / result["penalty"] if result["penalty"] else float("nan")
    textbook, second = result["slope_textbook"]["slope"], result["slope_second_order"]["slope"]
    if abs(ratio) >= 0.05:
        return (f"{when} C/Ω = {ratio:+.1%}: the textbook J + ηΩ misses J̃_η by ηC (residual slope {_g(textbook, 2)}); "
                f"adding ηC leaves the O(η²) remainder (slope {_g(second, 2)}).")
    return (f"{when} C/Ω = {ratio:+.1%}: ηC is small, so the textbook J + ηΩ predicts J̃_η nearly as well as "
            f"J + ηΩ + ηC (residual slopes {_g(textbook, 2)} and {_g(second, 2)}).")


def relative_distance(run: dict[str, Any]) -> float:
    """The noise–penalty distance over the smaller distance of either to plain training."""
    d = run["distances"]
    scale = min(d["noise_plain"], d["penalty_plain"])
    return d["noise_penalty"] / scale if scale > 0 else float("nan")


def summary(results: dict[str, Any]) -> str:
    """A few sentences that read the numbers."""
    lines = []
    equivalence = results.get("equivalence")
    if equivalence:
        lines.append(_curvature_sentence(equivalence["at_initialization"], "At initialization"))
        lines.append(_curvature_sentence(equivalence["after_training"], "After plain training"))
    training = results.get("training")
    if training:
        parts = [f"η = {run['eta']:g}: {_g(relative_distance(run), 2)}" for run in training["runs"]]
        lines.append("Noise–penalty distance over the distance to plain training: " + ", ".join(parts)
                     + " (0: noise and penalty training learn the same function; 1: they differ as much as "
                     "either differs from plain training).")
    return "\n".join(lines)
