"""Property-based fuzzing of every public function and of the command line.

Every drawn case must end in one of two ways:

* a result that matches :mod:`weightnoise.reference` (where it has the
  function; float64 normwise relative error ≤ 1e-10, float32 ≤ 2e-4, with
  non-finite entries in the same places), or
* a ``ValueError`` or ``TypeError`` whose message names a bad argument
  (``MemoryError`` only where the case set a tiny ``WEIGHTNOISE_MEMORY_LIMIT``;
  ``OSError`` naming the path for file operations).

Which of the two is decided by an oracle written from the documented contract
(dtype, shape, finiteness, ranges), not from the implementation's checks: a
valid call that raises fails, and so does a bad call that returns.

Inputs: random architectures (1 to 3 hidden layers of width 1 to 6, every
activation, float64 and float32), N from 1 to 9 examples, values at relu's
kink, saturated, tiny, huge and subnormal; hostile arrays: NaN, ±Inf, wrong
shapes (0 rows, 1-D, 3-D, transposed, one row or column too many), wrong
dtypes (float16, the other float, int, uint8, bool, complex, object, str,
longdouble), lists and mixed lists, ragged lists, masked arrays, Fortran
order, strided, reversed, read-only, broadcast and misaligned views; bad
scalars (η negative, NaN, ±Inf, huge, bool, str, complex, arrays), counts
(0, negative, 2**32, float, bool), seeds, layer subsets, noise modes, methods,
optimizer states, minibatch ids and batch sizes larger than N; random
thread counts and tiny memory limits.

Profiles, selected by the environment variable HYPOTHESIS_PROFILE:

``ci`` (default)
    derandomized (the same cases on every run), no example database; about
    4,000 cases in total, well under a minute on two cores.
``long``
    random cases, 25 times as many per test, failures saved in .hypothesis/:
    ``HYPOTHESIS_PROFILE=long python -m pytest tests/test_fuzz.py``.
``sanitize``
    a few cases per test, for the ASan/UBSan build (tools/sanitize.sh).

docs/reliability.md tabulates the input classes, case counts and findings.
"""

from __future__ import annotations

import contextlib
import decimal
import fractions
import io
import math
import os
import re
import shutil
import tempfile
import types
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st

import weightnoise as wn
import weightnoise._philox as philox
import weightnoise.reference as ref
from weightnoise import cli

# --- profiles --------------------------------------------------------------------------------------------------

_COMMON = dict(deadline=None, print_blob=True,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                      HealthCheck.filter_too_much, HealthCheck.large_base_example])
PROFILES = {
    "ci": settings(max_examples=150, derandomize=True, database=None, **_COMMON),
    "long": settings(max_examples=3750, derandomize=False, **_COMMON),
    "sanitize": settings(max_examples=40, derandomize=True, database=None, **_COMMON),
}
for _name, _profile in PROFILES.items():
    settings.register_profile(f"weightnoise-{_name}", _profile)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
if PROFILE not in PROFILES:
    raise RuntimeError(f"HYPOTHESIS_PROFILE={PROFILE!r}: tests/test_fuzz.py knows {sorted(PROFILES)}")
FUZZ = PROFILES[PROFILE]


def fuzz(weight: float = 1.0) -> settings:
    """The profile, with ``weight`` times its number of cases (the heavy tests run fewer)."""
    return settings(FUZZ, max_examples=max(1, round(FUZZ.max_examples * weight)))


RTOL = {np.dtype(np.float64): 1e-10, np.dtype(np.float32): 2e-4}
OK, BAD, EITHER = True, False, None  # what the oracle expects of an argument

# --- problems --------------------------------------------------------------------------------------------------

# Each case breaks each argument with a probability drawn per case (0 in 2 cases of 5), so that about half of
# all cases are valid calls checked against the reference and half raise.
_RATE = {"percent": 0}
# Whether this case has values that overflow on the way (huge inputs or η): NumPy's RuntimeWarnings are expected
# then, and an overflowed entry may come out as Inf in one implementation and NaN in the other.
_EXTREME = {"on": False, "norm_overflow": False, "term_scale": 0.0, "amplification": 1.0}


def start_case(data) -> None:
    _EXTREME["on"] = _EXTREME["norm_overflow"] = False
    _EXTREME["term_scale"], _EXTREME["amplification"] = 0.0, 1.0
    _RATE["percent"] = data.draw(st.sampled_from([0, 0, 10, 25, 50]), label="percent of arguments broken")


def breaks(data, label: str) -> bool:
    """Whether this case breaks the argument ``label``."""
    return _RATE["percent"] > 0 and data.draw(st.integers(0, 99), label=f"{label} roll") >= 100 - _RATE["percent"]


FLAVOURS = ["plain", "plain", "plain", "kink", "saturated", "tiny", "huge", "subnormal"]


def draw_problem(data, dtypes=(np.float64, np.float64, np.float64, np.float32), max_n=9, max_hidden=3,
                 flavours=FLAVOURS):
    """A model, inputs and targets: random architecture, activation, dtype and value flavour."""
    start_case(data)
    n_in = data.draw(st.integers(1, 4), label="n_in")
    # Mostly narrow layers; some as wide as one or more SIMD packets (the tiled products of gemm.hpp).
    width = st.one_of(st.integers(1, 6), st.sampled_from([8, 16, 17, 33]))
    hidden = data.draw(st.lists(width, max_size=max_hidden), label="hidden")
    activation = data.draw(st.sampled_from(wn.ACTIVATIONS), label="activation")
    dtype = np.dtype(data.draw(st.sampled_from(dtypes), label="dtype"))
    n = data.draw(st.integers(1, max_n), label="N")
    flavour = data.draw(st.sampled_from(flavours), label="flavour")
    seed = data.draw(st.integers(0, 2**32 - 1), label="seed")
    rng = np.random.default_rng(seed)
    model = wn.MLP((n_in, *hidden, 1), activation, seed=seed, dtype=dtype)
    params = model.params + 0.2 * rng.standard_normal(model.n_params)
    X = rng.standard_normal((n, n_in))
    big = 1e300 if dtype == np.float64 else 1e36
    if flavour == "kink":  # integer inputs, half-integer weights, zero biases: units sit exactly at z = 0 often
        X = rng.integers(-1, 2, size=X.shape).astype(float)
        params = np.round(params * 2) / 2
        params[_bias_indices(model)] = 0.0
    elif flavour == "saturated":
        X *= 1e3
    elif flavour == "tiny":
        X *= 1e-6
    elif flavour == "huge":
        _EXTREME["on"] = True
        magnitude = big * rng.uniform(0.1, 1) if rng.integers(2) else np.sqrt(big) * 1e-3 * rng.uniform(0.1, 1)
        X.flat[rng.integers(X.size)] = rng.choice([-1, 1]) * magnitude
        # Beyond about 1.3e154 (float64) ‖x‖² overflows, and the rank-one identities of the penalty and
        # the trace (Ω, ∇Ω, tr H scale with ‖a_l‖² + 1) give 0 · Inf = NaN where the true value underflows
        # to 0; docs/reliability.md documents it and tests/test_reliability.py tests it.
        _EXTREME["norm_overflow"] = magnitude > math.sqrt(float(np.finfo(dtype).max) / 16 / n_in)
    elif flavour == "subnormal":
        X.flat[rng.integers(X.size)] = np.finfo(dtype).smallest_subnormal * rng.integers(1, 4)
        X.flat[rng.integers(X.size)] = -0.0
    model.params = params.astype(dtype)
    if activation == "tanh" or flavour != "huge":
        # The two implementations sum the same terms in other orders, with tanh and exp a few ulp apart, so
        # they agree to eps times the size of the terms, not of the result: where the terms cancel (at the
        # kink, by symmetry) the result is rounding noise; where every tanh unit saturates, σ' = 1 − tanh²
        # carries an absolute error of a few ulp of 1 (docs/reliability.md). The size of a term: products of
        # inputs and weights, as with σ' of order 1. (Not for huge inputs to the exactly-formulated
        # sigmoid, softplus and relu, whose tails must match closely: that found a bug.)
        with np.errstate(over="ignore"):
            size = np.float64(1 + np.max(np.abs(X))) ** 2
            for W, _ in model.layers:
                size *= np.float64(1 + np.max(np.abs(W))) ** 2
        _EXTREME["term_scale"] = float(size)
    y = rng.standard_normal(n).astype(dtype)
    note(f"model {model}, N={n}, flavour {flavour}")
    return model, X.astype(dtype), y


def _bias_indices(model):
    out, offset = [], 0
    for d_in, d_out in zip(model.layer_sizes[:-1], model.layer_sizes[1:]):
        offset += d_in * d_out
        out.extend(range(offset, offset + d_out))
        offset += d_out
    return out


# --- hostile arrays --------------------------------------------------------------------------------------------

DTYPES = [np.float16, np.float32, np.float64, np.longdouble, np.int64, np.int32, np.uint8, np.bool_,
          np.complex128, np.complex64, object, "U4"]
KEEPING = ["none", "none", "none", "list", "masked"]  # the same values (a list only keeps float64)
BREAKING = ["nan", "inf", "-inf", "dtype", "dtype", "shape", "shape", "mixed-list", "none-list", "ragged", "object",
            "masked-hole", "scalar", "string", "none-value"]
LAYOUTS = ["C", "C", "F", "strided", "reversed", "readonly", "misaligned", "broadcast", "matrix-row"]


