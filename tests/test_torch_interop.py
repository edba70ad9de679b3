"""from_torch / to_torch: weights round-trip, and outputs and per-example gradient norms match torch.func."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from torch import nn
from torch.func import functional_call, grad, vmap

import weightnoise as wn

from conftest import make_problem, relative_error

ACTIVATIONS = ("tanh", "relu", "sigmoid", "softplus", "identity")


def torch_outputs(net: nn.Sequential, X: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return net(torch.from_numpy(X)).squeeze(-1).numpy()


def torch_grad_norms_sq(net: nn.Sequential, X: np.ndarray) -> np.ndarray:
    """‖∇_θ ŷ(x_n)‖² from per-example gradients, vmap(grad) of torch.func."""
    params = {name: p.detach() for name, p in net.named_parameters()}

    def output(params: dict, x: torch.Tensor) -> torch.Tensor:
        return functional_call(net, params, (x[None],)).squeeze()

    grads = vmap(grad(output), in_dims=(None, 0))(params, torch.from_numpy(X))
    return sum(g.flatten(start_dim=1).pow(2).sum(dim=1) for g in grads.values()).numpy()


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_to_torch_matches_outputs_and_grad_norms(activation):
    model, X, _ = make_problem((5, 7, 6, 1), activation, n_examples=64)
    net = to_net(model)
    assert relative_error(torch_outputs(net, X), wn.predict(model, X)) <= 1e-10
    assert relative_error(torch_grad_norms_sq(net, X), wn.grad_norms_sq(model, X)) <= 1e-10


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_from_torch_matches_outputs_and_grad_norms(activation):
    torch.manual_seed(0)
    act = {"tanh": nn.Tanh(), "relu": nn.ReLU(), "sigmoid": nn.Sigmoid(), "softplus": nn.Softplus(),
           "identity": nn.Identity()}[activation]
    net = nn.Sequential(nn.Linear(4, 9), act, nn.Linear(9, 3), type(act)(), nn.Linear(3, 1)).double()
    model = wn.from_torch(net)
    assert model.layer_sizes == (4, 9, 3, 1) and model.activation == activation
    X = np.random.default_rng(1).standard_normal((50, 4))
    assert relative_error(wn.predict(model, X), torch_outputs(net, X)) <= 1e-10
    assert relative_error(wn.grad_norms_sq(model, X), torch_grad_norms_sq(net, X)) <= 1e-10


def test_to_torch_softplus_is_exact_beyond_torchs_default_threshold():
    model, X, _ = make_problem((3, 6, 1), "softplus", n_examples=40)
    model.params = 40.0 * model.params  # pre-activations well beyond 20
    assert np.abs(model.layers[0][0] @ X.T).max() > 30
    assert relative_error(torch_outputs(wn.to_torch(model), X), wn.predict(model, X)) <= 1e-10


def to_net(model: wn.MLP) -> nn.Sequential:
    net = wn.to_torch(model)
    assert isinstance(net, nn.Sequential)
    return net


@pytest.mark.parametrize("dtype, torch_dtype", [(np.float64, torch.float64), (np.float32, torch.float32)])
def test_weights_round_trip_exactly(dtype, torch_dtype):
    model, _, _ = make_problem((3, 5, 4, 1), "softplus", dtype=dtype)
    net = wn.to_torch(model)
    assert all(p.dtype == torch_dtype for p in net.parameters())
    flat = torch.cat([p.detach().flatten() for p in net.parameters()]).numpy()
    np.testing.assert_array_equal(flat, model.params)  # the same flat order as nn.Linear
    back = wn.from_torch(net)
    assert (back.layer_sizes, back.activation, back.dtype) == (model.layer_sizes, model.activation, model.dtype)
    np.testing.assert_array_equal(back.params, model.params)
    for ours, theirs in zip(wn.to_torch(back).state_dict().values(), net.state_dict().values()):
        assert torch.equal(ours, theirs)


def test_copies_not_views():
    model, _, _ = make_problem((2, 3, 1))
    net = wn.to_torch(model)
    before = model.params.copy()
    with torch.no_grad():
        next(net.parameters()).add_(1.0)
    np.testing.assert_array_equal(model.params, before)
    again = wn.from_torch(net)
    model.params = model.params + 1.0
    assert not np.array_equal(again.params, model.params)


def test_identity_gaps_and_missing_biases():
    net = nn.Sequential(nn.Identity(), nn.Linear(3, 4, bias=False), nn.Linear(4, 1), nn.Identity()).double()
    model = wn.from_torch(net)
    assert model.activation == "identity" and model.layer_sizes == (3, 4, 1)
    np.testing.assert_array_equal(model.layers[0][1], np.zeros(4))
    X = np.random.default_rng(0).standard_normal((10, 3))
    assert relative_error(wn.predict(model, X), torch_outputs(net, X)) <= 1e-10


INVALID_NETS = [
    (nn.Sequential(nn.Linear(3, 4), nn.GELU(), nn.Linear(4, 1)), ValueError, "GELU.*not supported"),
    (nn.Sequential(nn.Linear(3, 4), nn.Dropout(), nn.Linear(4, 1)), ValueError, "Dropout.*not supported"),
    (nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)), ValueError, "scalar output"),
    (nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1), nn.Tanh()), ValueError, "linear output"),
    (nn.Sequential(nn.Tanh(), nn.Linear(3, 1)), ValueError, "before the first nn.Linear"),
    (nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.ReLU(), nn.Linear(4, 1)), ValueError, "another activation"),
    (nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 1)), ValueError,
     "one activation"),
    (nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 4), nn.Linear(4, 1)), ValueError, "one activation"),
    (nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(5, 1)), ValueError, "takes 5 inputs"),
    (nn.Sequential(nn.Linear(3, 4), nn.Softplus(beta=2.0), nn.Linear(4, 1)), ValueError, "beta"),
    (nn.Sequential(nn.Linear(3, 4), nn.Softplus(threshold=5.0), nn.Linear(4, 1)), ValueError, "threshold"),
    (nn.Sequential(nn.Identity()), ValueError, "no nn.Linear"),
    (nn.Sequential(nn.Linear(3, 1).half()), TypeError, r"float32 or all float64, got \['torch.float16'\]"),
    (nn.Sequential(nn.Linear(3, 1, device="meta")), ValueError, "meta device"),
    (nn.Sequential(nn.Linear(3, 4).double(), nn.Tanh(), nn.Linear(4, 1)), TypeError, "float32 or all float64"),
    (nn.Linear(3, 1), TypeError, "nn.Sequential"),
]


@pytest.mark.parametrize("net, error, match", INVALID_NETS, ids=[case[2] for case in INVALID_NETS])
def test_clear_errors(net, error, match):
    with pytest.raises(error, match=match):
        wn.from_torch(net)


def test_to_torch_rejects_non_models():
    with pytest.raises(TypeError, match=r"weightnoise\.MLP"):
        wn.to_torch(nn.Linear(2, 1))


def test_import_weightnoise_does_not_import_torch():
    code = "import sys, weightnoise; assert callable(weightnoise.to_torch); assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
