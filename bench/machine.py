"""What the numbers were measured on: CPU, cores, SIMD flags, library versions, date."""

from __future__ import annotations

import datetime
import importlib
import importlib.metadata
import os
import platform

SIMD_FLAGS = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512dq", "avx512bw", "avx512vl", "avx512_bf16",
              "avx512_vnni", "amx_tile", "neon", "asimd", "sve")

# import name → distribution name (whose metadata has the version when the module does not say)
LIBRARIES = {"numpy": "numpy", "threadpoolctl": "threadpoolctl", "torch": "torch", "backpack": "backpack-for-pytorch",
             "jax": "jax", "jaxlib": "jaxlib", "weightnoise": "weightnoise"}


def _cpuinfo() -> dict[str, str]:
    info = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key in ("model name", "flags", "Features") and key not in info:
                    info[key] = value.strip()
    except OSError:
        pass
    return info


def describe_machine() -> dict:
    info = _cpuinfo()
    flags = set((info.get("flags") or info.get("Features") or "").split())
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cpu": info.get("model name") or platform.processor() or platform.machine(),
        "logical_cpus": os.cpu_count(),
        "usable_cpus": usable,
        "simd": [f for f in SIMD_FLAGS if f in flags],
        "platform": platform.platform(),
        "python": platform.python_version(),
        "date": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
    }


def library_versions() -> dict[str, str]:
    """Version of each library, or why it is missing (never raises)."""
    versions = {}
    for name, distribution in LIBRARIES.items():
        try:
            module = importlib.import_module(name)
        except Exception as exc:  # noqa: BLE001  (a broken install is reported, not fatal)
            versions[name] = f"not available ({type(exc).__name__})"
            continue
        try:
            versions[name] = importlib.metadata.version(distribution)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = str(getattr(module, "__version__", "installed"))
    try:
        from threadpoolctl import threadpool_info
        blas = [f"{p.get('internal_api')} {p.get('version')}" for p in threadpool_info() if p.get("user_api") == "blas"]
        if blas:
            versions["numpy BLAS"] = ", ".join(blas)
    except ImportError:
        pass
    return versions
