"""The local engine: the multi-process path of :mod:`pqml.encryption.parallel` as an engine.

Same pool, same start method (fork when the process has one thread, so the chunk key
stays in memory instead of being pickled to a fresh interpreter), same worker
initializer (workers ignore SIGINT; the driver terminates them on Ctrl-C). One worker
runs the tasks in the driver's own process: no pool, no pickling, the serial default.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from pqml.encryption import parallel


def _indexed(job: tuple[Callable[[Any], Any], int, Any]) -> tuple[int, Any]:
    fn, index, task = job
    return index, fn(task)


class LocalEngine:
    name = "local"
    node = None

    def __init__(self, workers: int = 1) -> None:
        self.workers = parallel.jobs_for(0, workers)

    def map_unordered(self, fn: Callable[[Any], Any], tasks: Sequence[Any]
                      ) -> Iterator[tuple[int, Any]]:
        if self.workers == 1 or len(tasks) <= 1:
            for index, task in enumerate(tasks):
                yield index, fn(task)
            return
        pool = parallel._context().Pool(min(self.workers, len(tasks)),
                                        initializer=parallel._init_worker)
        try:
            yield from pool.imap_unordered(_indexed, [(fn, i, t) for i, t in enumerate(tasks)])
            pool.close()
        except BaseException:
            pool.terminate()
            raise
        finally:
            pool.join()

    def close(self) -> None:
        return None

    def __repr__(self) -> str:
        return f"<local engine, {self.workers} worker(s)>"