def _misaligned(a: np.ndarray) -> np.ndarray:
    """The same values in a buffer that starts one byte past an aligned address."""
    raw = np.zeros(a.nbytes + 1, dtype=np.uint8)
    view = raw[1:].view(a.dtype).reshape(a.shape)
    view[...] = a
    return view


def _relayout(a: np.ndarray, layout: str) -> np.ndarray:
    """A view or copy of ``a`` with the same values in another memory layout."""
    if not isinstance(a, np.ndarray) or a.ndim == 0 or a.dtype.kind not in "fiubcU":
        return a
    if layout == "F":
        return np.asfortranarray(a)
    if layout == "strided":  # every other element of a larger array, along every axis
        big = np.zeros(tuple(2 * d for d in a.shape), dtype=a.dtype)
        view = big[tuple(slice(None, None, 2) for _ in a.shape)]
        view[...] = a
        return view
    if layout == "reversed":
        back = np.ascontiguousarray(a[::-1])
        return back[::-1]
    if layout == "readonly":
        a = a.copy()
        a.setflags(write=False)
        return a
    if layout == "misaligned" and a.dtype.itemsize > 1 and a.size:
        return _misaligned(a)
    if layout == "broadcast" and a.ndim >= 1 and a.shape[0] > 0 and np.all(a == a[:1]):
        return np.broadcast_to(a[:1], a.shape)  # zero strides, read-only
    return a


def conforms(value, dtype, shapes) -> bool:
    """The documented contract of an array argument: converts to an array of the model's dtype
    (no implicit casts), of an accepted shape, with finite values; a masked array has no masked entry."""
    if isinstance(value, np.ma.MaskedArray) and np.ma.is_masked(value):
        return False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            array = np.asarray(value)
    except (ValueError, TypeError):
        return False
    if array.dtype != dtype or array.shape not in shapes:
        return False
    return bool(np.all(np.isfinite(array)))


def hostile(data, good: np.ndarray, name: str):
    """A variant of the valid array ``good``: same values in another layout, or broken."""
    keeping = KEEPING if good.dtype == np.float64 else [m for m in KEEPING if m != "list"]
    mutation = data.draw(st.sampled_from(BREAKING if breaks(data, name) else keeping), label=f"{name} mutation")
    value = good.copy()
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16), label=f"{name} rng"))
    if mutation in ("nan", "inf", "-inf") and value.size:
        value.flat[rng.integers(value.size)] = float(mutation)
    elif mutation == "dtype":
        target = np.dtype(data.draw(st.sampled_from([d for d in DTYPES if np.dtype(d) != good.dtype]),
                                    label=f"{name} dtype"))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            value = value.astype(target)
    elif mutation == "shape":
        value = data.draw(st.sampled_from(_reshapes(value)), label=f"{name} shape")
    elif mutation == "list":
        value = value.tolist()
    elif mutation == "mixed-list" and value.size:  # ints, floats, bools and numpy scalars together
        flat = [round(v) if i % 3 == 0 else np.float64(v) if i % 3 == 1 else float(v)
                for i, v in enumerate(value.ravel().tolist())]
        value = np.array(flat, dtype=object).reshape(value.shape).tolist()
    elif mutation == "none-list" and value.size:
        listed = value.ravel().tolist()
        listed[rng.integers(len(listed))] = None
        value = np.array(listed, dtype=object).reshape(value.shape).tolist()
    elif mutation == "ragged" and value.ndim == 2 and value.shape[0] > 1:
        listed = value.tolist()
        listed[0] = listed[0] + [0.0]
        value = listed
    elif mutation == "object":
        value = value.astype(object)
    elif mutation == "masked":
        value = np.ma.masked_array(value, mask=np.zeros(value.shape, dtype=bool))
    elif mutation == "masked-hole" and value.size:
        mask = np.zeros(value.shape, dtype=bool)
        mask.flat[rng.integers(value.size)] = True
        value = np.ma.masked_array(value, mask=mask)
    elif mutation == "scalar":
        value = good.dtype.type(1.0)
    elif mutation == "string":
        value = "1.0"
    elif mutation == "none-value":
        value = None
    if isinstance(value, np.ndarray) and not isinstance(value, np.ma.MaskedArray):
        value = _relayout(value, data.draw(st.sampled_from(LAYOUTS), label=f"{name} layout"))
    return value


def _reshapes(a: np.ndarray) -> list:
    out = [a.reshape(-1), a.reshape((*a.shape, 1)), a.reshape((1, *a.shape)), a[:0], np.zeros((0,), a.dtype),
           np.concatenate([a, a[:1]]) if a.size else np.ones((1, *a.shape[1:]), a.dtype)]
    if a.ndim == 2:
        out += [a.T, np.concatenate([a, a[:, :1]], axis=1) if a.shape[0] else a, a[:, :-1],
                a.reshape(a.shape[0], 1, a.shape[1])]
    if a.ndim == 1 and a.size > 1:
        out += [a[:-1]]
    return out


# --- hostile scalars and options -------------------------------------------------------------------------------

NOT_NUMBERS = [None, "0.1", b"1", [0.1], (0.1,), np.array([0.1]), 0.1j, np.complex128(0.1), decimal.Decimal("0.1"),
               {}, object(), np.array("0.1")]


def draw_eta(data, dtype, label="eta"):
    """(η, OK/BAD/EITHER): finite ≥ 0 and representable in the model's dtype is valid."""
    finfo = np.finfo(dtype)
    valid = st.one_of(st.sampled_from([0.0, -0.0, 0, 1, 5e-324, 1e-300, 1e-3, 0.5, 2.0]),
                      st.floats(0, 4), st.floats(0, 4).map(np.float64), st.floats(0, 4, width=32).map(np.float32),
                      st.sampled_from([np.float16(0.25), np.int64(0), np.uint8(1), np.float64(0.01)]))
    invalid = st.one_of(st.sampled_from([-1e-12, -1.0, math.nan, math.inf, -math.inf, np.float64(-0.5),
                                         np.float32(np.nan), True, False, np.bool_(True), *NOT_NUMBERS]),
                        st.floats(max_value=-1e-300))
    kind = "invalid" if breaks(data, label) else data.draw(st.sampled_from(["valid"] * 8 + ["huge"]),
                                                            label=f"{label} kind")
    if kind == "valid":
        return data.draw(valid, label=label), OK
    if kind == "huge":  # finite, but θ + ε or the loss may overflow: a result or an error naming eta
        _EXTREME["on"] = True
        eta = data.draw(st.sampled_from([1e30, 1e200, float(finfo.max), 1e39, 1e300]), label=label)
        return eta, (BAD if eta > float(finfo.max) else EITHER)
    return data.draw(invalid, label=label), BAD


def draw_count(data, label, minimum=1, most=3):
    """(n, validity) for a 32-bit stream counter with the given minimum; valid ones stay small."""
    valid = st.one_of(st.integers(minimum, most), st.integers(minimum, most).map(np.int64),
                      st.integers(minimum, most).map(np.uint32))
    invalid = st.sampled_from([minimum - 1, minimum - 2, -(2**40), 2**32, 2**64, 2**70, 1.0, 2.5, math.nan, True,
                               np.bool_(False), np.float64(2.0), *NOT_NUMBERS])
    if not breaks(data, label):
        return data.draw(valid, label=label), OK
    return data.draw(invalid, label=label), BAD


def draw_seed(data, label="seed"):
    valid = st.one_of(st.integers(0, 2**64 - 1), st.sampled_from([np.uint64(2**64 - 1), np.int64(7), np.uint8(3)]))
    invalid = st.sampled_from([-1, 2**64, -(2**63), 1.0, True, np.bool_(True), np.int64(-1), *NOT_NUMBERS])
    if not breaks(data, label):
        return data.draw(valid, label=label), OK
    return data.draw(invalid, label=label), BAD


def draw_layers(data, n_layers):
    """(layers, validity): None or a list-like of integer indices in [-L, L)."""
    index = st.integers(-n_layers, n_layers - 1)
    valid = st.one_of(st.none(), st.lists(index, max_size=4), st.lists(index, max_size=4).map(tuple),
                      st.lists(index, max_size=4).map(set),
                      st.lists(index, max_size=3).map(lambda l: np.array(l, dtype=np.int64)),
                      st.just(range(n_layers)), st.lists(index.map(np.int32), max_size=3))
    invalid = st.one_of(
        st.sampled_from([0, np.int64(0), "0", b"0", 1.5, True, [True], [0.0], [None], ["0"], np.array([[0]]),
                         np.array(0), np.array([0.0]), [[0]], [n_layers], [-n_layers - 1], [2**70], object()]),
        st.just("iterator"), st.just("generator"))
    if not breaks(data, "layers"):
        return data.draw(valid, label="layers"), OK
    layers = data.draw(invalid, label="layers")
    if layers == "iterator":
        layers = iter([0])
    elif layers == "generator":
        layers = (l for l in [0])
    return layers, BAD


def draw_flag(data, label):
    if not breaks(data, label):
        return data.draw(st.sampled_from([True, False, np.True_, np.False_]), label=label), OK
    return data.draw(st.sampled_from([0, 1, None, "True", np.array(True), 1.0, [True]]), label=label), BAD


