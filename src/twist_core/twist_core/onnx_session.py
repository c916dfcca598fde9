"""Opening an exported model with ONNX Runtime on the CPU, the way every runtime of the project does."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def open_session(path: Path, threads: int, error: type[Exception]) -> Any:
    """An ``onnxruntime.InferenceSession`` of ``path`` on the CPU with ``threads`` intra-op threads.

    A missing or unloadable file raises ``error`` with the path and the reason.
    """
    import onnxruntime

    if not path.is_file():
        raise error(f"{path}: no such file")
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    try:
        return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types for corrupt files
        raise error(f"{path}: not a loadable ONNX model: {exc}") from None
