"""ONNX Runtime: the execution providers a session asks for, CUDA first where a GPU is usable."""

from __future__ import annotations

from juicedb.errors import MissingDependencyError


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
