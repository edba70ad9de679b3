"""Aliases used in the annotations (private)."""

from __future__ import annotations

import os
from typing import Any, Union

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.floating[Any]]
"""A float32 or float64 array: what the functions return, in the model's dtype."""

Array = NDArray[Any]
"""An array whose dtype is known only at run time, such as a validated input in the model's dtype."""

StrPath = Union[str, os.PathLike[str]]
"""A file system path: a string or a path object."""
