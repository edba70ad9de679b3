"""The benchmark problems of DESIGN.md §5: architectures, sizes per mode, data and parameters."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .timing import Budget

ARCH_A = (8, 64, 64, 1)
ARCH_B = (32, 256, 256, 1)
ETA = 1e-3          # noise variance of W3, W4 and W6
LEARNING_RATE = 0.05


@dataclass(frozen=True)
class Sizes:
    arch_a: tuple[int, ...]
    arch_b: tuple[int, ...] | None   # None: no Arch B cases (smoke)
    n_a: int              # examples, Arch A (W1–W3, W6)
    n_b: int              # examples, Arch B (W1–W3)
    n_w4: int             # examples of W4
    draws_w3: int
    draws_w4: int
    n_normals: int        # W5
    batch: int            # W6 minibatch
    n_check: int          # examples of the agreement checks
    draws_check: int


FULL_SIZES = Sizes(ARCH_A, ARCH_B, 65_536, 16_384, 8_192, 64, 4, 10**8, 256, 256, 3)
SMOKE_SIZES = Sizes((8, 16, 16, 1), None, 512, 256, 256, 4, 2, 10**5, 64, 64, 2)


@dataclass(frozen=True)
class Mode:
    name: str
    sizes: Sizes
    budget: Budget        # per contender: warm-up plus timed runs


MODES = {
    # Seconds: tiny sizes, one run; exercises every code path (the test suite runs it).
    "smoke": Mode("smoke", SMOKE_SIZES, Budget(seconds=0.5, min_repeats=1, max_repeats=1, min_total_s=0.0)),
    # Minutes: full sizes, but a contender gets ~2.5 s, so slow ones run on a stated fraction.
    "quick": Mode("quick", FULL_SIZES, Budget(seconds=2.5, min_repeats=5, max_repeats=20, min_total_s=0.3)),
    # The record: full sizes, up to ~30 s per contender before it is scaled (about an hour per thread count).
    "full": Mode("full", FULL_SIZES, Budget(seconds=30.0, min_repeats=5, max_repeats=50, min_total_s=2.0)),
}


@dataclass(frozen=True)
class Problem:
    """A network (flat parameters, DESIGN.md order) with inputs X (N, d_0) and targets y (N,)."""
    sizes: tuple[int, ...]
    params: np.ndarray
    X: np.ndarray
    y: np.ndarray

    @property
    def dtype(self) -> str:
        return self.X.dtype.name

    @property
    def n_examples(self) -> int:
        return self.X.shape[0]

    @property
    def n_params(self) -> int:
        return self.params.size

    def astype(self, dtype) -> Problem:
        return replace(self, params=self.params.astype(dtype), X=self.X.astype(dtype), y=self.y.astype(dtype))

    def head(self, n: int) -> Problem:
        """The first n examples (contiguous views)."""
        return replace(self, X=self.X[:n], y=self.y[:n])

    def layers(self, params: np.ndarray | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
        """(W_l of shape (d_l, d_{l−1}), b_l of shape (d_l,)) views into the flat parameters."""
        return split_layers(self.sizes, self.params if params is None else params)

    def model(self):
        """The same network as a weightnoise.MLP."""
        import weightnoise
        model = weightnoise.MLP(self.sizes, "tanh", seed=0, dtype=self.dtype)
        model.params = self.params
        return model


def architectures(sizes: Sizes) -> list[tuple[str, tuple[int, ...], int]]:
    """(name, layer sizes, examples) of the cases of W1–W3."""
    cases = [("Arch A", sizes.arch_a, sizes.n_a)]
    if sizes.arch_b is not None:
        cases.append(("Arch B", sizes.arch_b, sizes.n_b))
    return cases


def split_layers(sizes, flat: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    out, offset = [], 0
    for d_in, d_out in zip(sizes[:-1], sizes[1:]):
        W = flat[..., offset:offset + d_out * d_in].reshape((*flat.shape[:-1], d_out, d_in))
        offset += d_out * d_in
        out.append((W, flat[..., offset:offset + d_out]))
        offset += d_out
    return out


def make_problem(sizes, n_examples: int, seed: int = 0) -> Problem:
    """Weights ~ N(0, 1/fan_in) moved off initialization (biases nonzero), X ~ N(0, I), y = sin(Σx) + noise."""
    rng = np.random.default_rng(seed)
    n_params = sum(d_out * (d_in + 1) for d_in, d_out in zip(sizes[:-1], sizes[1:]))
    params = 0.2 * rng.standard_normal(n_params)
    for W, _ in split_layers(sizes, params):
        W += rng.standard_normal(W.shape) / np.sqrt(W.shape[1])
    X = rng.standard_normal((n_examples, sizes[0]))
    y = np.sin(X.sum(axis=1) / np.sqrt(sizes[0])) + 0.1 * rng.standard_normal(n_examples)
    return Problem(tuple(sizes), params, X, y)