def draw_choice(data, label, choices):
    if not breaks(data, label):
        return data.draw(st.sampled_from(choices), label=label), OK
    bogus = st.one_of(st.sampled_from([None, 0, "", choices[0].upper(), choices[0] + " ", [choices[0]],
                                       choices[0].encode()]), st.text(max_size=8))
    value = data.draw(bogus, label=label)
    return value, (OK if value in choices and isinstance(value, str) else BAD)


def draw_model_arg(data, model):
    """The model itself, or something else: a non-model, a look-alike, a model with NaN or Inf parameters."""
    kind = "model" if not breaks(data, "model") else data.draw(
        st.sampled_from(["none", "str", "look-alike", "nan", "inf", "class", "params"]), label="model kind")
    if kind == "model":
        return model, OK
    if kind == "nan" or kind == "inf":
        broken = model.copy()
        broken.params[data.draw(st.integers(0, model.n_params - 1), label="bad param")] = float(kind)
        return broken, BAD
    if kind == "look-alike":
        return types.SimpleNamespace(layer_sizes=model.layer_sizes, activation=model.activation, dtype=model.dtype,
                                     params=model.params, n_params=model.n_params, n_layers=model.n_layers), BAD
    return {"none": None, "str": "model", "class": wn.MLP, "params": model.params}[kind], BAD


# --- outcomes --------------------------------------------------------------------------------------------------


@contextlib.contextmanager
def environment(data):
    """A random thread count and, rarely, a memory limit so small that every kernel must refuse."""
    threads = data.draw(st.sampled_from([None, None, 1, 2, 3]), label="threads")
    tiny_limit = data.draw(st.sampled_from([False] * 24 + [True]), label="memory limit 1K")
    previous = wn.get_num_threads()
    old_limit = os.environ.get("WEIGHTNOISE_MEMORY_LIMIT")
    try:
        if threads is not None:
            wn.set_num_threads(threads)
        if tiny_limit:
            os.environ["WEIGHTNOISE_MEMORY_LIMIT"] = "1K"
        yield tiny_limit
    finally:
        wn.set_num_threads(previous)
        if old_limit is None:
            os.environ.pop("WEIGHTNOISE_MEMORY_LIMIT", None)
        else:
            os.environ["WEIGHTNOISE_MEMORY_LIMIT"] = old_limit


def names_argument(message: str, names) -> bool:
    return any(re.search(rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])", message) for name in names)


def _snapshot(value):
    if isinstance(value, np.ndarray) and value.dtype.kind in "fiubc":
        return value.copy()
    return None


def run_case(call, args: dict, reference=None, compare=None, tiny_limit=False, extra_names=()):
    """Call ``call()``; check the outcome against the oracle (``args``: name -> (value, OK/BAD/EITHER))
    and, on success, against ``reference()`` with ``compare``. Returns the result (None on an error)."""
    bad = {name for name, (_, ok) in args.items() if ok is not EITHER and not ok}
    either = {name for name, (_, ok) in args.items() if ok is EITHER}
    note(f"bad: {sorted(bad)}, either: {sorted(either)}")
    before = {name: _snapshot(value) for name, (value, _) in args.items()}
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = call()
    except MemoryError as exc:
        assert tiny_limit or either, f"MemoryError without a small memory limit: {exc}"
        assert "WEIGHTNOISE_MEMORY_LIMIT" in str(exc), exc
        event("MemoryError over the memory limit")
        return None
    except (ValueError, TypeError) as exc:
        message = str(exc)
        assert bad or either, f"valid arguments raised {type(exc).__name__}: {message}"
        assert names_argument(message, bad | either | set(extra_names)), (
            f"{type(exc).__name__} names none of the bad arguments {sorted(bad | either)}: {message}")
        assert "\n" not in message.strip() or len(message) < 2000
        event(f"{type(exc).__name__} naming the argument")
        return None
    assert not bad, f"bad arguments {sorted(bad)} were accepted"
    for name, (value, _) in args.items():  # inputs are never written to
        if before[name] is not None:
            assert np.array_equal(before[name], value, equal_nan=True), f"{name} was modified"
    if compare is not None:
        with warnings.catch_warnings(record=True) as caught_ref:
            warnings.simplefilter("always")
            try:
                expected = reference()
            except ValueError:  # ‖x‖² overflowed: the reference's literal formulas may form 0 · Inf = NaN
                assert _EXTREME["norm_overflow"], "the reference raised where the kernels did not"
                return result
        _check_warnings(caught, result, expected)
        _check_warnings(caught_ref, expected, expected)
        compare(result, expected)
        event("result, equal to the reference's")
    else:
        _check_warnings(caught, result, None)
        event("result")
    return result


def _values(obj):
    """Every float in a result (arrays, scalars, Estimates, models, dataclasses, tuples)."""
    if isinstance(obj, (tuple, list)):
        return np.concatenate([_values(o) for o in obj]) if obj else np.zeros(0)
    if isinstance(obj, wn.MLP):
        return obj.params.astype(np.float64)
    if isinstance(obj, wn.Estimate):
        return np.concatenate([[obj.mean, obj.stderr], obj.draws]).astype(np.float64)
    if isinstance(obj, wn.SecondOrder):
        return np.array([obj.loss, obj.eta_penalty, obj.eta_curvature, obj.total])
    if isinstance(obj, wn.Equivalence):
        return np.concatenate([obj.table[name] for name in obj.table.dtype.names])
    if isinstance(obj, wn.OptimizerState):
        return obj.moments.ravel().astype(np.float64)
    try:
        return np.asarray(obj, dtype=np.float64).ravel()
    except (TypeError, ValueError):
        return np.zeros(0)


def _check_warnings(caught, result, expected):
    """Only RuntimeWarnings (overflow, invalid), and only in a case with extreme values or an overflowed result."""
    for w in caught:
        assert issubclass(w.category, RuntimeWarning), f"unexpected {w.category.__name__}: {w.message}"
        if _EXTREME["on"]:
            continue
        values = np.concatenate([_values(result), _values(expected)])
        with np.errstate(all="ignore"):
            extreme = (~np.isfinite(values)) | (np.abs(values) > 1e150)
        assert extreme.any(), f"RuntimeWarning on a finite, moderate result: {w.message}"


def assert_close(actual, expected, dtype, what="result", scale=None):
    """Normwise relative error within RTOL[dtype] over the finite entries; non-finite ones in the same places."""
    dtype = np.dtype(dtype)
    actual_arr, expected_arr = np.asarray(actual), np.asarray(expected)
    assert actual_arr.shape == expected_arr.shape, (what, actual_arr.shape, expected_arr.shape)
    a, e = actual_arr.astype(np.float64), expected_arr.astype(np.float64)
    if _EXTREME["norm_overflow"]:  # the documented NaN of 0 · Inf: compare where both are finite
        e = np.where(np.isfinite(a), e, np.nan)
        a = np.where(np.isfinite(e), a, np.nan)
    if _EXTREME["on"]:  # at the edge of overflow one summation order may overflow where the other does not
        edge = 1e-8 * float(np.finfo(dtype).max)
        with np.errstate(invalid="ignore"):
            brink = (np.isfinite(a) & (np.abs(a) > edge) & ~np.isfinite(e)) | (
                np.isfinite(e) & (np.abs(e) > edge) & ~np.isfinite(a))
        a, e = np.where(brink, np.nan, a), np.where(brink, np.nan, e)
    assert np.array_equal(np.isfinite(a), np.isfinite(e)), f"{what}: non-finite in different places\n{a}\n{e}"
    if not _EXTREME["on"]:  # with overflow on the way, Inf - Inf or 0 · Inf may give NaN in one order only
        assert np.array_equal(np.isnan(a), np.isnan(e)), f"{what}: NaN in different places\n{a}\n{e}"
        assert np.array_equal(np.isinf(a) & (a > 0), np.isinf(e) & (e > 0)), f"{what}: +Inf differs\n{a}\n{e}"
    finite = np.isfinite(e)
    if not finite.any():
        return
    scale = np.max(np.abs(e[finite])) if scale is None else scale
    error = np.max(np.abs(a[finite] - e[finite]))
    finfo = np.finfo(dtype)
    # Adam divides by √v + 1e-8, so it scales an absolute error in a gradient by up to lr / 1e-8 per step.
    terms = 16 * float(finfo.eps) * _EXTREME["term_scale"] * _EXTREME["amplification"]
    tolerance = RTOL[dtype] * float(scale) + 64 * float(finfo.tiny) + terms
    assert error <= tolerance, f"{what}: error {error:.3g} > {tolerance:.3g} (scale {scale:.3g})\n{a}\n{e}"


