"""Operator batches on Ray Data: the scale-out backend of the engine.

Only the batch computation moves. The local engine still loads the data,
compiles and orders the recipe, runs stage by stage (so later stages see only
the survivors of earlier ones), keeps the stats cache, clusters dedup hashes
and runs the final SQL. For each fetched chunk of a stage's missing inputs it
hands this backend the chunk's batches; they travel as Arrow blocks through
Ray's object store (no shared filesystem needed), run as ``map_batches`` with
the very same ``compute_group_by_name`` a local worker process runs, and the
outputs come back as Arrow, in row order, for the engine to store.

Model operators (cost ``model``/``gpu_model``) run in an actor pool, so each
actor loads its model once; ``gpu_model`` actors ask for a GPU where the cluster
has one. Every other operator runs as stateless tasks.
"""

from __future__ import annotations

import logging
import shutil
import uuid
import warnings
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from juicedb.engine.functions import Outputs, compute_group_by_name
from juicedb.errors import JuicedbError, MissingDependencyError
from juicedb.registry import get_op, load_builtin_ops

EXTRA = "pip install 'juicedb[ray]'"
_FAILED = "__failed"


def _import_ray() -> Any:
    try:
        import ray
        import ray.data
    except ImportError as e:
        raise MissingDependencyError(f"the Ray engine needs Ray Data, which is not installed ({e.name} missing): "
                                     f"{EXTRA}") from None
    return ray


def compute_table(batch: pa.Table, by_name: list[tuple[str, dict[str, Any]]]) -> pa.Table:
    """Run the operators on a batch of ``(pos, x)`` rows; one column per output, one of errors per operator.

    Column ``{j}.{key}`` is operator ``j``'s output ``key``; ``{j}.__failed`` the row's error message or null.

    >>> t = compute_table(pa.table({"pos": [0, 1], "x": ["hi", "héllo"]}), [("text_length_filter", {})])
    >>> t.column("0.text_len").to_pylist(), t.column("0.__failed").null_count
    ([2, 5], 2)
    """
    values = batch.column("x").combine_chunks()
    cols: dict[str, pa.Array] = {"pos": batch.column("pos").combine_chunks()}
    for j, (outs, failures) in enumerate(compute_group_by_name(by_name, values)):
        for key, arr in outs.items():
            cols[f"{j}.{key}"] = arr
        cols[f"{j}.{_FAILED}"] = pa.array([failures.get(r) for r in range(len(values))], pa.string())
    return pa.table(cols)


class _ModelActor:
    """One actor of a model operator's pool: operators (and their models) load once per actor."""

    def __init__(self, by_name: list[tuple[str, dict[str, Any]]]) -> None:
        load_builtin_ops()
        self.by_name = by_name

    def __call__(self, batch: pa.Table) -> pa.Table:
        return compute_table(batch, self.by_name)


def _split(table: pa.Table, n_calls: int) -> list[Outputs]:
    """The engine's parts from the sorted output table: one part covering every row of the chunk."""
    part: list[Outputs] = []
    for j in range(n_calls):
        prefix = f"{j}."
        outs = {name[len(prefix):]: table.column(name).combine_chunks() for name in table.column_names
                if name.startswith(prefix) and name != prefix + _FAILED}
        failed = table.column(prefix + _FAILED)
        rows = pc.indices_nonzero(pc.is_valid(failed)).to_pylist()
        part.append((outs, {r: failed[r].as_py() for r in rows}))
    return part


@contextmanager
def _user_errors() -> Iterator[None]:
    """Re-raise the juicedb error (a missing model, a bad parameter) inside Ray's wrapping of a worker's failure
    as itself."""
    try:
        yield
    except Exception as e:
        user = _user_error(e)
        if user is not None:
            raise user from None
        raise


def _user_error(e: BaseException) -> JuicedbError | None:
    """The juicedb error (a missing model, a bad parameter) inside Ray's wrapping of a worker's failure."""
    seen: set[int] = set()
    stack: list[BaseException | None] = [e]
    while stack:
        x = stack.pop()
        if x is None or id(x) in seen:
            continue
        seen.add(id(x))
        if isinstance(x, JuicedbError):
            return x
        stack += [x.__cause__, x.__context__, getattr(x, "cause", None)]
    return None


