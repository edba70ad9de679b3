"""A scikit-learn regressor trained with weight noise, the gradient penalty, or plainly.

:class:`WeightNoiseRegressor` wraps :func:`weightnoise.fit` and
:func:`weightnoise.predict` in the scikit-learn estimator API, so an MLP
trained on J̃_η (``objective="noise"``), on J + η·Ω (``"penalty"``) or on J
(``"plain"``) drops into a ``Pipeline``, ``GridSearchCV`` or
``cross_val_score``. Needs scikit-learn (``pip install weightnoise[sklearn]``).
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any, Union

import numpy as np
from numpy.typing import ArrayLike, DTypeLike
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from . import _checks
from .derivatives import predict as _predict
from .model import MLP
from .training import fit as _fit

try:  # scikit-learn >= 1.6
    from sklearn.utils.validation import validate_data as _validate_data
except ImportError:  # pragma: no cover - older scikit-learn

    def _validate_data(estimator: Any, /, X: Any = "no_validation", y: Any = "no_validation",
                       **check_params: Any) -> Any:
        return estimator._validate_data(X, y, **check_params)


__all__ = ["EXPECTED_FAILED_CHECKS", "WeightNoiseRegressor"]

# Checks of sklearn.utils.estimator_checks that this estimator is known to fail,
# with the reason (pass it as ``expected_failed_checks`` to check_estimator or
# parametrize_with_checks). Empty: it passes every check of scikit-learn 1.9.
EXPECTED_FAILED_CHECKS: dict[str, str] = {}

# The largest seed drawn when random_state is None or a RandomState: the
# initialization seeds np.random.default_rng and the training seed is 64-bit.
_SEED_BOUND = 2**31 - 1

RandomStateLike = Union[int, np.random.RandomState, None]


class WeightNoiseRegressor(RegressorMixin, BaseEstimator):  # type: ignore[misc]  # scikit-learn is untyped
    """Least-squares MLP regressor trained with Gaussian weight noise.

    The network is a :class:`weightnoise.MLP` of layer sizes
    ``(n_features, *hidden_layer_sizes, 1)``; :meth:`fit` trains it with
    :func:`weightnoise.fit` on one objective:

    - ``"noise"``: J̃_η, the loss under a fresh weight perturbation
      ε ~ N(0, ηI) at every presentation of an example;
    - ``"penalty"``: J + η·Ω, the textbook equivalent of weight noise,
      with the exact gradient;
    - ``"plain"``: the mean squared error J.

    Parameters
    ----------
    hidden_layer_sizes : int or tuple of int, default=(64, 64)
        Widths of the hidden layers; ``()`` gives a linear model.
    activation : {"tanh", "relu", "sigmoid", "softplus", "identity"}, default="tanh"
        Activation of the hidden layers.
    objective : {"noise", "penalty", "plain"}, default="noise"
        The training objective.
    eta : float, default=1e-3
        Noise variance η (also the weight of the penalty); ignored by ``"plain"``.
    noise : {"local", "per_example", "shared"}, default="local"
        How ``"noise"`` perturbs the weights: ``"local"`` and
        ``"per_example"`` draw an independent perturbation per example (the
        same distribution; ``"local"`` samples it through the
        pre-activations, at the cost of a forward pass), ``"shared"`` one per
        minibatch.
    optimizer : {"adam", "sgd"}, default="adam"
    learning_rate : float, default=1e-3
        Step size (``lr`` of :func:`weightnoise.fit`).
    momentum : float, default=0.0
        SGD momentum in [0, 1); ignored by Adam.
    epochs : int, default=200
        Passes over the training data.
    batch_size : int, default=200
        Minibatch size, clipped to the number of samples.
    random_state : int, RandomState instance or None, default=None
        Seeds the initialization and the minibatch order and noise. An int
        ``s`` is used as both seeds, so the fitted model equals
        ``weightnoise.fit(MLP(sizes, activation, seed=s), X, y, seed=s, …).model``.
    dtype : float64 or float32, default=np.float64
        Precision of the network; X and y are converted to it.
    monitor : bool, default=False
        Record J, η·Ω, η·C and J̃_η after every epoch in ``history_`` (costs
        a pass over the data per epoch, more for η·C).
    verbose : bool, default=False
        Show a progress bar over epochs.

    Attributes
    ----------
    model_ : MLP
        The trained network.
    history_ : list of dict
        One record per epoch, as in :attr:`weightnoise.FitResult.history`:
        ``batch_loss`` always, the monitored terms with ``monitor=True``.
    n_iter_ : int
        Epochs run.
    n_features_in_ : int
        Number of features seen during :meth:`fit`.
    feature_names_in_ : ndarray of str
        Names of the features seen during :meth:`fit`, when X has string
        column names (a pandas DataFrame).

    See Also
    --------
    weightnoise.fit : The training loop this estimator calls.
    sklearn.neural_network.MLPRegressor : scikit-learn's own MLP, with L2 weight decay.

    Notes
    -----
    One target only: wrap the estimator in
    :class:`sklearn.multioutput.MultiOutputRegressor` for several. The target
    is not rescaled; a tanh network learns standardized targets (e.g. with
    :class:`sklearn.compose.TransformedTargetRegressor`) much faster.

    Examples
    --------
    >>> import numpy as np
    >>> from weightnoise.sklearn import WeightNoiseRegressor
    >>> X = np.random.default_rng(0).standard_normal((200, 3))
    >>> y = np.sin(X[:, 0])
    >>> reg = WeightNoiseRegressor(hidden_layer_sizes=(16,), eta=1e-3, epochs=50,
    ...                            random_state=0).fit(X, y)
    >>> reg.predict(X[:2]).shape
    (2,)
    """

    def __init__(self, hidden_layer_sizes: int | Sequence[int] = (64, 64), activation: str = "tanh", *,
                 objective: str = "noise", eta: float = 1e-3, noise: str = "local", optimizer: str = "adam",
                 learning_rate: float = 1e-3, momentum: float = 0.0, epochs: int = 200, batch_size: int = 200,
                 random_state: RandomStateLike = None, dtype: DTypeLike = np.float64, monitor: bool = False,
                 verbose: bool = False) -> None:
        # scikit-learn convention: store the parameters as given, validate in fit.
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.objective = objective
        self.eta = eta
        self.noise = noise
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.momentum = momentum
        self.epochs = epochs
        self.batch_size = batch_size
        self.random_state = random_state
        self.dtype = dtype
        self.monitor = monitor
        self.verbose = verbose

    def fit(self, X: ArrayLike, y: ArrayLike) -> WeightNoiseRegressor:
        """Train a new network on (X, y).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)

        Returns
        -------
        self : WeightNoiseRegressor

        Raises
        ------
        ValueError
            For a target with several columns, malformed or non-finite data,
            or an invalid parameter (dtype included).
        TypeError
            For sparse X.
        """
        dtype = self._resolved_dtype()
        hidden = self._resolved_hidden_sizes()
        _reject_multi_target(y)
        inputs: np.ndarray
        inputs, targets = _validate_data(self, X, y, dtype=dtype, y_numeric=True, multi_output=False)
        targets = np.asarray(targets, dtype=dtype)
        init_seed, train_seed = self._seeds()
        model = MLP((inputs.shape[1], *hidden, 1), self.activation, seed=init_seed, dtype=dtype)
        batch_size = self.batch_size
        if isinstance(batch_size, numbers.Integral) and not isinstance(batch_size, bool):
            batch_size = min(int(batch_size), inputs.shape[0])  # invalid values are left to weightnoise.fit
        learning_rate = _checks.as_positive(self.learning_rate, "learning_rate", dtype)  # fit would call it lr
        result = _fit(model, inputs, targets, objective=self.objective, eta=self.eta, noise=self.noise,
                      optimizer=self.optimizer, lr=learning_rate, momentum=self.momentum,
                      epochs=self.epochs, batch_size=batch_size, seed=train_seed, progress=bool(self.verbose),
                      monitor=bool(self.monitor))
        self.model_ = result.model
        self.history_ = result.history
        self.n_iter_ = len(result.history)
        return self

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Network outputs ŷ(x) of the fitted model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,)
            In the network's dtype; equal to ``weightnoise.predict(self.model_, X)``.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            Before :meth:`fit`.
        ValueError
            For X with another number of features than seen in :meth:`fit`.
        """
        check_is_fitted(self, "model_")
        inputs = _validate_data(self, X, reset=False, dtype=self.model_.dtype)
        return _predict(self.model_, inputs)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = False
        tags.target_tags.single_output = True
        return tags

    def _more_tags(self) -> dict[str, Any]:
        """Tags for scikit-learn < 1.6 (later versions read :meth:`__sklearn_tags__`)."""
        return {"multioutput": False, "_xfail_checks": dict(EXPECTED_FAILED_CHECKS)}

    def _resolved_dtype(self) -> np.dtype:
        try:
            dtype = np.dtype(self.dtype)
        except TypeError:
            dtype = None
        if dtype not in (np.dtype(np.float64), np.dtype(np.float32)):
            raise ValueError(f"dtype must be float64 or float32, got {self.dtype!r}")
        return dtype

    def _resolved_hidden_sizes(self) -> tuple[int, ...]:
        sizes: Any = self.hidden_layer_sizes
        if isinstance(sizes, numbers.Integral) and not isinstance(sizes, bool):
            sizes = (sizes,)
        try:
            sizes = tuple(sizes)
        except TypeError:
            raise ValueError(f"hidden_layer_sizes must be an int or a sequence of ints, got {sizes!r}") from None
        if not all(isinstance(d, numbers.Integral) and not isinstance(d, bool) and int(d) > 0 for d in sizes):
            raise ValueError(f"hidden_layer_sizes must hold positive ints, got {self.hidden_layer_sizes!r}")
        return tuple(int(d) for d in sizes)

    def _seeds(self) -> tuple[int, int]:
        """(initialization seed, training seed) from random_state."""
        state = self.random_state
        if isinstance(state, numbers.Integral) and not isinstance(state, bool):
            if not 0 <= state < 2**64:
                raise ValueError(f"random_state must be an int in [0, 2**64), got {state}")
            return int(state), int(state)
        rng = check_random_state(state)
        init_seed, train_seed = rng.randint(0, _SEED_BOUND, size=2)
        return int(init_seed), int(train_seed)


def _reject_multi_target(y: Any) -> None:
    """A clear error for y with several columns (an (n, 1) column is accepted, with scikit-learn's warning)."""
    try:
        shape = np.shape(y)
    except (TypeError, ValueError):  # ragged input: validate_data reports it
        return
    if len(shape) == 2 and shape[1] != 1:
        raise ValueError(f"WeightNoiseRegressor fits a single target, got y of shape {shape}; for several "
                         "targets use sklearn.multioutput.MultiOutputRegressor(WeightNoiseRegressor(...))")
