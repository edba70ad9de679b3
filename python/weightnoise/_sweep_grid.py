"""The points of a sweep: a grid of fit settings expanded, checked, completed with defaults and keyed.

A point's *config* holds every setting (defaults filled in, values in one
canonical form), so two spellings of the same training run get the same
*key*: a hash of the config and of the data's contents. A results file is
indexed by these keys, which is how a rerun recognizes finished points.
"""

from __future__ import annotations

import difflib
import hashlib
import itertools
import json
import numbers
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, Union

from . import _checks
from .experiments import OBJECTIVES, Schedule
from .model import ACTIVATIONS
from .noise import NOISE_MODES

OPTIMIZERS = ("sgd", "adam")
# Training defaults are the command line's (experiments.Schedule); cooldown None means half of the epochs.
_SCHEDULE = {field.name: field.default for field in fields(Schedule)}
DEFAULTS: dict[str, Any] = {
    "dataset": None,  # the only data set, or each of several
    "eta": None,  # required
    "seed": 0,
    "hidden": (32, 32),
    "activation": "tanh",
    "objectives": OBJECTIVES,
    "noise": "local",
    "optimizer": _SCHEDULE["optimizer"],
    "lr": _SCHEDULE["lr"],
    "momentum": _SCHEDULE["momentum"],
    "epochs": _SCHEDULE["epochs"],
    "cooldown_epochs": None,
    "batch_size": _SCHEDULE["batch_size"],
    "eval_draws": 100,
}
SETTINGS = tuple(DEFAULTS)
# "objective" names a single objective: {"objective": ["noise", "penalty"]} sweeps over it.
ALIASES = {"objective": "objectives"}
# A grid as sweep() takes it: a dict of lists of values, or a list of dicts of settings.
Grid = Union[Mapping[str, Sequence[Any]], Sequence[Mapping[str, Any]]]
KEY_LENGTH = 16  # hex digits of the SHA-256: 64 bits, no collision in any realistic sweep


@dataclass(frozen=True)
class Point:
    """One training run of a sweep.

    Attributes
    ----------
    config : dict
        Every setting, in canonical form (see :data:`DEFAULTS` for the names).
    key : str
        A stable hash of ``config`` and the data's contents.
    """

    config: dict[str, Any]
    key: str


def expand(grid: Grid, datasets: Mapping[str, str]) -> list[Point]:
    """The points of ``grid``, in grid order.

    Parameters
    ----------
    grid : dict of lists, or list of dicts
        A dict maps setting names to lists of values and means their Cartesian
        product; a list holds one dict of settings per point. Settings left out
        take :data:`DEFAULTS`; ``eta`` is required.
    datasets : mapping of str to str
        Data-set name to a fingerprint of its contents. A point without
        ``dataset`` runs on the only data set; a dict grid without it runs on each.

    Raises
    ------
    TypeError, ValueError
        For a grid of the wrong type, an empty grid or list of values, an
        unknown setting, a bad value (the message names where it is), or two
        points that are the same training run.
    """
    raw: list[tuple[str, dict[str, Any]]]
    if isinstance(grid, Mapping):
        raw = _product(grid, datasets)
    elif isinstance(grid, Sequence) and not isinstance(grid, (str, bytes)):
        if not grid:
            raise ValueError("grid is empty: give a dict of lists of settings or a non-empty list of configs")
        raw = []
        for i, config in enumerate(grid):
            if not isinstance(config, Mapping):
                raise TypeError(f"grid[{i}] must be a dict of settings, got {type(config).__name__}")
            raw.append((f"grid[{i}]", _known(config, f"grid[{i}]")))
    else:
        raise TypeError(f"grid must be a dict of lists or a list of dicts, got {type(grid).__name__}")

    points: list[Point] = []
    seen: dict[str, str] = {}  # key -> where
    for where, config in raw:
        config = normalize(config, datasets, where)
        key = point_key(config, datasets[config["dataset"]])
        if key in seen:
            raise ValueError(f"{where} repeats the training run of {seen[key]}: {config}")
        seen[key] = where
        points.append(Point(config, key))
    return points


