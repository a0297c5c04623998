"""The engine seam: run one function over many tasks, somewhere.

An engine yields ``(index, result)`` as tasks finish; the first failure stops it (the
tasks still queued or running are cancelled) and is raised as the task raised it, so a
PqmlError from a worker reaches the user as the same one-line error the local path gives.
``node`` is where the driver runs (a Ray node id; None for the local engine, whose
workers share the driver's machine), so workers know whether they can write the driver's
local output themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, Literal, Protocol

EngineName = Literal["local", "ray"]
ENGINES: tuple[str, ...] = ("local", "ray")


class Engine(Protocol):
    name: str
    workers: int
    node: str | None

    def map_unordered(self, fn: Callable[[Any], Any], tasks: Sequence[Any]
                      ) -> Iterator[tuple[int, Any]]: ...

    def close(self) -> None: ...


def open_engine(name: str = "local", *, address: str | None = None,
                workers: int | None = None) -> Engine:
    """``local`` (processes on this machine; ``workers`` default 1, serial) or ``ray``
    (``address``: a running cluster, e.g. ``auto`` or ``ray://head:10001``; none starts a
    local one with ``workers`` CPUs). ``--address`` without ``--engine ray`` is refused."""
    from pqml.distributed.errors import EngineError

    if name == "local":
        if address is not None:
            raise EngineError("--address needs --engine ray")
        from pqml.distributed.local import LocalEngine

        return LocalEngine(workers or 1)
    if name == "ray":
        from pqml.distributed.ray_engine import RayEngine

        return RayEngine(address, workers=workers)
    raise EngineError(f"unknown engine {name!r} (choose from: {', '.join(ENGINES)})")