def compare_results(dtype):
    """A comparison of compiled and reference results of any of the API's return types."""

    def compare(actual, expected, what="result"):
        if isinstance(expected, tuple) and not isinstance(expected, np.ndarray):
            assert isinstance(actual, tuple) and len(actual) == len(expected), what
            for i, (a, e) in enumerate(zip(actual, expected)):
                compare(a, e, f"{what}[{i}]")
        elif isinstance(expected, wn.MLP):
            assert isinstance(actual, wn.MLP)
            assert (actual.layer_sizes, actual.activation, actual.dtype) == (
                expected.layer_sizes, expected.activation, expected.dtype)
            assert_close(actual.params, expected.params, dtype, f"{what}.params")
        elif isinstance(expected, wn.Estimate):
            assert isinstance(actual, wn.Estimate) and actual.n_evaluations == expected.n_evaluations
            assert actual.draws.dtype == dtype, actual.draws.dtype
            assert_close(actual.draws, expected.draws, dtype, f"{what}.draws")
            assert_close(actual.mean, expected.mean, dtype, f"{what}.mean")
            # the standard error is a difference of near-equal draws: its error scales with theirs
            finite = expected.draws[np.isfinite(expected.draws)]
            assert_close(actual.stderr, expected.stderr, dtype, f"{what}.stderr",
                         scale=float(np.max(np.abs(finite), initial=0.0)))
        elif isinstance(expected, wn.SecondOrder):
            for field in ("loss", "eta_penalty", "eta_curvature", "total"):
                assert_close(getattr(actual, field), getattr(expected, field), dtype, f"{what}.{field}")
        elif isinstance(expected, wn.OptimizerState):
            assert (actual.optimizer, actual.step) == (expected.optimizer, expected.step)
            assert_close(actual.moments, expected.moments, dtype, f"{what}.moments")
        elif isinstance(expected, wn.Equivalence):
            for field in ("eta", "measured", "textbook", "second_order"):
                assert_close(actual.table[field], expected.table[field], dtype, f"{what}.table[{field}]")
            measured = expected.table["measured"]
            assert_close(actual.table["stderr"], expected.table["stderr"], dtype, f"{what}.table[stderr]",
                         scale=float(np.max(np.abs(measured[np.isfinite(measured)]), initial=0.0)))
            for field in ("residual_textbook", "residual_second_order"):  # differences of near-equal numbers
                scale = np.max(np.abs(expected.table["measured"]), initial=0.0)
                difference = np.abs(actual.table[field] - expected.table[field])
                assert np.all((difference <= RTOL[dtype] * 4 * scale) | np.isnan(difference)), (field, difference)
            for field in ("loss", "penalty", "curvature"):
                assert_close(getattr(actual, field), getattr(expected, field), dtype, f"{what}.{field}")
            assert (actual.noise, actual.n_draws, actual.antithetic, actual.seed) == (
                expected.noise, expected.n_draws, expected.antithetic, expected.seed)
        else:
            if isinstance(expected, (np.ndarray, np.generic)) and not isinstance(actual, float):
                assert np.asarray(actual).dtype == dtype, f"{what}: dtype {np.asarray(actual).dtype}, not {dtype}"
            assert_close(actual, expected, dtype, what)

    return compare


def clean(value):
    """The reference's copy of a valid array argument."""
    return np.array(np.asarray(value)) if value is not None else None


# --- the kernels ------------------------------------------------------------------------------------------------

DERIVATIVES = ["predict", "loss", "loss_grad", "vjp", "jvp", "per_example_grads", "grad_norms_sq", "hvp",
               "penalty", "penalty_grad", "penalty_and_grad", "hessian_trace", "curvature", "second_order_terms"]
ARRAYS = {"predict": "X", "loss": "Xy", "loss_grad": "Xy", "vjp": "Xu", "jvp": "Xv", "per_example_grads": "X",
          "grad_norms_sq": "X", "hvp": "Xvu", "penalty": "X", "penalty_grad": "X", "penalty_and_grad": "X",
          "hessian_trace": "X", "curvature": "Xy", "second_order_terms": "Xy"}
SUBSET = {"grad_norms_sq", "penalty", "penalty_grad", "penalty_and_grad", "hessian_trace", "curvature",
          "second_order_terms"}


def draw_arrays(data, model, X, y, which: str):
    """Positional array arguments (X, then y/u/v) as hostile variants, each with the oracle's verdict."""
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16), label="vectors"))
    dtype = model.dtype
    args = {}
    X_value = hostile(data, X, "X")
    x_ok = conforms(X_value, dtype, {(n, model.layer_sizes[0]) for n in range(1, 64)})
    args["X"] = (X_value, x_ok)
    n = np.asarray(X_value).shape[0] if x_ok else X.shape[0]
    for name in which[1:]:
        if name == "y":
            good = y if y.shape[0] == n else rng.standard_normal(n).astype(dtype)
            shapes = {(n,), (n, 1)}
        elif name == "u":
            good = rng.standard_normal(n).astype(dtype)
            shapes = {(n,), (n, 1)}
        else:
            good = rng.standard_normal(model.n_params).astype(dtype)
            shapes = {(model.n_params,)}
        if name == "u" and "v" in which and data.draw(st.booleans(), label="u omitted"):
            continue  # hvp's default u = 1/N
        value = hostile(data, good, name)
        optional = name == "u" and "v" in which and value is None  # hvp's u=None: the default 1/N
        args[name] = (value, optional or conforms(value, dtype, shapes))
    return args


@pytest.mark.parametrize("name", DERIVATIVES)
@fuzz(1.0)
@given(data=st.data())
def test_derivative_kernels_match_the_reference_or_raise_naming_the_argument(name, data):
    model, X, y = draw_problem(data)
    args = {"model": draw_model_arg(data, model)}
    args.update(draw_arrays(data, model, X, y, ARRAYS[name]))
    kwargs = {}
    if name in SUBSET:
        args["layers"] = draw_layers(data, model.n_layers)
        args["biases"] = draw_flag(data, "biases")
        kwargs = dict(layers=args["layers"][0], biases=args["biases"][0])
    if name in ("hessian_trace", "curvature"):
        args["method"] = draw_choice(data, "method", ["exact", "hutchinson"])
        args["n_probes"] = draw_count(data, "n_probes", 1, 4)
        args["seed"] = draw_seed(data)
        kwargs.update(method=args["method"][0], n_probes=args["n_probes"][0], seed=args["seed"][0])
    positional = [args[k][0] for k in ARRAYS[name] if k in args]
    with environment(data) as tiny:
        run_case(lambda: getattr(wn, name)(args["model"][0], *positional, **kwargs), args,
                 lambda: getattr(ref, name)(model, *[clean(args[k][0]) for k in ARRAYS[name] if k in args], **kwargs),
                 compare_results(model.dtype), tiny)


@fuzz(1.0)
@given(data=st.data())
def test_perturbed_loss_matches_the_reference_or_raises_naming_the_argument(data):
    model, X, y = draw_problem(data, max_n=6, max_hidden=2)
    args = {"model": draw_model_arg(data, model)}
    args.update(draw_arrays(data, model, X, y, "Xy"))
    args["eta"] = draw_eta(data, model.dtype)
    args["n_draws"] = draw_count(data, "n_draws", 1, 3)
    args["noise"] = draw_choice(data, "noise", list(wn.NOISE_MODES))
    args["antithetic"] = draw_flag(data, "antithetic")
    args["seed"] = draw_seed(data)
    args["layers"] = draw_layers(data, model.n_layers)
    args["biases"] = draw_flag(data, "biases")
    kw = {k: args[k][0] for k in ("eta", "n_draws", "noise", "antithetic", "seed", "layers", "biases")}
    with environment(data) as tiny:
        run_case(lambda: wn.perturbed_loss(args["model"][0], args["X"][0], args["y"][0], **kw), args,
                 lambda: ref.perturbed_loss(model, clean(args["X"][0]), clean(args["y"][0]), **kw),
                 compare_results(model.dtype), tiny)


@fuzz(1.0)
@given(data=st.data())
def test_perturb_matches_the_reference_or_raises_naming_the_argument(data):
    model, _, _ = draw_problem(data)
    args = {"model": draw_model_arg(data, model), "eta": draw_eta(data, model.dtype), "seed": draw_seed(data),
            "draw": draw_count(data, "draw", 0, 2**31), "layers": draw_layers(data, model.n_layers),
            "biases": draw_flag(data, "biases")}
    kw = {k: args[k][0] for k in ("eta", "seed", "draw", "layers", "biases")}
    with environment(data) as tiny:
        result = run_case(lambda: wn.perturb(args["model"][0], **kw), args, lambda: ref.perturb(model, **kw),
                          compare_results(model.dtype), tiny)
    if result is not None:
        assert result is not model and np.all(np.isfinite(result.params))


@fuzz(0.6)
@given(data=st.data())
def test_second_order_matches_the_reference_or_raises_naming_the_argument(data):
    model, X, y = draw_problem(data, max_n=6)
    args = {"model": draw_model_arg(data, model)}
    args.update(draw_arrays(data, model, X, y, "Xy"))
    args["eta"] = draw_eta(data, model.dtype)
    args["layers"] = draw_layers(data, model.n_layers)
    args["biases"] = draw_flag(data, "biases")
    kw = {k: args[k][0] for k in ("eta", "layers", "biases")}
    with environment(data) as tiny:
        run_case(lambda: wn.second_order(args["model"][0], args["X"][0], args["y"][0], **kw), args,
                 lambda: ref.second_order(model, clean(args["X"][0]), clean(args["y"][0]), **kw),
                 compare_results(model.dtype), tiny)


def draw_etas(data, dtype):
    """(etas, validity): a non-empty 1-D sequence of valid η."""
    kind = data.draw(st.sampled_from(["bad", "empty", "2-D", "scalar", "strings"] if breaks(data, "etas")
                                     else ["list", "list", "array", "tuple"]), label="etas kind")
    etas = data.draw(st.lists(st.sampled_from([1e-4, 1e-3, 3e-3, 1e-2, 0.1, 0.0]), min_size=1, max_size=4,
                              unique=True), label="etas")
    if kind == "list":
        return etas, OK
    if kind == "array":
        return np.array(etas), OK
    if kind == "tuple":
        return tuple(etas), OK
    if kind == "bad":
        eta, ok = draw_eta(data, dtype, "bad eta")
        return [*etas, eta], ok
    return {"empty": [], "2-D": [etas], "scalar": 0.1, "strings": ["a", "b"]}[kind], BAD