def _known(config: Mapping[str, Any], where: str) -> dict[str, Any]:
    """``config`` with aliases resolved; an unknown or doubly given setting is a ValueError."""
    out: dict[str, Any] = {}
    for name, value in config.items():
        canonical = ALIASES.get(name, name)
        if canonical not in DEFAULTS:
            close = difflib.get_close_matches(str(name), [*SETTINGS, *ALIASES], n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(f"unknown setting {name!r} in {where}{hint}; the settings are {', '.join(SETTINGS)}")
        if canonical in out:
            raise ValueError(f"{where} gives both 'objective' and 'objectives'; use one")
        out[canonical] = _single_objective(value) if name in ALIASES else value
    return out


def _single_objective(value: object) -> object:
    return (value,) if isinstance(value, str) else value


def _product(grid: Mapping[str, Any], datasets: Mapping[str, str]) -> list[tuple[str, dict[str, Any]]]:
    grid = _known(grid, "grid")
    axes: dict[str, list[Any]] = {}
    for name, values in grid.items():
        where = f"grid[{name!r}]"
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
            raise TypeError(f"{where} must be a list of the values to sweep, got {values!r}; write [{values!r}] "
                            "for a single value")
        if not values:
            raise ValueError(f"{where} is empty; give at least one value")
        axes[name] = list(values)
    if "dataset" not in axes:
        axes["dataset"] = list(datasets)
    names = list(axes)
    return [(f"grid point {i} ({', '.join(f'{n}={v!r}' for n, v in zip(names, combo))})", dict(zip(names, combo)))
            for i, combo in enumerate(itertools.product(*axes.values()))]


def normalize(config: Mapping[str, Any], datasets: Mapping[str, str], where: str = "config") -> dict[str, Any]:
    """Every setting of one point, checked, defaults filled in, in canonical form (JSON types).

    ``where`` names the point in error messages.
    """
    config = {**DEFAULTS, **_known(config, where)}
    if config["eta"] is None:
        raise ValueError(f"{where} has no 'eta': every point needs a noise variance")
    if config["dataset"] is None:
        if len(datasets) != 1:
            raise ValueError(f"{where} has no 'dataset', and the data hold several: {', '.join(datasets)}")
        config["dataset"] = next(iter(datasets))
    if config["dataset"] not in datasets:
        raise ValueError(f"{where}: unknown dataset {config['dataset']!r}; the data hold {', '.join(datasets)}")

    def name(setting: str) -> str:
        return f"{where}: {setting}"

    epochs = _checks.as_count(config["epochs"], name("epochs"), 0)
    cooldown = epochs // 2 if config["cooldown_epochs"] is None else config["cooldown_epochs"]
    out = {
        "dataset": config["dataset"],
        "eta": _checks.as_eta(config["eta"], name("eta")),
        "seed": _checks.as_seed(config["seed"], name("seed")),
        "hidden": as_hidden(config["hidden"], name("hidden")),
        "activation": _choice(config["activation"], name("activation"), ACTIVATIONS),
        "objectives": _objectives(config["objectives"], name("objectives")),
        "noise": _choice(config["noise"], name("noise"), NOISE_MODES),
        "optimizer": _choice(config["optimizer"], name("optimizer"), OPTIMIZERS),
        "lr": _checks.as_positive(config["lr"], name("lr")),
        "momentum": _checks.as_fraction(config["momentum"], name("momentum")),
        "epochs": epochs,
        "cooldown_epochs": _checks.as_count(cooldown, name("cooldown_epochs"), 0),
        "batch_size": None if config["batch_size"] is None else _checks.as_count(config["batch_size"],
                                                                                 name("batch_size")),
        "eval_draws": _checks.as_count(config["eval_draws"], name("eval_draws")),
    }
    if out["seed"] >= 2**63:  # the results tables hold their integer columns as int64
        raise ValueError(f"{name('seed')} must be below 2**63 in a sweep, got {out['seed']}")
    if out["epochs"] + out["cooldown_epochs"] == 0:
        raise ValueError(f"{where} trains for no epochs: give epochs or cooldown_epochs above 0")
    return out


def as_hidden(value: object, name: str = "hidden") -> list[int]:
    """Hidden widths from a list of ints, one int, or text such as ``"32x32"``."""
    if isinstance(value, str):
        parts = value.lower().replace(",", "x").split("x")
        try:
            value = [int(part) for part in parts]
        except ValueError:
            raise ValueError(f"{name} must be widths such as '32x32', got {value!r}") from None
    elif isinstance(value, numbers.Integral) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, Sequence) or not value:
        raise TypeError(f"{name} must be a non-empty list of hidden-layer widths, got {value!r}")
    return [_checks.as_count(width, f"{name} width") for width in value]


def _choice(value: object, name: str, choices: Collection[str]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}; got {value!r}")
    return value


def _objectives(value: object, name: str) -> list[str]:
    """Objectives in the canonical order, so that a point's key does not depend on how they were listed."""
    value = _single_objective(value)
    if not isinstance(value, Sequence) or not value:
        raise ValueError(f"{name} must be a non-empty list of {', '.join(OBJECTIVES)}; got {value!r}")
    for objective in value:
        _choice(objective, name, OBJECTIVES)
    if len(set(value)) != len(value):
        raise ValueError(f"{name} lists an objective twice: {value!r}")
    return [objective for objective in OBJECTIVES if objective in value]


def point_key(config: Mapping[str, Any], data_fingerprint: str) -> str:
    """A stable hash of a normalized config and its data: equal for equal training runs, on any machine."""
    text = json.dumps({"config": dict(config), "data": data_fingerprint}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:KEY_LENGTH]


def columns(config: Mapping[str, Any]) -> dict[str, Any]:
    """A config as flat columns for a table: lists become text (``hidden`` ``"32x32"``, ``objectives``
    ``"plain+noise"``)."""
    out = dict(config)
    out["hidden"] = "x".join(map(str, config["hidden"]))
    out["objectives"] = "+".join(config["objectives"])
    return out
