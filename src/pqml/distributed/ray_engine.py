"""The Ray engine: one Ray task per work item, on a running cluster or a local one.

``RayEngine(address)`` joins the cluster at ``address`` (``auto``, ``HOST:PORT`` or
``ray://HOST:10001``); without one it starts a local cluster of ``workers`` CPUs (and
shuts it down on :meth:`close`); if Ray is already initialised in this process (a
notebook, a test session) it uses that and leaves it running.

Scheduling: at most twice ``workers`` tasks are in flight (``workers`` defaults to the
cluster's CPUs), each asking for one CPU: one running per CPU and one queued behind it, so
a worker that finishes starts its next part at once instead of waiting a driver round trip
(1–3 ms per task measured here), while the parts returned to the driver stay bounded
(``2 × workers`` of them) and never pile up in the object store faster than it writes them.
Tasks are spread over the nodes (Ray's ``SPREAD``) rather than packed onto the first:
parts are bound by disk and network bandwidth, which is per node. A worker that dies
(node lost, OOM kill) is retried up to ``max_retries`` times by Ray — safe, because a part
is deterministic (see :mod:`pqml.distributed.parts`); an exception raised by a task is
not retried (a tampered chunk stays tampered) and is re-raised on the driver as the task
raised it, after every other task of the job was cancelled.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from pqml.distributed.errors import EngineError
from pqml.primitives.errors import PqmlError

MAX_RETRIES = 3


def import_ray() -> Any:
    """Ray, or a one-line EngineError naming the extra. Usage statistics stay off unless
    the user turned them on: pqml never phones home on their behalf."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    try:
        import ray
    except ImportError:
        raise EngineError("the ray engine needs Ray: install the 'ray' extra "
                          "(pip install 'pqml[ray]')") from None
    return ray


class RayEngine:
    name = "ray"

    def __init__(self, address: str | None = None, *, workers: int | None = None,
                 max_retries: int = MAX_RETRIES) -> None:
        ray = import_ray()
        self._ray = ray
        self._owns = False
        if not ray.is_initialized():
            kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
            if address is None:
                kwargs["num_cpus"] = workers or os.cpu_count() or 1
            try:
                ray.init(address=address, **kwargs)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                where = address or "a local cluster"
                first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                raise EngineError(f"cannot start or join Ray at {where}: {first}") from None
            self._owns = True
        cpus = int(ray.cluster_resources().get("CPU", 1))
        self.workers = max(1, workers or cpus)
        # A Ray client driver (ray://) runs off the cluster: no worker shares its files.
        client = bool(address) and str(address).startswith("ray://")
        self.node: str | None = "ray-client" if client else \
            str(ray.get_runtime_context().get_node_id())
        self.max_retries = max_retries
        self.in_flight = 2 * self.workers
        self._remotes: dict[Callable[[Any], Any], Any] = {}

    def _remote(self, fn: Callable[[Any], Any]) -> Any:
        if fn not in self._remotes:
            self._remotes[fn] = self._ray.remote(
                num_cpus=1, max_retries=self.max_retries, retry_exceptions=False,
                scheduling_strategy="SPREAD")(fn)
        return self._remotes[fn]

    def map_unordered(self, fn: Callable[[Any], Any], tasks: Sequence[Any]
                      ) -> Iterator[tuple[int, Any]]:
        ray = self._ray
        remote = self._remote(fn)
        pending: dict[Any, int] = {}
        queue = iter(enumerate(tasks))

        def submit() -> None:
            for index, task in queue:
                pending[remote.remote(task)] = index
                if len(pending) >= self.in_flight:
                    return

        try:
            submit()
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1)
                ref = done[0]
                index = pending.pop(ref)
                try:
                    result = ray.get(ref)
                except Exception as exc:
                    raise _unwrap(exc, ray) from None
                submit()
                yield index, result
        finally:
            for ref in pending:
                ray.cancel(ref, force=True)

    def close(self) -> None:
        if self._owns and self._ray.is_initialized():
            self._ray.shutdown()
        self._owns = False

    def __repr__(self) -> str:
        return f"<ray engine, {self.workers} worker(s), {self.in_flight} task(s) in flight>"


def _unwrap(exc: BaseException, ray: Any) -> BaseException:
    """The task's own PqmlError (or OSError) for an application failure; an EngineError
    for Ray's own failures (a worker that died more often than retried, a lost node)."""
    cause = getattr(exc, "cause", None)
    if isinstance(cause, PqmlError | OSError):
        return cause
    if isinstance(exc, ray.exceptions.TaskCancelledError):
        return EngineError("a Ray task was cancelled; nothing was written")
    if isinstance(exc, ray.exceptions.RayError):
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        return EngineError(f"a Ray task failed: {first} (nothing was written)")
    return exc