@fuzz(0.4)
@given(data=st.data())
def test_equivalence_matches_the_reference_or_raises_naming_the_argument(data):
    model, X, y = draw_problem(data, max_n=5, max_hidden=2)
    args = {"model": draw_model_arg(data, model)}
    args.update(draw_arrays(data, model, X, y, "Xy"))
    args["etas"] = draw_etas(data, model.dtype)
    args["n_draws"] = draw_count(data, "n_draws", 1, 3)
    args["noise"] = draw_choice(data, "noise", list(wn.NOISE_MODES))
    args["antithetic"] = draw_flag(data, "antithetic")
    args["seed"] = draw_seed(data)
    args["layers"] = draw_layers(data, model.n_layers)
    args["biases"] = draw_flag(data, "biases")
    kw = {k: args[k][0] for k in ("n_draws", "noise", "antithetic", "seed", "layers", "biases")}
    with environment(data) as tiny:
        result = run_case(lambda: wn.equivalence(args["model"][0], args["X"][0], args["y"][0], args["etas"][0], **kw),
                          args, lambda: ref.equivalence(model, clean(args["X"][0]), clean(args["y"][0]),
                                                        args["etas"][0], **kw),
                          compare_results(model.dtype), tiny, extra_names=("eta",))
    if result is not None:
        assert isinstance(result.slope_textbook, float) and isinstance(result.slope_second_order, float)
        assert str(result) and result.to_dict()


# --- training ---------------------------------------------------------------------------------------------------


def draw_ids(data, n):
    """(ids, validity): a non-empty 1-D integer array of row indices (repeats allowed), or not."""
    valid = st.one_of(st.lists(st.integers(0, n - 1), min_size=1, max_size=2 * n).map(np.array),
                      st.lists(st.integers(0, n - 1), min_size=1, max_size=n).map(lambda l: np.array(l, np.int32)),
                      st.lists(st.integers(0, n - 1), min_size=1, max_size=n),
                      st.just(None), st.just(np.arange(n)[::-1]), st.just(np.arange(n, dtype=np.uint8)))
    invalid = st.sampled_from([np.array([], dtype=np.int64), np.array([n]), np.array([-1]), np.array([0.0]),
                               np.array([[0]]), np.array([True]), [0.5], "0", np.array([2**40]), 3, [None]])
    if not breaks(data, "ids"):
        return data.draw(valid, label="ids"), OK
    return data.draw(invalid, label="ids"), BAD


def diverging(args) -> None:
    """With inputs near the float limit a step may overflow: then FitDiverged, a ValueError naming lr and X."""
    value, ok = args["X"]
    if _EXTREME["on"] and ok is OK:
        args["X"] = (value, EITHER)


def draw_training(data, model, X, y, with_step=True):
    args = {"model": draw_model_arg(data, model)}
    args.update(draw_arrays(data, model, X, y, "Xy"))
    n = np.asarray(args["X"][0]).shape[0] if args["X"][1] else X.shape[0]
    args["ids"] = draw_ids(data, n)
    args["objective"] = draw_choice(data, "objective", ["plain", "penalty", "noise"])
    args["eta"] = draw_eta(data, model.dtype)
    if args["eta"][1] is EITHER:  # a huge η makes noisy steps diverge, and FitDiverged names lr, not eta
        args["eta"] = (0.01, OK)
    args["noise"] = draw_choice(data, "noise", list(wn.NOISE_MODES))
    args["seed"] = draw_seed(data)
    args["epoch"] = draw_count(data, "epoch", 0, 2**31)
    if with_step:
        args["step"] = draw_count(data, "step", 0, 2**31)
    args["layers"] = draw_layers(data, model.n_layers)
    args["biases"] = draw_flag(data, "biases")
    return args


@pytest.mark.parametrize("name", ["objective", "objective_grad"])
@fuzz(0.8)
@given(data=st.data())
def test_training_objectives_match_the_reference_or_raise_naming_the_argument(name, data):
    model, X, y = draw_problem(data, max_n=6, max_hidden=2)
    args = draw_training(data, model, X, y)
    kw = {k: args[k][0] for k in ("objective", "eta", "noise", "seed", "epoch", "step", "layers", "biases")}
    ids = args["ids"][0]
    with environment(data) as tiny:
        run_case(lambda: getattr(wn, name)(args["model"][0], args["X"][0], args["y"][0], ids, **kw), args,
                 lambda: getattr(ref, name)(model, clean(args["X"][0]), clean(args["y"][0]), ids, **kw),
                 compare_results(model.dtype), tiny)


def draw_state(data, model):
    optimizer = data.draw(st.sampled_from(["sgd", "adam"]), label="optimizer")
    state = wn.OptimizerState.create(optimizer, model)
    rng = np.random.default_rng(data.draw(st.integers(0, 99), label="moments"))
    state.moments[...] = np.abs(rng.standard_normal(state.moments.shape)) * 0.1
    state.step = data.draw(st.integers(0, 5), label="step")
    kind = "ok" if not breaks(data, "state") else data.draw(st.sampled_from(
        ["optimizer", "step", "moments-shape", "moments-nan", "moments-int", "not-a-state", "none"]),
        label="state kind")
    if kind == "ok":
        return state, OK
    if kind == "optimizer":
        state.optimizer = data.draw(st.sampled_from(["SGD", "rmsprop", "", None, 1]), label="bad optimizer")
    elif kind == "step":
        state.step = data.draw(st.sampled_from([-1, 2**32, 1.5, None, True]), label="bad step")
    elif kind == "moments-shape":
        state.moments = state.moments[:, :-1] if model.n_params > 1 else state.moments[:0]
    elif kind == "moments-nan":
        state.moments[0, 0] = np.nan
    elif kind == "moments-int":
        state.moments = state.moments.astype(np.int64)
    elif kind == "not-a-state":
        return (state.optimizer, state.step, state.moments), BAD
    else:
        return None, BAD
    return state, BAD


def draw_lr(data, dtype):
    if not breaks(data, "lr"):
        return data.draw(st.sampled_from([1e-3, 0.05, 0.5, np.float32(0.1), 1]), label="lr"), OK
    value = data.draw(st.sampled_from([0.0, -0.1, math.nan, math.inf, 1e39 if dtype == np.float32 else -1e300, True,
                                       None, "0.1", np.array([0.1])]), label="lr")
    return value, BAD


def draw_momentum(data):
    if not breaks(data, "momentum"):
        return data.draw(st.sampled_from([0.0, 0, 0.5, 0.9, np.float64(0.99)]), label="momentum"), OK
    return data.draw(st.sampled_from([1.0, 1, -0.1, math.nan, math.inf, True, None, "0.9", 2.0]),
                     label="momentum"), BAD


@fuzz(0.8)
@given(data=st.data())
def test_train_step_matches_the_reference_or_raises_naming_the_argument(data):
    model, X, y = draw_problem(data, max_n=6, max_hidden=2)
    args = draw_training(data, model, X, y, with_step=False)
    diverging(args)
    args["state"] = draw_state(data, model)
    args["lr"] = draw_lr(data, model.dtype)
    args["momentum"] = draw_momentum(data)
    kw = {k: args[k][0] for k in ("objective", "eta", "noise", "lr", "momentum", "seed", "epoch", "layers",
                                  "biases")}
    ids, state = args["ids"][0], args["state"][0]
    if args["state"][1] and args["lr"][1] and state.optimizer == "adam":
        _EXTREME["amplification"] = 1 + float(kw["lr"]) / 1e-8
    with environment(data) as tiny:
        run_case(lambda: wn.train_step(args["model"][0], args["X"][0], args["y"][0], state, ids, **kw), args,
                 lambda: ref.train_step(model, clean(args["X"][0]), clean(args["y"][0]), state, ids, **kw),
                 compare_results(model.dtype), tiny)


def _fit_by_reference(model, X, y, *, objective, eta, noise, optimizer, lr, momentum, epochs, batch_size, seed,
                      layers, biases):
    """fit's epochs as reference train_steps over the minibatches of reference.epoch_order."""
    state = wn.OptimizerState.create(optimizer, model)
    n = X.shape[0]
    for epoch in range(epochs):
        order = ref.epoch_order(seed, epoch, n)
        for begin in range(0, n, batch_size):
            model, state, _ = ref.train_step(model, X, y, state, order[begin:begin + batch_size], objective=objective,
                                             eta=eta, noise=noise, lr=lr, momentum=momentum, seed=seed, epoch=epoch,
                                             layers=layers, biases=biases)
    return model, state


