"""Training with weight noise against training with the gradient penalty.

Three runs from the same initialization, on the same minibatches in the same
order (weightnoise.fit keys both by the seed):

- plain:   minimize J;
- penalty: minimize J + η·Ω, the textbook equivalent of weight noise, with
           the exact gradient ∇J + η·∇Ω;
- noise:   minimize J̃_η: every presentation of an example perturbs the
           weights afresh, ε ~ N(0, ηI) (local noise), and the step follows
           the gradient of that perturbed loss.

For each η the script reports the final training and test loss, J̃_η, η·Ω and
η·C of each model, and the RMS distance between the learned functions on the
test inputs. At small η the noise- and penalty-trained functions are close to
each other and both apart from plain training; at larger η the η·C term and
the O(η²) remainder make them part.

Run: python examples/noise_vs_penalty_training.py   (a few seconds)
"""

from __future__ import annotations

import numpy as np

import weightnoise as wn

OBJECTIVES = ("plain", "penalty", "noise")


def synthetic_regression(n_examples: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_examples, 5))
    y = np.sin(1.5 * X[:, 0]) + 0.5 * X[:, 1] * X[:, 2] + 0.3 * rng.standard_normal(n_examples)
    return X, (y - y.mean()) / y.std()


def rms_distance(a: wn.MLP, b: wn.MLP, X: np.ndarray) -> float:
    """Root-mean-square difference of two networks' outputs on X."""
    return float(np.sqrt(np.mean((wn.predict(a, X) - wn.predict(b, X)) ** 2)))


def train_all(start: wn.MLP, X: np.ndarray, y: np.ndarray, eta: float) -> dict[str, wn.MLP]:
    """One model per objective, from the same start on the same minibatches."""
    return {objective: wn.fit(start, X, y, objective=objective, eta=eta, noise="local", optimizer="adam",
                              lr=3e-3, epochs=120, batch_size=32, seed=0, progress=False, monitor=False).model
            for objective in OBJECTIVES}


def main() -> None:
    X, y = synthetic_regression(500, seed=1)
    X_train, y_train, X_test, y_test = X[:300], y[:300], X[300:], y[300:]
    start = wn.MLP([5, 32, 32, 1], "tanh", seed=0)

    for eta in (1e-3, 1e-2):
        models = train_all(start, X_train, y_train, eta)
        print(f"\neta = {eta:g}")
        print(f"{'objective':>9} {'train J':>9} {'test J':>9} {'J~ (train)':>11} {'eta*Omega':>10} {'eta*C':>9}")
        for objective, model in models.items():
            terms = wn.second_order(model, X_train, y_train, eta)
            measured = wn.perturbed_loss(model, X_train, y_train, eta, 64, "local", seed=1)
            print(f"{objective:>9} {terms.loss:9.4f} {float(wn.loss(model, X_test, y_test)):9.4f} "
                  f"{measured.mean:11.4f} {terms.eta_penalty:10.4f} {terms.eta_curvature:9.4f}")
        print("RMS distance between the learned functions on the test inputs:")
        print(f"  noise - penalty {rms_distance(models['noise'], models['penalty'], X_test):.4f}   "
              f"noise - plain {rms_distance(models['noise'], models['plain'], X_test):.4f}   "
              f"penalty - plain {rms_distance(models['penalty'], models['plain'], X_test):.4f}")


if __name__ == "__main__":
    main()
