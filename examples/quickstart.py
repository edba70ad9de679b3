"""Quickstart: the three terms of the weight-noise expansion on a small regression problem.

    J̃_η = J + η·Ω + η·C + O(η²)

Run: python examples/quickstart.py
"""

import numpy as np

import weightnoise as wn

rng = np.random.default_rng(0)
X = rng.standard_normal((2000, 8))
y = np.sin(X[:, 0]) + 0.5 * X[:, 1] * X[:, 2] + 0.1 * rng.standard_normal(2000)

model = wn.MLP([8, 64, 64, 1], "tanh", seed=0)
eta = 1e-3

J = wn.loss(model, X, y)
omega = wn.penalty(model, X)  # mean ‖∇_θ ŷ‖², the textbook regularizer
C = wn.curvature(model, X, y)  # mean (ŷ − y) tr ∇²_θ ŷ, the term the textbook drops

print(f"model        {model}")
print(f"J            {J:.6f}")
print(f"eta * Omega  {eta * omega:.6f}")
print(f"eta * C      {eta * C:.6f}")
print(f"prediction of the perturbed loss J + eta*(Omega + C) = {J + eta * (omega + C):.6f}")
print(f"|grad Omega| {np.linalg.norm(wn.penalty_grad(model, X)):.6f}  (exact, one R-operator pass)")