@fuzz(0.5)
@given(data=st.data())
def test_fit_matches_reference_steps_or_raises_naming_the_argument(data):
    model, X, y = draw_problem(data, max_n=7, max_hidden=2)
    args = {"model": draw_model_arg(data, model)}
    args.update(draw_arrays(data, model, X, y, "Xy"))
    diverging(args)
    n = np.asarray(args["X"][0]).shape[0] if args["X"][1] else X.shape[0]
    args["objective"] = draw_choice(data, "objective", ["plain", "penalty", "noise"])
    args["eta"] = draw_eta(data, model.dtype)
    if args["eta"][1] is EITHER:
        args["eta"] = (0.01, OK)
    args["noise"] = draw_choice(data, "noise", list(wn.NOISE_MODES))
    args["optimizer"] = draw_choice(data, "optimizer", ["sgd", "adam"])
    args["lr"] = draw_lr(data, model.dtype)
    args["momentum"] = draw_momentum(data)
    args["epochs"] = draw_count(data, "epochs", 0, 2)
    if not breaks(data, "batch_size"):  # 1 … N, and larger than N
        args["batch_size"] = (data.draw(st.integers(1, 2 * n + 2), label="batch_size"), OK)
    else:
        args["batch_size"] = (data.draw(st.sampled_from([0, -1, 2**32, 1.5, None, True]), label="batch_size"), BAD)
    args["seed"] = draw_seed(data)
    args["eval_draws"] = draw_count(data, "eval_draws", 0, 2)
    args["layers"] = draw_layers(data, model.n_layers)
    args["biases"] = draw_flag(data, "biases")
    monitor = data.draw(st.booleans(), label="monitor")
    validation_kind = data.draw(st.sampled_from(["bad-X", "bad-pair", "bad-y"] if breaks(data, "validation")
                                                else ["none", "none", "ok"]), label="validation")
    Xv = clean(args["X"][0]) if args["X"][1] else X
    validation = {"none": (None, OK), "ok": ((Xv[:2], np.zeros(min(2, len(Xv)), model.dtype)), OK),
                  "bad-X": ((Xv[:, :0], np.zeros(len(Xv), model.dtype)), BAD),
                  "bad-pair": ([Xv], BAD), "bad-y": ((Xv, np.zeros(len(Xv) + 1, model.dtype)), BAD)}[validation_kind]
    args["validation"] = validation
    callback = "bad" if breaks(data, "callback") else data.draw(st.sampled_from([None, None, "stop"]), label="callback")
    args["callback"] = ({"stop": lambda record, model: True, "bad": 42}.get(callback), BAD if callback == "bad" else OK)
    kw = {k: args[k][0] for k in ("objective", "eta", "noise", "optimizer", "lr", "momentum", "epochs", "batch_size",
                                  "seed", "eval_draws", "layers", "biases", "validation", "callback")}
    if all(args[k][1] for k in ("optimizer", "lr", "epochs", "batch_size")) and kw["optimizer"] == "adam":
        updates = int(kw["epochs"]) * -(-n // int(kw["batch_size"]))
        _EXTREME["amplification"] = 1 + updates * float(kw["lr"]) / 1e-8
    with environment(data) as tiny:
        result = run_case(lambda: wn.fit(args["model"][0], args["X"][0], args["y"][0], progress=False,
                                         monitor=monitor, **kw),
                          args, tiny_limit=tiny, extra_names=("X_val", "y_val"))
    if result is None:
        return
    epochs = kw["epochs"] if callback != "stop" else min(1, kw["epochs"])
    assert len(result.history) == epochs and not result.interrupted
    assert result.model is not model
    with warnings.catch_warnings():
        if _EXTREME["on"]:  # overflow on the way: NumPy warns in the reference as it may in the kernels
            warnings.simplefilter("ignore", RuntimeWarning)
        try:
            expected, state = _fit_by_reference(model, clean(args["X"][0]), clean(args["y"][0]), epochs=epochs,
                                                **{k: kw[k] for k in ("objective", "eta", "noise", "optimizer", "lr",
                                                                      "momentum", "batch_size", "seed", "layers",
                                                                      "biases")})
        except ValueError:  # the reference's step overflowed at the float limit where the kernels' did not
            assert _EXTREME["on"], "the reference diverged where fit did not"
            return
        compare_results(model.dtype)((result.model, result.state), (expected, state), "fit")
        if monitor and epochs:
            assert_close(result.history[-1]["loss"], ref.loss(expected, clean(args["X"][0]), clean(args["y"][0])),
                         model.dtype, "history loss")


# --- construction, persistence, random numbers, threads ----------------------------------------------------------


@fuzz(1.5)
@given(sizes=st.one_of(
           st.lists(st.integers(1, 6), min_size=1, max_size=4).map(lambda hidden: [*hidden, 1]),
           st.lists(st.integers(1, 6), min_size=1, max_size=3).map(lambda hidden: (*hidden, np.int64(1))),
           st.lists(st.integers(-2, 8), min_size=0, max_size=5),
           st.lists(st.sampled_from([1, 2, np.int64(3), np.uint8(2), True, 1.0, "2", None, 2**70, -(2**70)]),
                    min_size=1, max_size=4),
           st.sampled_from([None, 3, "21", b"\x02\x01", 2.5, np.array([2, 1]), np.array([[2, 1]]), range(3, 0, -2),
                            {2: 0, 1: 0}, (2, 1), [2**20, 2**20, 1], [2**31, 2**31, 1], [2**62, 2, 1]])),
       activation=st.one_of(st.sampled_from(wn.ACTIVATIONS), st.sampled_from([None, "TANH", "", 0, ["relu"]]),
                            st.text(max_size=6)),
       dtype=st.sampled_from([np.float64, np.float32, "float32", "f8", np.dtype("float64"), float, np.float16, int,
                              np.int32, complex, object, None, "bogus", np.longdouble, [1]]),
       seed=st.one_of(st.integers(0, 2**64 - 1), st.sampled_from([-1, 2**64, 1.5, "0", None, True, np.int64(-3),
                                                                  [1, 2], np.uint64(5)])))
def test_the_mlp_constructor_builds_a_valid_model_or_raises_naming_the_argument(sizes, activation, dtype, seed):
    try:
        expected_sizes = tuple(sizes)
    except TypeError:
        expected_sizes = None
    sizes_ok = (expected_sizes is not None and len(expected_sizes) >= 2
                and all(isinstance(d, (int, np.integer)) and not isinstance(d, (bool, np.bool_))
                        for d in expected_sizes)
                and all(1 <= d for d in expected_sizes) and expected_sizes[-1] == 1)
    if sizes_ok:
        n_params = sum(int(o) * (int(i) + 1) for i, o in zip(expected_sizes[:-1], expected_sizes[1:]))
        sizes_ok = OK if n_params < 2**16 else EITHER  # large: a MemoryError naming the size is fine too
    try:
        dtype_ok = np.dtype(dtype) in (np.dtype(np.float32), np.dtype(np.float64))  # None: NumPy's float64
    except TypeError:
        dtype_ok = False
    seed_ok = (isinstance(seed, (int, np.integer)) and not isinstance(seed, (bool, np.bool_))
               and 0 <= int(seed) < 2**64)
    args = {"layer_sizes": (sizes, sizes_ok), "activation": (activation, activation in wn.ACTIVATIONS),
            "dtype": (dtype, dtype_ok), "seed": (seed, seed_ok)}
    if sizes_ok is EITHER:
        # a memory guard may refuse a huge model before allocating
        try:
            model = wn.MLP(sizes, activation, seed=seed, dtype=dtype)
        except MemoryError as exc:
            assert "layer_sizes" in str(exc) or "WEIGHTNOISE_MEMORY_LIMIT" in str(exc), exc
            return
        except (ValueError, TypeError) as exc:
            assert names_argument(str(exc), [n for n, (_, ok) in args.items() if ok is not OK]), exc
            return
    else:
        model = run_case(lambda: wn.MLP(sizes, activation, seed=seed, dtype=dtype), args)
    if model is None:
        return
    assert model.layer_sizes == tuple(int(d) for d in expected_sizes)
    assert model.dtype == np.dtype(dtype) and model.activation == activation
    assert model.params.shape == (model.n_params,) and np.all(np.isfinite(model.params))
    assert all(np.all(b == 0) for _, b in model.layers)


@pytest.fixture(scope="module")
def folder():
    path = Path(tempfile.mkdtemp(prefix="weightnoise-fuzz-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


ENTRY_MUTATIONS = {
    "format": [np.array("WeightNoise"), np.array(["weightnoise"]), np.array(1), np.array(b"weightnoise")],
    "version": [np.array(2), np.array(-1), np.array(1.5), np.array("1"), np.array("abc"), np.array([1, 1]),
                np.array(True), np.zeros((0,))],
    "kind": [np.array("checkpoint"), np.array(0)],
    "layer_sizes": [np.array([2.0, 1.0]), np.array([[2, 1]]), np.array([-3, -1]), np.array([0, 1]), np.array([2, 2]),
                    np.array([True, True]), np.array(["2", "1"]), np.array([2**62, 2**62, 1], dtype=np.uint64),
                    np.array(2), np.array([2**31, 2**31, 1]), np.array([1])],
    "activation": [np.array("TANH"), np.array(3), np.array(["tanh", "relu"]), np.array("")],
    "dtype": [np.array("float16"), np.array("int32"), np.array("bogus"), np.array(4)],
    "params": [np.zeros(2), np.zeros((1, 3)), np.zeros(3, dtype=np.float32), np.zeros(3, dtype=np.int64),
               np.array([np.nan, 0, 0]), np.array([np.inf, 0, 0]), np.zeros(3, dtype=np.complex128), np.array(0.0)],
}


@fuzz(1.0)
@given(data=st.data())
def test_save_and_load_round_trip_and_hostile_files_raise_naming_the_file(folder, data):
    model, _, _ = draw_problem(data, max_n=1)
    path = folder / f"case-{data.draw(st.integers(0, 2**32), label='name')}.npz"
    wn.save(model, path)
    loaded = wn.load(path)
    assert (loaded.layer_sizes, loaded.activation, loaded.dtype) == (model.layer_sizes, model.activation, model.dtype)
    assert np.array_equal(loaded.params, model.params)
    # a damaged file: entries changed or dropped, bytes truncated or flipped
    entries = dict(np.load(path, allow_pickle=False))
    kind = data.draw(st.sampled_from(["entry", "drop", "truncate", "garbage", "empty", "directory", "missing"]),
                     label="damage")
    if kind == "entry":
        key = data.draw(st.sampled_from(sorted(ENTRY_MUTATIONS)), label="entry")
        entries[key] = data.draw(st.sampled_from(ENTRY_MUTATIONS[key]), label="value")
        if key in ("layer_sizes", "dtype", "params"):  # keep the rest consistent with a (2, 1) model
            entries.setdefault("layer_sizes", np.array([2, 1]))
            entries["params"] = entries["params"] if key == "params" else np.zeros(3)
            if key != "layer_sizes":
                entries["layer_sizes"] = np.array([2, 1])
            if key != "dtype":
                entries["dtype"] = np.array("float64")
        np.savez(path, **entries)
    elif kind == "drop":
        del entries[data.draw(st.sampled_from(sorted(entries)), label="dropped")]
        np.savez(path, **entries)
    elif kind == "truncate":
        raw = path.read_bytes()
        path.write_bytes(raw[:data.draw(st.integers(0, len(raw) - 1), label="length")])
    elif kind == "garbage":
        path.write_bytes(data.draw(st.binary(max_size=64), label="bytes"))
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "directory":
        path.unlink()
        path.mkdir()
    else:
        path.unlink()
    note(f"damage {kind}")
    event(f"damage: {kind}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            result = wn.load(path)
    except OSError as exc:
        assert kind in ("directory", "missing"), f"{type(exc).__name__} for a readable file: {exc}"
        assert str(path) in str(exc), exc
    except (ValueError, TypeError) as exc:
        assert str(path) in str(exc), f"the error does not name the file: {type(exc).__name__}: {exc}"
    else:  # a change load may accept (e.g. kind, an older version): the model is what the file says
        assert kind == "entry" or (kind == "drop"), kind
        saved = dict(np.load(path, allow_pickle=False))
        assert list(result.layer_sizes) == saved["layer_sizes"].tolist()
        assert np.array_equal(result.params, saved["params"]) and result.params.dtype == saved["params"].dtype
        assert str(saved["activation"]) == result.activation and str(saved["dtype"]) == result.dtype.name
    finally:
        if path.is_dir():
            path.rmdir()
        elif path.exists():
            path.unlink()


@fuzz(0.5)
@given(model_kind=st.sampled_from(["model", "none", "str", "nan"]),
       target=st.sampled_from(["file", "none", "int", "directory", "missing-folder", "bytes", "pathlike"]))
def test_save_refuses_bad_models_and_paths_naming_them(folder, model_kind, target):
    model = wn.MLP((2, 3, 1))
    if model_kind == "nan":
        model.params[0] = np.nan
    arg = {"model": model, "none": None, "str": "model", "nan": model}[model_kind]
    path = {"file": folder / "saved.npz", "none": None, "int": 3, "directory": folder,
            "missing-folder": folder / "no" / "such" / "x.npz", "bytes": bytes(folder / "b.npz"),
            "pathlike": folder / "p.npz"}[target]
    try:
        wn.save(arg, path)
    except OSError as exc:
        assert model_kind == "model" and target in ("directory", "missing-folder"), exc
        assert str(path) in str(exc) or os.fsdecode(path) in str(exc), exc
    except (ValueError, TypeError) as exc:
        assert model_kind != "model" or target in ("none", "int"), exc
        assert names_argument(str(exc), ["model"] if model_kind != "model" else ["path"]), exc
    else:
        assert model_kind == "model" and target in ("file", "bytes", "pathlike")
        assert np.array_equal(wn.load(path).params, model.params)
    assert not list(folder.glob(".*.tmp")), "a failed save left a temporary file"


@fuzz(1.0)
@given(shape=st.one_of(st.integers(-3, 40), st.lists(st.integers(-1, 6), max_size=4).map(tuple),
                       st.lists(st.integers(0, 6), max_size=3), st.sampled_from(
                           [None, 2.0, "3", (2, 2.0), (True, 2), np.int64(5), (np.uint8(3), 2), np.array(3),
                            np.array([2, 3]), (2**20, 2**20), (2**40,), [2**33], -(2**70)])),
       seed=st.one_of(st.integers(0, 2**64 - 1), st.sampled_from([-1, 2**64, 1.0, None, "1", True, np.uint64(9)])),
       dtype=st.sampled_from([np.float64, np.float32, "float32", np.dtype("f8"), np.float16, int, None, "bogus",
                              complex, [1]]))
def test_standard_normal_matches_the_numpy_twin_or_raises_naming_the_argument(shape, seed, dtype):
    dims = (shape,) if isinstance(shape, (int, np.integer)) and not isinstance(shape, (bool, np.bool_)) else shape
    shape_ok = isinstance(dims, (tuple, list)) and all(
        isinstance(d, (int, np.integer)) and not isinstance(d, (bool, np.bool_)) and d >= 0 for d in dims)
    size = math.prod(int(d) for d in dims) if shape_ok else 0
    if shape_ok and size >= 2**33:
        shape_ok = False
    elif shape_ok and size > 2**16:
        return  # valid but large: not worth the time here
    seed_ok = isinstance(seed, (int, np.integer)) and not isinstance(seed, (bool, np.bool_)) and 0 <= seed < 2**64
    try:
        dtype_ok = np.dtype(dtype) in (np.dtype(np.float32), np.dtype(np.float64))  # None: NumPy's float64
    except TypeError:
        dtype_ok = False
    args = {"shape": (shape, shape_ok), "seed": (seed, seed_ok), "dtype": (dtype, dtype_ok)}
    result = run_case(lambda: wn.standard_normal(shape, seed, dtype), args)
    if result is None:
        return
    assert result.shape == tuple(int(d) for d in dims) and result.dtype == np.dtype(dtype)
    twin = philox.normal(int(seed), philox.Purpose.standard_normal, 0, 0, 0, size).reshape(result.shape)
    ulps = np.abs(result.astype(np.float64) - twin) / np.spacing(np.abs(twin).astype(np.dtype(dtype)))
    assert np.all(ulps <= philox.NORMAL_ULP_BOUND + (1 if np.dtype(dtype) == np.float32 else 0)), ulps.max()


@fuzz(0.5)
@given(n=st.one_of(st.integers(0, 16), st.sampled_from([None, 1024, np.int64(2), np.uint8(1)]),
                   st.sampled_from([-1, 1025, 2**70, 1.0, 2.5, "2", True, False, np.bool_(True), [2], math.nan])),
       through=st.sampled_from(["set", "context"]))
def test_thread_counts_are_set_and_restored_or_refused_naming_n(n, through):
    previous = wn.get_num_threads()
    default = None
    with wn.num_threads(None):
        default = wn.get_num_threads()
    valid = (n is None or (isinstance(n, (int, np.integer)) and not isinstance(n, (bool, np.bool_))
                           and 0 <= n <= 1024))
    try:
        if through == "set":
            run_case(lambda: wn.set_num_threads(n), {"n": (n, valid)})
            if valid:
                assert wn.get_num_threads() == (default if not n else int(n))
        else:
            def enter():
                with wn.num_threads(n):
                    return wn.get_num_threads()
            inside = run_case(enter, {"n": (n, valid)})
            if valid:
                assert inside == (default if not n else int(n))
            assert wn.get_num_threads() == previous
    finally:
        wn.set_num_threads(None)
        wn.set_num_threads(previous)


def test_show_config_describes_the_build():
    if not hasattr(wn, "show_config"):
        pytest.skip("this build has no show_config")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        config = wn.show_config()
    assert isinstance(config, dict) and config and out.getvalue().count("\n") == len(config)
    assert wn.show_config(print_out=False) == config


@fuzz(0.3)
@given(optimizer=st.one_of(st.sampled_from(["sgd", "adam"]), st.sampled_from(["SGD", "", None, 3, ["sgd"]])))
def test_optimizer_state_create_validates_its_optimizer(optimizer):
    model = wn.MLP((2, 3, 1))
    state = run_case(lambda: wn.OptimizerState.create(optimizer, model),
                     {"optimizer": (optimizer, optimizer in ("sgd", "adam") and isinstance(optimizer, str))})
    if state is not None:
        assert state.moments.shape == (1 if optimizer == "sgd" else 2, model.n_params) and state.step == 0


# --- the command line --------------------------------------------------------------------------------------------

FLAGS = {  # option: (kind of value, number of values)
    "--data": ("choice", 1), "--csv": ("path", 1), "--target": ("text", 1), "--n-examples": ("positive", 1),
    "--test-fraction": ("fraction", 1), "--hidden": ("positive", "+"), "--activation": ("choice", 1),
    "--noise": ("choice", 1), "--epochs": ("count", 1), "--cooldown-epochs": ("count", 1), "--lr": ("float", 1),
    "--optimizer": ("choice", 1), "--momentum": ("momentum", 1), "--batch-size": ("positive", 1),
    "--seed": ("count", 1), "--threads": ("count", 1), "--out": ("path", 1), "--no-plots": (None, 0),
    "--no-progress": (None, 0), "--etas": ("float", "+"), "--draws": ("positive", 1), "--train-etas": ("float", "+"),
    "--eval-draws": ("positive", 1), "--monitor-every": ("positive", 1),
}
BAD_VALUES = ["", "-1", "0", "-0", "1e999", "nan", "inf", "-inf", "abc", "1.5", "0x10", "1_000", "２", "--", "-",
              "1e-400", "١", " 3", "3 ", "0.0", "1.0", "99999999999999999999999", "\x00", "é"]
GOOD_VALUES = {"positive": ["1", "3"], "count": ["0", "2"], "fraction": ["0.25", "0.5"], "float": ["0.001", "0.1"],
               "momentum": ["0", "0.9"], "choice": ["tanh", "sgd", "local", "synthetic"], "text": ["y", "price"],
               "path": ["out", "data.csv"]}


class _Stream(io.StringIO):
    encoding = "utf-8"

    def isatty(self):
        return False


def argv_strategy():
    words = ["demo", "equivalence", "train", "sweep", "bogus", "-x", "--no-such-flag", "--lr=abc", "--hidden=0",
             "--epochs=-1", "a\nb", "\r"]
    token = st.one_of(st.sampled_from(sorted(FLAGS)), st.sampled_from(words),
                      st.sampled_from(BAD_VALUES),
                      st.sampled_from([v for values in GOOD_VALUES.values() for v in values]),
                      st.text(max_size=6))
    return st.lists(token, max_size=8)


@fuzz(2.0)
@given(argv=argv_strategy())
def test_the_command_line_answers_random_arguments_with_exit_2_and_one_line_or_valid_settings(argv):
    """Random argument lists: argparse and the command's own checks must answer a bad one with exit
    status 2 and a single line ``weightnoise: error: …`` on stderr, never a traceback; a good one
    reaches ``run`` with settings inside their documented ranges (``run`` is stubbed out here)."""
    seen = []
    out, err = _Stream(), _Stream()
    original = cli.run
    cli.run = lambda args, say=None: seen.append(args)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = cli.main(list(argv))
    finally:
        cli.run = original
    stdout, stderr = out.getvalue(), err.getvalue()
    note(f"status {status}\nstdout {stdout[:500]!r}\nstderr {stderr!r}")
    event(f"exit status {status}" + (" (help or version)" if status == 0 and not seen else ""))
    assert "Traceback" not in stdout + stderr
    if status == 2:
        assert not seen and stderr.startswith("weightnoise: error: ") and len(stderr.splitlines()) == 1, stderr
        return
    assert status == 0, status
    if not seen:  # --help or --version
        assert ("-h" in argv or "--help" in argv or "--version" in argv) and stdout and not stderr
        return
    args = seen[0]
    assert not stderr
    if args.command == "sweep":  # its own options, checked by _sweep_cli and tests/test_sweep.py
        return
    assert args.command in cli.COMMANDS
    assert all(isinstance(h, int) and h >= 1 for h in args.hidden)
    assert args.n_examples >= 1 and 0 < args.test_fraction < 1 and args.epochs >= 0 and args.cooldown_epochs >= 0
    assert math.isfinite(args.lr) and args.lr > 0 and 0 <= args.momentum < 1 and args.seed >= 0
    assert args.batch_size is None or args.batch_size >= 1
    assert (args.csv is None) == (args.target is None)
    for etas in (getattr(args, "etas", None), getattr(args, "train_etas", None)):
        assert etas is None or (etas == sorted(set(etas)) and all(math.isfinite(e) and e > 0 for e in etas))
    if args.command != "train":
        assert len(args.etas) >= 2


CSV_LINES = ["a,b,y", "1,2,3", "4,5,6", "", "1,2", "1,2,3,4", "x,2,3", "1,,3", "nan,1,2", "inf,1,2", "1e999,1,2",
             "y", "a,a,y", "\ufeffa,b,y", "1;2;3", "\x00", "0,0,0", "7,8,9", "2,1,0", "3,1,4", "5,9,2"]


@fuzz(0.4)
@given(lines=st.lists(st.sampled_from(CSV_LINES), max_size=8), target=st.sampled_from(["y", "a", "z", "", "Y"]),
       command=st.sampled_from(["equivalence", "train"]), out_kind=st.sampled_from(["folder", "file"]))
def test_the_command_line_on_hostile_csv_files_exits_0_or_2_with_one_line(folder, lines, target, command, out_kind):
    """A real run (tiny settings) on a CSV made of random lines: results, or exit 2 and one line."""
    case = folder / f"cli-{abs(hash((tuple(lines), target, command, out_kind)))}"
    case.mkdir(exist_ok=True)
    csv = case / "data.csv"
    csv.write_text("\n".join(lines) + ("\n" if lines else ""), encoding="utf-8")
    out_path = case / "out"
    if out_kind == "file":
        out_path.write_text("not a folder")
    argv = [command, "--csv", str(csv), "--target", target, "--hidden", "2", "--epochs", "1", "--cooldown-epochs",
            "0", "--no-plots", "--no-progress", "--out", str(out_path), "--threads", "1"]
    argv += ["--etas", "0.001", "0.01", "--draws", "2"] if command == "equivalence" else ["--etas", "0.01",
                                                                                          "--eval-draws", "2"]
    out, err = _Stream(), _Stream()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # tiny data sets give degenerate slopes
        status = cli.main(argv)
    stderr = err.getvalue()
    note(f"status {status}, stderr {stderr!r}")
    event(f"exit status {status}")
    assert "Traceback" not in out.getvalue() + stderr
    if status == 2:
        assert stderr.startswith("weightnoise: error: ") and len(stderr.splitlines()) == 1, stderr
    else:
        assert status == 0 and out_kind == "folder" and (out_path / "results.json").exists(), (status, stderr)
    shutil.rmtree(case, ignore_errors=True)


# --- coverage of the public API ----------------------------------------------------------------------------------

FUZZED = set(DERIVATIVES) | {"perturbed_loss", "perturb", "second_order", "equivalence", "objective",
                             "objective_grad", "train_step", "fit", "MLP", "save", "load", "standard_normal",
                             "set_num_threads", "num_threads", "get_num_threads", "show_config", "OptimizerState"}
# PyTorch interop and the Dask sweep need optional dependencies; their own test files
# cover their arguments.
OPTIONAL = {"from_torch", "to_torch", "sweep"}  # tests/test_torch_interop.py, tests/test_sweep.py
NOT_FUNCTIONS = {"ACTIVATIONS", "NOISE_MODES", "Equivalence", "Estimate", "FitInterrupted", "FitResult",
                 "SecondOrder"}


def test_every_public_function_is_fuzzed():
    assert set(wn.__all__) - FUZZED - NOT_FUNCTIONS - OPTIONAL == set()


# --- what the fuzzing found, fixed since (see docs/reliability.md) ----------------------------------------------


@pytest.mark.parametrize("call", ["perturbed_loss", "perturb", "train_step"])
def test_a_fraction_for_eta_or_lr_is_accepted_or_refused_naming_it(call):
    model = wn.MLP((2, 3, 1))
    X, y = np.ones((4, 2)), np.zeros(4)
    state = wn.OptimizerState.create("sgd", model)
    calls = {"perturbed_loss": lambda: wn.perturbed_loss(model, X, y, fractions.Fraction(1, 10), 2),
             "perturb": lambda: wn.perturb(model, fractions.Fraction(1, 10)),
             "train_step": lambda: wn.train_step(model, X, y, state, lr=fractions.Fraction(1, 10))}
    try:
        calls[call]()
    except (ValueError, TypeError) as exc:
        assert names_argument(str(exc), ["eta", "lr"]), str(exc)


def test_optimizer_state_create_refuses_a_non_model_naming_it():
    with pytest.raises(TypeError, match="model"):
        wn.OptimizerState.create("sgd", "not a model")


@pytest.mark.parametrize("kernel, x", [("per_example_grads", 1e300), ("hvp", 1e200), ("hvp", 1e150)])
def test_sigmoid_derivative_underflows_to_zero_in_vectorized_code(kernel, x):
    model = wn.MLP((1, 16, 1), "sigmoid")
    model.params = np.concatenate([np.full(16, -1.0), np.zeros(16), np.ones(16), [0.0]])  # z = -x in 16 units
    X = np.array([[x]])
    call = {"per_example_grads": lambda impl: impl.per_example_grads(model, X)[0],
            "hvp": lambda impl: impl.hvp(model, X, np.ones(model.n_params))}[kernel]
    with np.errstate(over="ignore"):
        expected, got = call(ref), call(wn)
    assert np.array_equal(expected[:32], np.zeros(32))  # the weights and biases of the saturated layer
    assert np.array_equal(got[:32], expected[:32]), got[:3]


@pytest.mark.parametrize("call", ["train_step", "fit"])
def test_a_training_step_that_overflows_raises_naming_the_cause(call):
    model = wn.MLP((1, 3, 1), "relu")
    X, y = np.array([[1e200], [1.0]]), np.zeros(2)
    with pytest.raises(ValueError) as info, np.errstate(all="ignore"):
        if call == "train_step":
            wn.train_step(model, X, y, wn.OptimizerState.create("sgd", model), lr=0.1)
        else:
            wn.fit(model, X, y, lr=0.1, epochs=3, batch_size=1, progress=False, monitor=False)
    assert names_argument(str(info.value), ["lr", "X"]) or "diverge" in str(info.value), str(info.value)
