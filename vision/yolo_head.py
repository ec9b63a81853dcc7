"""The YOLOv8 box decode done in numpy for the candidates only, instead of inside the graph for every anchor.

An ultralytics ONNX export ends with the DFL head: the box branch (1 × 4·16 × N distributions) is
reshaped, transposed, soft-maxed over the 16 bins, reduced by a 1 × 1 conv with weights 0…15, turned
into (cx, cy, w, h) around each anchor and scaled by the anchor's stride, then concatenated with the
class sigmoids into [1, 4 + nc, N]. onnxruntime spends 7-19 % of the network's time there (a softmax
over a non-last axis of all 2,100 anchors at 320 px; in-process A/B on the same blobs: 23.4 → 19.0 ms
at load 5.8, 12.8 → 11.8 ms at load 2.9), although only the ~100 anchors whose class scores pass the
threshold are ever used.

`split(path)` cuts the graph at the two tensors that enter that tail (the raw distributions and the
class sigmoids) and reads the tail's own constants (DFL weights, anchor points, strides) from the graph,
so `boxes()` computes the same arithmetic in the same order for the chosen anchors only. A graph that is
not an ultralytics v8 head (the tests' stand-in graphs, another export) gives None and runs whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True, slots=True)
class Head:
    """The cut graph (serialized ONNX) and the constants of the tail it no longer runs."""

    body: bytes
    dist_output: str  # 1 × 4·bins × N raw box distributions
    cls_output: str  # 1 × nc × N class sigmoids
    bins: np.ndarray  # the DFL conv weights (0 … bins-1), float32
    anchors: np.ndarray  # 2 × N anchor points (grid units), float32
    strides: np.ndarray  # N, float32
    half: np.float32  # the graph divides x1y1 + x2y2 by this (2)

    def boxes(self, dist: np.ndarray, columns: np.ndarray) -> np.ndarray:
        """4 × k (cx, cy, w, h) in network pixels for the anchors ``columns`` of ``dist`` (1 × 4·bins × N)."""
        nb = len(self.bins)
        d = np.asarray(dist, np.float32).reshape(4, nb, -1)[:, :, columns]  # the graph's Reshape (1, 4, bins, N)
        e = np.exp(d - d.max(axis=1, keepdims=True))  # softmax over the bins
        p = e / e.sum(axis=1, keepdims=True)
        ltrb = np.einsum("abk,b->ak", p, self.bins)  # the 1 × 1 DFL conv
        anchors = self.anchors[:, columns]
        x1y1 = anchors - ltrb[:2]
        x2y2 = anchors + ltrb[2:]
        cxcy = (x1y1 + x2y2) / self.half
        wh = x2y2 - x1y1
        return np.concatenate([cxcy, wh], axis=0) * self.strides[columns]


def split(path: str | Path) -> Head | None:
    """The graph without its DFL tail, or None when it does not end in an ultralytics v8 head (or `onnx`
    is missing)."""
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError:
        return None
    model = onnx.load(str(path))
    graph = model.graph
    if len(graph.output) != 1 or len(graph.input) != 1:
        return None
    consts = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    for n in graph.node:
        if n.op_type == "Constant" and n.attribute and n.attribute[0].name == "value":
            consts[n.output[0]] = numpy_helper.to_array(n.attribute[0].t)
    producer = {o: n for n in graph.node for o in n.output}
    consumers: dict[str, list] = {}
    for n in graph.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)

    def only(name: str, op: str):
        users = consumers.get(name, [])
        return users[0] if len(users) == 1 and users[0].op_type == op else None

    final = producer.get(graph.output[0].name)
    if final is None or final.op_type != "Concat" or len(final.input) != 2:
        return None
    box_mul, sig = producer.get(final.input[0]), producer.get(final.input[1])
    if box_mul is None or sig is None or box_mul.op_type != "Mul" or sig.op_type != "Sigmoid":
        return None
    softmax = next((n for n in graph.node if n.op_type == "Softmax"), None)
    if softmax is None:
        return None
    transpose = producer.get(softmax.input[0])
    reshape = producer.get(transpose.input[0]) if transpose is not None else None
    conv = only(softmax.output[0], "Conv")
    if transpose is None or reshape is None or conv is None or reshape.op_type != "Reshape":
        return None
    perm = [a.ints for a in transpose.attribute if a.name == "perm"]
    axis = [a.i for a in softmax.attribute if a.name == "axis"]
    shape = consts.get(reshape.input[1])
    weights = consts.get(conv.input[1])
    if (not perm or list(perm[0]) != [0, 2, 1, 3] or axis != [1] or shape is None or len(shape) != 4
            or shape[1] != 4 or weights is None or len(conv.input) != 2):
        return None
    bins = weights.reshape(-1).astype(np.float32)
    if len(bins) != shape[2]:
        return None
    # the tail after the DFL conv: Reshape → Slice (lt, rb) → Sub / Add with the anchors → Add / Sub →
    # Div by 2 → Concat → Mul by the strides; check each constant is where the export puts it
    sub = next((n for n in graph.node if n.op_type == "Sub" and n.input[0] in consts and n.input[1] in producer
                and producer[n.input[1]].op_type == "Slice"), None)
    add = next((n for n in graph.node if n.op_type == "Add" and n.input[0] in consts and n.input[1] in producer
                and producer[n.input[1]].op_type == "Slice"), None)
    div = next((n for n in graph.node if n.op_type == "Div" and n.input[1] in consts), None)
    strides = consts.get(box_mul.input[1])
    if sub is None or add is None or div is None or strides is None:
        return None
    anchors_lt, anchors_rb = consts[sub.input[0]], consts[add.input[0]]
    n_anchors = int(shape[3])
    if (anchors_lt.shape != (1, 2, n_anchors) or not np.array_equal(anchors_lt, anchors_rb)
            or strides.size != n_anchors):
        return None
    extracted = onnx.utils.Extractor(model).extract_model([graph.input[0].name], [reshape.input[0], sig.output[0]])
    return Head(body=extracted.SerializeToString(), dist_output=reshape.input[0], cls_output=sig.output[0],
                bins=bins, anchors=anchors_lt.reshape(2, n_anchors).astype(np.float32),
                strides=strides.reshape(n_anchors).astype(np.float32),
                half=np.float32(consts[div.input[1]]))
