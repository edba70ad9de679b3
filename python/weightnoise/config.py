"""What this installation of weightnoise was built with and runs on."""

from __future__ import annotations

import platform
from typing import Any

from . import _core


def show_config(print_out: bool = True) -> dict[str, Any]:
    """The loaded core variant, its compile flags and SIMD instruction sets, Eigen's
    version, the CPU's x86-64 level and the OpenMP thread count.

    Parameters
    ----------
    print_out : bool
        Also print the configuration, one item per line.

    Returns
    -------
    dict
    """
    from . import __version__

    config = {
        "weightnoise": __version__,
        "variant": _core.variant,
        "available_variants": _core.available(),
        "compile_flags": _core.compile_flags,
        "simd": _core.simd,
        "eigen": _core.eigen_version,
        "cpu_level": _core.cpu_level() or platform.machine(),
        "threads": _core.get_num_threads(),
        "machine": platform.machine(),
        "python": platform.python_version(),
    }
    if print_out:
        width = max(map(len, config))
        for key, value in config.items():
            print(f"{key:<{width}}  {value}")
    return config
