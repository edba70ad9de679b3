"""weightnoise._core of a dispatching build (CMake installs this file only when
WEIGHTNOISE_DISPATCH is ON): the compiled core in the variant that best fits
this CPU.

Such a build has ``_core_x86_64``, ``_core_x86_64_v3`` (AVX2, FMA) and
``_core_x86_64_v4`` (AVX-512): Eigen chooses SIMD instructions at compile time
only, so this loader picks the highest level the CPU supports. The environment
variable ``WEIGHTNOISE_ARCH`` (e.g. ``x86_64_v3``) overrides the choice. A
build from source has a single compiled ``_core`` and no loader.
"""

from __future__ import annotations

import importlib
import importlib.util
import os

LEVELS = ("x86_64", "x86_64_v3", "x86_64_v4")
VARIANTS = LEVELS[::-1]  # best first


def available() -> list[str]:
    """The variants present in this installation, best first."""
    return [v for v in VARIANTS if importlib.util.find_spec(f"{__package__}._core_{v}") is not None]


def _choose(present: list[str]) -> str:
    if not present:
        raise ImportError("weightnoise's compiled core is missing from this installation: reinstall weightnoise")
    # The baseline variant runs anywhere, so it can say what this CPU supports.
    level = importlib.import_module(f"{__package__}._core_x86_64").cpu_level()
    supported = LEVELS[: LEVELS.index(level) + 1] if level in LEVELS else LEVELS[:1]
    forced = os.environ.get("WEIGHTNOISE_ARCH")
    if forced:
        if forced not in present:
            raise ImportError(f"WEIGHTNOISE_ARCH={forced!r} is not built in this installation "
                              f"(available: {', '.join(present)})")
        if forced not in supported:  # its first vector instruction would kill the process (SIGILL)
            raise ImportError(f"WEIGHTNOISE_ARCH={forced!r} needs a CPU of that level; this one is {level}")
        return forced
    return next(v for v in present if v in supported)


module = importlib.import_module(f"{__package__}._core_{_choose(available())}")
# Everything the chosen variant defines, except its `available`, which knows only itself.
globals().update({name: value for name, value in vars(module).items()
                  if not name.startswith("__") and name != "available"})
