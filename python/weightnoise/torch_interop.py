"""Moving networks between weightnoise and PyTorch.

:func:`from_torch` reads an ``nn.Sequential`` of ``nn.Linear`` layers with one
kind of activation between them into a :class:`weightnoise.MLP`;
:func:`to_torch` builds the ``nn.Sequential`` that computes the same function.
Both copy the parameters: the flat order of :attr:`MLP.params` is that of
``nn.Linear`` (weight row-major, then bias, layer after layer).

PyTorch is imported only when one of the two functions is called (``pip install
weightnoise[torch]``); ``import weightnoise`` never imports it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .model import MLP

if TYPE_CHECKING:
    from torch import nn

__all__ = ["SOFTPLUS_MIN_THRESHOLD", "SOFTPLUS_THRESHOLD", "from_torch", "to_torch"]

# nn.Softplus(threshold=t) returns x itself for x > t instead of softplus(x);
# the difference, log1p(exp(-t)), is at most 2.1e-9 for PyTorch's default t = 20.
# from_torch accepts t >= 20. to_torch uses t = 40, where log1p(exp(-40)) ≈ 4e-18
# is below half an ulp of 40, so the module matches weightnoise's exact softplus.
SOFTPLUS_MIN_THRESHOLD = 20.0
SOFTPLUS_THRESHOLD = 40.0

_SUPPORTED = "nn.Linear, nn.Tanh, nn.ReLU, nn.Sigmoid, nn.Softplus(beta=1) and nn.Identity"


def _import_torch() -> Any:
    try:
        import torch
    except ImportError as exc:
        raise ImportError("from_torch and to_torch need PyTorch: pip install 'weightnoise[torch]'") from exc
    return torch


def _activation_of(module: Any, nn: Any, position: int) -> str | None:
    """The weightnoise name of an activation module, None for nn.Identity; ValueError if unsupported."""
    kind = type(module)  # exact types: a subclass may compute something else
    if kind is nn.Identity:
        return None
    if kind is nn.Softplus:
        if module.beta != 1:
            raise ValueError(f"module {position}: {module} has beta={module.beta}; weightnoise's softplus "
                             "has beta=1 (scale the adjacent Linear weights instead)")
        if module.threshold < SOFTPLUS_MIN_THRESHOLD:
            raise ValueError(f"module {position}: {module} switches to the identity above {module.threshold}, "
                             f"where it is not softplus; use threshold >= {SOFTPLUS_MIN_THRESHOLD:g}")
        return "softplus"
    names = {nn.Tanh: "tanh", nn.ReLU: "relu", nn.Sigmoid: "sigmoid"}
    if kind in names:
        return names[kind]
    raise ValueError(f"module {position}: {module} is not supported; weightnoise reads {_SUPPORTED}")


def _split(sequential: Any, nn: Any) -> tuple[list[Any], list[str | None]]:
    """The Linear layers, and the activation after each one but the last (None: none)."""
    linears: list[Any] = []
    between: list[str | None] = []
    pending: tuple[int, Any, str] | None = None  # the activation since the last Linear layer
    for position, module in enumerate(sequential):
        if type(module) is nn.Linear:
            if linears:
                between.append(None if pending is None else pending[2])
            linears.append(module)
            pending = None
            continue
        activation = _activation_of(module, nn, position)
        if activation is None:
            continue
        if not linears:
            raise ValueError(f"module {position}: {module} comes before the first nn.Linear; weightnoise "
                             "networks start with a linear layer")
        if pending is not None:
            raise ValueError(f"module {position}: {module} follows another activation, {pending[1]}")
        pending = (position, module, activation)
    if not linears:
        raise ValueError("the nn.Sequential holds no nn.Linear layer")
    if pending is not None:
        raise ValueError(f"module {pending[0]}: {pending[1]} follows the last nn.Linear; weightnoise networks "
                         "have a linear output")
    return linears, between


def from_torch(sequential: nn.Sequential) -> MLP:
    """The :class:`~weightnoise.MLP` that computes the same function as ``sequential``.

    Parameters
    ----------
    sequential : torch.nn.Sequential
        ``nn.Linear`` layers, each but the last followed by the same
        activation: ``nn.Tanh``, ``nn.ReLU``, ``nn.Sigmoid`` or
        ``nn.Softplus`` with ``beta=1`` and ``threshold >= 20`` (none, or
        ``nn.Identity``, reads as ``"identity"``). The last layer has one
        output. A Linear layer without bias reads as a zero bias.

    Returns
    -------
    MLP
        In the parameters' dtype (float32 or float64), holding a copy of them.

    Raises
    ------
    TypeError
        If ``sequential`` is not an ``nn.Sequential``, or its parameters are
        not all float32 or all float64.
    ValueError
        For an unsupported module, different activations in different layers,
        an activation after the last Linear layer, layer sizes that do not
        chain, or an output of more than one unit.
    ImportError
        Without PyTorch.
    """
    torch = _import_torch()
    torch_nn = torch.nn
    if not isinstance(sequential, torch_nn.Sequential):
        raise TypeError(f"from_torch takes a torch.nn.Sequential, got {type(sequential).__name__}")
    linears, between = _split(sequential, torch_nn)
    activations = {name for name in between if name is not None}
    if len(activations) > 1:
        raise ValueError(f"a weightnoise.MLP has one activation for all hidden layers, got {sorted(activations)}"
                         f" (after the Linear layers: {between})")
    if None in between and activations:
        raise ValueError(f"some hidden layers have no activation and others {activations.pop()}: a "
                         f"weightnoise.MLP has one activation for all hidden layers (after the Linear layers: "
                         f"{between})")
    sizes = [linears[0].in_features] + [layer.out_features for layer in linears]
    for l in range(1, len(linears)):
        if linears[l].in_features != linears[l - 1].out_features:
            raise ValueError(f"Linear layer {l} takes {linears[l].in_features} inputs but layer {l - 1} gives "
                             f"{linears[l - 1].out_features} outputs")
    if sizes[-1] != 1:
        raise ValueError(f"weightnoise networks have a scalar output; the last Linear layer has "
                         f"{sizes[-1]} outputs")
    if any(p.is_meta for p in sequential.parameters()):
        raise ValueError("the parameters are on the meta device and hold no values; materialize them first "
                         "(sequential.to_empty(device='cpu'), then initialize)")
    dtypes = {p.dtype for p in sequential.parameters()}
    dtype = {torch.float32: np.float32, torch.float64: np.float64}.get(next(iter(dtypes))) if len(dtypes) == 1 \
        else None
    if dtype is None:
        raise TypeError(f"the parameters must be all float32 or all float64, got {sorted(map(str, dtypes))}; "
                        "convert with sequential.double() or .float()")
    model = MLP(sizes, activations.pop() if activations else "identity", dtype=dtype)
    model.layers = [(_numpy(layer.weight), np.zeros(layer.out_features, dtype=dtype) if layer.bias is None
                     else _numpy(layer.bias)) for layer in linears]
    return model


def to_torch(model: MLP) -> nn.Sequential:
    """An ``nn.Sequential`` that computes the same function as ``model``.

    Parameters
    ----------
    model : MLP

    Returns
    -------
    torch.nn.Sequential
        ``nn.Linear`` layers in the model's dtype, on the CPU, holding a copy
        of its parameters, with the activation module between them
        (``nn.Identity`` for ``"identity"``; ``nn.Softplus(beta=1,
        threshold=40)`` for ``"softplus"``, which equals the exact softplus to
        rounding in float64). Its input is ``(n_examples, n_in)``, its output
        ``(n_examples, 1)``.

    Raises
    ------
    TypeError
        If ``model`` is not a :class:`~weightnoise.MLP`.
    ImportError
        Without PyTorch.
    """
    torch = _import_torch()
    torch_nn = torch.nn
    if not isinstance(model, MLP):
        raise TypeError(f"to_torch takes a weightnoise.MLP, got {type(model).__name__}")
    dtype = torch.float64 if model.dtype == np.float64 else torch.float32
    modules: list[Any] = []
    for l, (W, b) in enumerate(model.layers):
        linear = torch_nn.Linear(W.shape[1], W.shape[0], dtype=dtype)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(W.copy()))
            linear.bias.copy_(torch.from_numpy(b.copy()))
        modules.append(linear)
        if l < model.n_layers - 1:
            modules.append(_activation_module(model.activation, torch_nn))
    sequential: nn.Sequential = torch_nn.Sequential(*modules)
    return sequential


def _activation_module(name: str, nn: Any) -> Any:
    if name == "softplus":
        return nn.Softplus(beta=1.0, threshold=SOFTPLUS_THRESHOLD)
    return {"tanh": nn.Tanh, "relu": nn.ReLU, "sigmoid": nn.Sigmoid, "identity": nn.Identity}[name]()


def _numpy(tensor: Any) -> np.ndarray:
    array: np.ndarray = tensor.detach().cpu().numpy().copy()
    return array
