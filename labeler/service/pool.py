"""CPU work off the event loop, with back-pressure instead of an unbounded queue.

Labeling is NumPy/OpenCV/Pillow work that releases the GIL in its hot loops, so a thread pool sized to
the cores keeps them busy without pickling media between processes (measured in
benchmarks/service_load.py against calling the Python API directly). At most ``workers + queue_depth``
calls are admitted; the next one is refused at once with Overloaded (RESOURCE_EXHAUSTED + RetryInfo).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


class Overloaded(Exception):
    """Every worker is busy and the waiting line is full."""


class WorkerPool:
    def __init__(self, workers: int, queue_depth: int) -> None:
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="labeler-worker")
        self._capacity = workers + queue_depth
        self._admitted = 0  # touched only from the event loop thread

    @property
    def admitted(self) -> int:
        return self._admitted

    def admit(self) -> None:
        """Reserve a place for one call; raise Overloaded when there is none. Pair with release()."""
        if self._admitted >= self._capacity:
            raise Overloaded
        self._admitted += 1

    def release(self) -> None:
        self._admitted -= 1

    async def run(self, function: Callable[..., T], *args: object) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, function, *args)

    def shutdown(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
