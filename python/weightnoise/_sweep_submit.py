"""The points of a sweep on a Dask cluster: submitted with their data sets, and again if the cluster lost one.

Each data set is scattered to every worker once, not sent with every task.
Dask's active memory manager may later drop the extra copies, so a killed
worker can take the last copy of a data set with it: the scheduler cannot
recompute scattered data, forgets it and cancels the points that need it.
Such a point did not fail; its data set is scattered again and the point is
submitted again, a few times at most. If no worker takes the data set again
(the scatter times out), the cancellation is recorded as the point's error.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._sweep_grid import columns
from ._sweep_task import run_point

if TYPE_CHECKING:
    import distributed

    from ._sweep_grid import Point
    from ._sweep_task import Threads
    from .datasets import Dataset

# Submissions of one point whose data the cluster lost, before its cancellation is recorded as its error.
MAX_SUBMISSIONS = 4


class Submitter:
    """Submits points, ships their data sets, and knows which point each future runs."""

    def __init__(self, client: distributed.Client, datasets: dict[str, Dataset], threads: Threads, run: str):
        self._client, self._datasets, self._threads, self._run = client, datasets, threads, run
        self._shipped: dict[str, Any] = {}  # data set name -> its scattered future (the latest)
        self._submissions: dict[str, int] = {}  # point key -> times submitted
        self.points: dict[Any, Point] = {}  # future -> the point it runs
        self._data_of: dict[Any, Any] = {}  # future -> the scattered data set it was given
        self._unshippable: set[str] = set()  # data sets the cluster lost and could not take again

    def submit(self, points: list[Point]) -> list[Any]:
        """Submit ``points``, shipping the data sets not yet shipped; their futures."""
        self._ship(sorted({point.config["dataset"] for point in points} - set(self._shipped)))
        return [self._submit(point) for point in points]

    def resubmit(self, future: Any) -> Any | None:
        """The new future of the point of ``future`` if the cluster cancelled it and it may run again, else None.

        Its data set is shipped again unless that happened since the point was submitted.
        """
        point = self.points[future]
        name = point.config["dataset"]
        if future.status != "cancelled" or self._submissions[point.key] >= MAX_SUBMISSIONS or name in self._unshippable:
            return None
        if self._shipped[name] is self._data_of[future]:
            try:
                self._ship([name])
            except (OSError, TimeoutError):  # no worker came back in time (TimeoutError is an OSError from 3.11)
                self._unshippable.add(name)
                return None
        del self.points[future], self._data_of[future]
        return self._submit(point)

    def pop(self, future: Any) -> Point:
        """The point of a finished ``future``, forgotten here."""
        del self._data_of[future]
        return self.points.pop(future)

    def cancel(self) -> None:
        """Cancel the unfinished points and release the shipped data sets."""
        if self.points:
            self._client.cancel(list(self.points))
        self._client.cancel(list(self._shipped.values()))

    def _ship(self, names: list[str]) -> None:
        # Broadcast, so that a worker needs no transfer before its first point; unhashed, so that these are
        # keys of this sweep's own, which it can release at the end without touching another sweep's copy.
        if names:
            scattered = self._client.scatter([self._datasets[name] for name in names], broadcast=True, hash=False)
            self._shipped.update(zip(names, scattered))

    def _submit(self, point: Point) -> Any:
        tries = self._submissions[point.key] = self._submissions.get(point.key, 0) + 1
        data = self._shipped[point.config["dataset"]]
        suffix = "" if tries == 1 else f"-{tries}"
        future = self._client.submit(run_point, point.key, point.config, columns(point.config), data, self._threads,
                                     key=f"weightnoise-sweep-{point.key}-{self._run}{suffix}")
        self.points[future] = point
        self._data_of[future] = data
        return future
