"""The int8 reference: LiteRT with the BUILTIN_REF op resolver (reference kernels, no XNNPACK).

Outputs of this interpreter are what the generated C must reproduce bit for bit.
"""
from __future__ import annotations

import numpy as np

from dnasgen.errors import ExportError


class ReferenceInterpreter:
    """A single-input, single-output int8 .tflite run with LiteRT's reference kernels."""

    def __init__(self, tflite_bytes: bytes, preserve_all_tensors: bool = False):
        from ai_edge_litert.interpreter import Interpreter, OpResolverType
        self._interp = Interpreter(model_content=bytes(tflite_bytes), num_threads=1,
                                   experimental_op_resolver_type=OpResolverType.BUILTIN_REF,
                                   experimental_preserve_all_tensors=preserve_all_tensors)
        self._interp.allocate_tensors()
        inputs, outputs = self._interp.get_input_details(), self._interp.get_output_details()
        if len(inputs) != 1 or len(outputs) != 1:
            raise ExportError(f"expected one input and one output, got {len(inputs)} and {len(outputs)}")
        self._in, self._out = inputs[0], outputs[0]
        if "DELEGATE" in self.op_names():  # a delegate (XNNPACK) took over nodes: not the reference
            raise ExportError("a delegate was applied to the reference interpreter")

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(int(d) for d in self._in["shape"])

    @property
    def output_shape(self) -> tuple[int, ...]:
        return tuple(int(d) for d in self._out["shape"])

    @property
    def input_dtype(self) -> np.dtype:
        return np.dtype(self._in["dtype"])

    @property
    def output_dtype(self) -> np.dtype:
        return np.dtype(self._out["dtype"])

    @property
    def input_quant(self) -> tuple[float, int]:
        scale, zp = self._in["quantization"]
        return float(scale), int(zp)

    @property
    def output_quant(self) -> tuple[float, int]:
        scale, zp = self._out["quantization"]
        return float(scale), int(zp)

    def op_names(self) -> list[str]:
        """Builtin op names in execution order, e.g. ["CONV_2D", "DEPTHWISE_CONV_2D", ...]."""
        return [d["op_name"] for d in self._interp._get_ops_details()]

    def ops_details(self) -> list[dict]:
        return list(self._interp._get_ops_details())

    def tensor_details(self) -> list[dict]:
        return list(self._interp.get_tensor_details())

    def tensor(self, index: int) -> np.ndarray:
        """A tensor's value after the last run (intermediates need preserve_all_tensors=True)."""
        return self._interp.get_tensor(index).copy()

    def run(self, x: np.ndarray) -> np.ndarray:
        """One int8 NHWC tensor (1,H,W,C) or (H,W,C) -> output scores (classes,) int8."""
        x = np.asarray(x)
        if x.shape == self.input_shape[1:]:
            x = x[None]
        if x.shape != self.input_shape or x.dtype != self.input_dtype:
            raise ExportError(f"input must be {self.input_dtype} {self.input_shape}, got {x.dtype} {x.shape}")
        self._interp.set_tensor(self._in["index"], x)
        self._interp.invoke()
        return self._interp.get_tensor(self._out["index"]).reshape(-1).copy()

    def run_batch(self, xs: np.ndarray) -> np.ndarray:
        """(N,H,W,C) int8 -> (N, classes) int8, one invoke per sample."""
        return np.stack([self.run(x) for x in np.asarray(xs)]) if len(xs) else \
            np.zeros((0,) + self.output_shape[1:], self.output_dtype)
