"""Running the tasks: in this process (``local``) or on dask.distributed (``dask``).

The dask engine submits one :func:`.tasks.run_task` call per task; the workers read the
inputs and write their part files themselves, so only the small :class:`TaskResult` comes
back. Without a scheduler address it starts a ``LocalCluster`` of ``workers`` processes
with one thread each (decoding holds the GIL, so threads would not add cores); with one,
it joins that cluster, whose workers must see the inputs and the output directory under
the same paths (a shared file system). A task that fails in a way ``run_task`` could not
catch (a worker killed, say) is reported like a bad input.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from typing import IO

from iso15118.export.records import ExportInputError
from iso15118.export.tasks import Task, TaskResult, run_task

__all__ = ["ENGINES", "Progress", "run_dask", "run_local"]

ENGINES = ("local", "dask")
#: How long to try reaching a --scheduler before giving up with an error.
SCHEDULER_TIMEOUT_S = 10.0
Report = Callable[[TaskResult], None]


class Progress:
    """A one-line progress bar on a terminal (nothing when ``stream`` is not one)."""

    def __init__(self, total: int, stream: IO[str] | None = None, width: int = 28) -> None:
        self.total, self.done, self.messages = total, 0, 0
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = bool(getattr(self.stream, "isatty", lambda: False)())
        self.width = width
        self.started = time.perf_counter()

    def __call__(self, result: TaskResult) -> None:
        self.done += 1
        self.messages += result.messages + result.sdp_messages
        if not self.enabled:
            return
        filled = self.width * self.done // max(self.total, 1)
        rate = self.messages / max(time.perf_counter() - self.started, 1e-9)
        self.stream.write(f"\r[{'#' * filled}{'.' * (self.width - filled)}] "
                          f"{self.done}/{self.total} tasks, {self.messages:,} messages, "
                          f"{rate:,.0f}/s ")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled and self.total:
            self.stream.write("\n")
            self.stream.flush()


def run_local(tasks: Sequence[Task], out: str, fmt: str, report: Report) -> list[TaskResult]:
    """Every task in this process, in order."""
    results = []
    for task in tasks:
        result = run_task(task, out, fmt)
        report(result)
        results.append(result)
    return results


def run_dask(tasks: Sequence[Task], out: str, fmt: str, report: Report, *,
             workers: int = 2, scheduler: str | None = None) -> list[TaskResult]:
    """The tasks on a dask.distributed cluster (a local one unless ``scheduler``)."""
    import logging

    from distributed import Client, LocalCluster, as_completed

    cluster = None
    if scheduler is None:
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               dashboard_address=None, silence_logs=logging.ERROR)
        client = Client(cluster)
    else:
        try:
            client = Client(scheduler, timeout=SCHEDULER_TIMEOUT_S)
        except (OSError, ValueError, TypeError) as e:  # refused, unreachable, bad address
            raise ExportInputError(f"cannot join the Dask scheduler {scheduler}: "
                                   f"{' '.join(str(e).split()) or type(e).__name__}") from None
    try:
        futures = {client.submit(run_task, t, out, fmt, key=f"iso15118-export-{t.index}-"
                                 f"{time.time_ns()}", pure=False): t for t in tasks}
        results: list[TaskResult] = []
        for future in as_completed(futures):
            task = futures[future]
            try:
                result = future.result()
            except Exception as e:  # noqa: BLE001 - a lost worker is one failed input
                result = TaskResult(task.index, task.label,
                                    error=f"task failed ({type(e).__name__}: {e})")
            report(result)
            results.append(result)
        return sorted(results, key=lambda r: r.index)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