class RayBackend:
    """Runs an engine's operator batches as Ray Data jobs.

    ``address`` is a Ray cluster's (``auto``, ``ray://host:10001``); without one, a Ray
    instance already started in this process is used, else a local one is started.
    ``workers`` is the number of concurrent tasks or actors (default: the cluster's CPUs).
    """

    batches_per_job = 64  # the engine fetches this many batches per Ray Data job: starting a job costs time

    def __init__(self, address: str | None = None, workers: int | None = None,
                 shared_dir: str | Path | None = None) -> None:
        self._ray = _import_ray()  # fail when the workspace opens, before any data is read
        self.address = address
        self._workers = workers
        # a folder every node reads and writes: each stage's inputs and stats travel as Parquet shards there
        self.shared_dir = Path(shared_dir) if shared_dir is not None else None
        self._jobs = 0
        self._owns_ray = False
        self._thread: ThreadPoolExecutor | None = None

    def _start(self) -> None:
        ray = self._ray
        if not ray.is_initialized():
            ray.init(address=self.address, logging_level=logging.WARNING, log_to_driver=False)
            self._owns_ray = True
        if self._thread is None:
            # the engine reports progress itself; Ray Data would log a few lines per chunk
            ctx = ray.data.DataContext.get_current()
            ctx.enable_progress_bars = ctx.enable_operator_progress_bars = False
            logging.getLogger("ray.data").setLevel(logging.WARNING)
            self._thread = ThreadPoolExecutor(1, thread_name_prefix="juicedb-ray")

    @property
    def workers(self) -> int:
        self._start()
        if self._workers:
            return self._workers
        return max(1, int(self._ray.cluster_resources().get("CPU", 1)))

    def close(self) -> None:
        if self._thread is not None:
            self._thread.shutdown(cancel_futures=True)
            self._thread = None
        if self._owns_ray:
            self._ray.shutdown()
            self._owns_ray = False

    def shard_rows(self, total: int, batch_rows: int) -> int:
        """Rows per input shard: a whole number of batches, enough shards for every worker to get several, at
        most ``batches_per_job`` batches (a shard is read as one block)."""
        batches = -(-total // batch_rows)
        per_shard = max(1, min(self.batches_per_job, -(-batches // (4 * self.workers))))
        return per_shard * batch_rows

    def shard_job(self) -> tuple[Path, Path]:
        """A new job's input and output folders under ``shared_dir`` (removed by ``done``)."""
        assert self.shared_dir is not None
        self._jobs += 1
        job = self.shared_dir / f"job-{uuid.uuid4().hex[:12]}-{self._jobs}"
        (job / "in").mkdir(parents=True)
        return job / "in", job / "out"

    @staticmethod
    def done(folder: Path) -> None:
        shutil.rmtree(folder.parent, ignore_errors=True)

    def run_shards(self, by_name: list[tuple[str, dict[str, Any]]], inputs: Path, outputs: Path, batch_rows: int,
                   ) -> None:
        """One Ray Data job over a stage's inputs: Parquet shards of ``(pos, x)`` read by Ray Data from
        ``inputs``, computed by ``map_batches`` (the operators' own batch size; a model operator's actors live
        for the whole job, so each loads its model once), written back as Parquet shards to ``outputs``."""
        self._start()
        ray = self._ray
        shards = len(list(inputs.glob("*.parquet")))
        kwargs = self._compute_kwargs(by_name, shards)
        if kwargs["fn"] is _ModelActor and "num_gpus" not in kwargs:
            # CPU actors leave one CPU to the tasks that read and write the shards (with every CPU held by an
            # actor, the job would wait for them forever)
            cpus = int(ray.cluster_resources().get("CPU", 1))
            kwargs["compute"] = ray.data.ActorPoolStrategy(size=max(1, min(kwargs["compute"].max_size, cpus - 1)))
            if cpus < 2:  # one CPU: the actor takes half of it
                kwargs["num_cpus"] = 0.5
        ds = ray.data.read_parquet(str(inputs), override_num_blocks=shards).map_batches(
            kwargs.pop("fn"), batch_size=batch_rows, batch_format="pyarrow", **kwargs)
        with _user_errors(), warnings.catch_warnings():
            # Ray Data may read small shards as fewer blocks than tasks allowed, and says so
            warnings.filterwarnings("ignore", message="The maximum number of concurrent tasks")
            ds.write_parquet(str(outputs))

    def _compute_kwargs(self, by_name: list[tuple[str, dict[str, Any]]], blocks: int) -> dict[str, Any]:
        """``map_batches`` arguments: an actor pool for model operators (a GPU each where the cluster has them
        and one needs it), else a task pool; no more of them than blocks (idle ones make Ray warn)."""
        ray = self._ray
        n = min(self.workers, blocks)
        models = [s for s in (get_op(name) for name, _ in by_name) if s.cost in ("model", "gpu_model")]
        if models:  # an actor pool: each actor sets up the models once
            gpus = int(ray.cluster_resources().get("GPU", 0))
            kwargs: dict[str, Any] = {}
            if gpus and any(s.cost == "gpu_model" for s in models):
                kwargs["num_gpus"], n = 1, min(n, gpus)
            return {**kwargs, "fn": _ModelActor, "fn_constructor_kwargs": {"by_name": by_name},
                    "compute": ray.data.ActorPoolStrategy(size=n)}
        return {"fn": compute_table, "fn_kwargs": {"by_name": by_name}, "compute": ray.data.TaskPoolStrategy(size=n)}

    def map(self, by_name: list[tuple[str, dict[str, Any]]], slices: list[pa.Array]) -> Future[list[list[Outputs]]]:
        """Compute every slice on the cluster; the future's parts cover the slices' rows in order, as one part.

        The job runs on a thread of this process, so the engine stores the previous
        chunk while the cluster computes this one.
        """
        self._start()
        assert self._thread is not None
        return self._thread.submit(self._run, by_name, slices)

    def _run(self, by_name: list[tuple[str, dict[str, Any]]], slices: list[pa.Array]) -> list[list[Outputs]]:
        ray = self._ray
        blocks, start = [], 0
        for values in slices:
            blocks.append(pa.table({"pos": pa.array(range(start, start + len(values)), pa.int64()), "x": values}))
            start += len(values)
        kwargs = self._compute_kwargs(by_name, len(blocks))
        ds = ray.data.from_arrow(blocks).map_batches(kwargs.pop("fn"), batch_size=max(len(s) for s in slices),
                                                     batch_format="pyarrow", **kwargs)
        with _user_errors():
            tables = ray.get(ds.to_arrow_refs())
        table = pa.concat_tables([t for t in tables if t.num_rows]) if start else tables[0]
        table = table.take(pc.sort_indices(table.column("pos")))
        return [_split(table, len(by_name))]
