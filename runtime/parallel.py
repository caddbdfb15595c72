"""Where parallel work runs: this process, a local Dask cluster, or an existing one.

Used by ``compot design`` (proposals trained concurrently) and by the blockwise J^T J
(training/blockwise.py).  Dask's ``distributed`` is the engine; compot adds only the choice and
one-line errors."""

from __future__ import annotations

from ..errors import CompotError


class Cluster:
    """``workers`` 0 or 1 and no ``scheduler``: no cluster (``client`` is None, work runs in this
    process).  Otherwise a ``distributed.LocalCluster`` of ``workers`` single-threaded processes,
    or a client of the Dask scheduler at ``scheduler`` (an unreachable one is a CompotError)."""

    def __init__(self, workers: int = 0, scheduler: str | None = None):
        self.client = self.cluster = None
        self.shared = None              # data scattered to the workers by the caller, if any
        if scheduler is None and workers <= 1:
            return
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise CompotError("parallel work needs dask.distributed: pip install 'dask[distributed]'") from None
        if scheduler is not None:
            try:
                self.client = Client(scheduler, timeout="10s")
            except (OSError, TimeoutError, ValueError) as e:
                msg = str(e).splitlines()[0] if str(e) else type(e).__name__
                raise CompotError(f"cannot reach the Dask scheduler at {scheduler}: {msg}") from None
        else:
            import logging

            logging.getLogger("distributed").setLevel(logging.ERROR)
            self.cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                        dashboard_address=None, silence_logs=logging.ERROR)
            self.client = Client(self.cluster)

    @property
    def n_workers(self) -> int:
        if self.client is None:
            return 1
        return max(len(self.client.scheduler_info().get("workers", {})), 1)

    def close(self):
        if self.client is not None:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()
