"""The Dask cluster of a sweep: the user's client, a scheduler's address, or a local cluster of processes.

Cores are not oversubscribed: a local cluster gets one single-threaded
worker process per core, and each task sets the kernels' OpenMP threads to
its share of its host's cores (cores over task slots on that host).
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import distributed

    from ._sweep_task import Threads

DASK_HINT = "pip install 'weightnoise[sweep]' (or pip install 'dask[distributed]' pandas)"
CONNECT_TIMEOUT = "30s"


@dataclass
class Cluster:
    """A connected client and how a task should set its OpenMP threads.

    Attributes
    ----------
    client : distributed.Client
    threads : int or dict
        Threads per task: one number, or per worker host (with a ``"default"``).
    description : str
        One line for the user: where the sweep runs.
    """

    client: distributed.Client
    threads: Threads
    description: str


def import_distributed() -> Any:  # the distributed module (untyped)
    """``distributed``, or an ImportError that says how to install it."""
    try:
        import distributed
    except ImportError:
        raise ImportError(f"weightnoise.sweep runs on Dask: {DASK_HINT}") from None
    return distributed


def machine_cores() -> int:
    """Cores this process may use (its CPU affinity where the platform has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


@contextlib.contextmanager
def connect(client: distributed.Client | None = None, scheduler: str | None = None, n_workers: int | None = None,
            threads: int | None = None) -> Iterator[Cluster]:
    """The cluster to run on; what this function started is closed on exit, the user's client is not.

    Parameters
    ----------
    client : distributed.Client, optional
        Use it as it is.
    scheduler : str, optional
        A scheduler's address, e.g. ``"tcp://10.0.0.5:8786"``.
    n_workers : int, optional
        Worker processes of a local cluster (default: one per core).
    threads : int, optional
        OpenMP threads per task (default: the host's cores over its task slots).
    """
    if client is not None and scheduler is not None:
        raise ValueError("give client or scheduler, not both")
    distributed = import_distributed()
    if client is not None:
        if not isinstance(client, distributed.Client):
            raise TypeError(f"client must be a distributed.Client, got {type(client).__name__}")
        yield Cluster(client, threads or host_threads(client), f"the cluster of {client.scheduler.address}")
    elif scheduler is not None:
        if not isinstance(scheduler, str):
            raise TypeError(f"scheduler must be an address such as 'tcp://host:8786', got {scheduler!r}")
        with distributed.Client(scheduler, timeout=CONNECT_TIMEOUT) as remote:
            yield Cluster(remote, threads or host_threads(remote), f"the cluster of {scheduler}")
    else:
        with local_cluster(n_workers, threads) as cluster:
            yield cluster


@contextlib.contextmanager
def local_cluster(n_workers: int | None, threads: int | None) -> Iterator[Cluster]:
    """A cluster of single-threaded worker processes on loopback, sized to this machine."""
    distributed = import_distributed()
    cores = machine_cores()
    n_workers = n_workers or cores
    threads = threads or max(1, cores // n_workers)
    # OMP_NUM_THREADS caps anything else in the worker that uses OpenMP; the task also sets the kernels' threads.
    cluster = distributed.LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                                       host="127.0.0.1", dashboard_address=":0", silence_logs=logging.ERROR,
                                       env={"OMP_NUM_THREADS": str(threads)})
    try:
        with distributed.Client(cluster) as client:
            yield Cluster(client, threads, f"a local cluster of {n_workers} worker processes, {threads} "
                                           f"thread{'s' * (threads > 1)} each")
    finally:
        cluster.close()


def host_threads(client: distributed.Client) -> dict[str, int]:
    """Threads per task on each worker host: its cores over the task slots of all its workers."""
    from distributed.comm import get_address_host

    try:
        workers = client.scheduler_info(n_workers=-1)["workers"]  # every worker, not the first few
    except TypeError:  # distributed before 2025 lists every worker and takes no argument
        workers = client.scheduler_info()["workers"]
    cores = client.run(machine_cores)  # worker address -> cores of its host
    slots: dict[str, int] = {}
    host_cores: dict[str, int] = {}
    for address, info in workers.items():
        host = get_address_host(address)
        slots[host] = slots.get(host, 0) + info["nthreads"]
        host_cores[host] = max(host_cores.get(host, 1), cores.get(address, 1))
    plan = {host: max(1, host_cores[host] // slots[host]) for host in slots}
    plan["default"] = min(plan.values(), default=1)  # a worker that joins later
    return plan


def dashboard_line(client: distributed.Client) -> str:
    """Where the Dask dashboard is, or why it is not served."""
    link = client.dashboard_link
    if importlib.util.find_spec("bokeh") is None:
        return f"Dask dashboard: {link} (only if the scheduler has bokeh: pip install bokeh)"
    return f"Dask dashboard: {link}"
