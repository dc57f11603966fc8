"""ONNX Runtime for the model operators: providers (CUDA first where usable), the model cache, sessions.

Converted models live in the model cache (``$JUICEDB_MODEL_CACHE``; a workspace
sets it to its own ``models/`` folder unless it is already set), one folder per
source, written once and atomically (operator workers may start together).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from juicedb.errors import MissingDependencyError

CACHE_ENV = "JUICEDB_MODEL_CACHE"

_LOADED: dict[tuple[str, str], Any] = {}
_LOAD_LOCK = threading.Lock()  # DuckDB may call a UDF from several threads: load once


def providers(op: str) -> list[str]:
    """``['CUDAExecutionProvider', 'CPUExecutionProvider']`` with onnxruntime-gpu and a GPU, else the CPU alone.

    onnxruntime-gpu falls back to the CPU without a word when CUDA cannot start: callers
    report ``session.get_providers()``, what really runs.
    """
    try:
        import onnxruntime as ort
    except ImportError:
        raise MissingDependencyError(f"{op} needs onnxruntime: pip install 'juicedb[text-models]' "
                                     "(or onnxruntime-gpu: pip install 'juicedb[gpu]')") from None
    cuda = [p for p in ("CUDAExecutionProvider",) if p in ort.get_available_providers()]
    return [*cuda, "CPUExecutionProvider"]


def cache_root() -> Path:
    """Where converted models live: ``$JUICEDB_MODEL_CACHE``, else ``~/.cache/juicedb/models``."""
    env = os.environ.get(CACHE_ENV)
    return Path(env) if env else Path.home() / ".cache" / "juicedb" / "models"


def converted(key: str, build: Callable[[Path], None]) -> Path:
    """The cache folder ``key``, made by ``build(folder)`` the first time (it must write ``meta.json`` last)."""
    final = cache_root() / key
    if (final / "meta.json").is_file():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".converting-", dir=final.parent))
    try:
        build(tmp / "m")
        try:
            os.replace(tmp / "m", final)
        except OSError:
            if not (final / "meta.json").is_file():  # not another process's finished copy: a real failure
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


def optimised(model: Path, chosen: list[str]) -> Path:
    """``model`` with ONNX Runtime's graph optimisations applied for the providers ``chosen``, made once and kept."""
    import onnxruntime as ort

    tag = "-".join(p.removesuffix("ExecutionProvider").lower() for p in chosen)
    path = model.with_name(f"{model.stem}.{tag}.onnx")
    if path.is_file():
        return path
    with open(model.parent / f".{model.stem}.optimise.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # operator workers may start together: one optimises, the others wait
        if not path.is_file():
            tmp = model.with_name(f"{model.stem}.{tag}.partial.onnx")
            opts = ort.SessionOptions()
            opts.log_severity_level = 3
            # EXTENDED, not ALL: ALL adds layout changes tied to this CPU's instruction set
            opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
            opts.optimized_model_filepath = str(tmp)
            opts.add_session_config_entry("session.optimized_model_external_initializers_file_name",
                                          f"{model.stem}.{tag}.onnx.data")
            opts.add_session_config_entry("session.optimized_model_external_initializers_min_size_in_bytes", "1024")
            ort.InferenceSession(str(model), opts, providers=chosen)
            os.replace(tmp, path)
    return path


def session(model: Path, op: str) -> Any:
    """An ONNX Runtime session of ``model`` on the best providers, its graph optimised once and kept beside it.

    ``session.get_providers()`` says what really runs (onnxruntime-gpu falls back to the CPU silently).
    """
    import onnxruntime as ort
    chosen = providers(op)
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    # the graph was optimised once for these providers: loading skips that work (0.6 s instead of 1.6 s)
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(str(optimised(model, chosen)), opts, providers=chosen)


def load_once(kind: str, name: str, make: Callable[[], Any]) -> Any:
    """``make()`` the first time ``(kind, name)`` is asked for in this process, the same object afterwards."""
    found = _LOADED.get((kind, name))
    if found is None:
        with _LOAD_LOCK:
            found = _LOADED.get((kind, name))
            if found is None:
                found = _LOADED[(kind, name)] = make()
    return found
