"""One ONNX graph run on the CPU without torch: onnxruntime when it is importable, else OpenCV DNN.
Shared by the detector and the helmet classifier, so both run on the same backend and threads."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


def available_backends() -> list[str]:
    """Backends usable here, best first."""
    backends = []
    try:
        import onnxruntime  # noqa: F401

        backends.append("onnxruntime")
    except ImportError:
        pass
    backends.append("opencv")
    return backends


class OnnxModel:
    """``run(blob)`` → the graph's first output."""

    def __init__(self, path: str | Path | bytes, backend: str = "auto", threads: int = 1) -> None:
        """``path``: the .onnx file, or a serialized graph (onnxruntime only)."""
        self.backend = available_backends()[0] if backend == "auto" else backend
        if self.backend == "onnxruntime":
            import onnxruntime as ort

            opts = ort.SessionOptions()
            opts.intra_op_num_threads = threads
            opts.inter_op_num_threads = 1
            # Spinning intra-op threads wait busily for each other: on a shared 2-core machine they
            # fight the neighbours and a 2-thread run took 3× longer (73 vs 25 ms at 320 px, load 2.7).
            opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
            # Hand the parallel loops out in small dynamic blocks: a thread that a neighbour holds up then
            # does less of the loop instead of everyone waiting for it (issue 21: 19.8 → 17.8 ms p50 for
            # the 320-px detector at load 6.7, in-process A/B in random order; outputs bit-identical).
            opts.add_session_config_entry("session.dynamic_block_base", "2")
            source = path if isinstance(path, bytes) else str(path)
            self._session = ort.InferenceSession(source, opts, providers=["CPUExecutionProvider"])
            self._input = self._session.get_inputs()[0].name
            self.output_names = [o.name for o in self._session.get_outputs()]
        elif self.backend == "opencv":
            if isinstance(path, bytes):
                raise ValueError("the OpenCV backend reads a model file only")
            self._net = cv2.dnn.readNetFromONNX(str(path))
        else:
            raise ValueError(f"unknown backend {backend!r}")

    def run_all(self, blob: np.ndarray) -> list[np.ndarray]:
        """Every output of the graph (onnxruntime only)."""
        return self._session.run(None, {self._input: blob})

    def run(self, blob: np.ndarray) -> np.ndarray:
        if self.backend == "onnxruntime":
            return self._session.run(None, {self._input: blob})[0]
        self._net.setInput(blob)
        return self._net.forward()
