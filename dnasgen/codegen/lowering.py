"""Lowering: a full-int8 .tflite -> a straight-line C program (ops with quant params + arena plan).

Every model-dependent constant (shapes, strides, paddings, zero points, multipliers,
shifts, activation ranges, weights) is read from the flatbuffer here; the templates only
lay them out. Anything outside the supported set fails with a CodegenError naming the op.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dnasgen import abi
from dnasgen.codegen import quant
from dnasgen.codegen.tflite import Model, Operator, Tensor, read_model
from dnasgen.errors import CodegenError
from dnasgen.graph import EXPORTED_OPS, same_padding

# Everything a dnasgen export emits, plus the ops foreign models need (dnasgen compile).
SUPPORTED_OPS = EXPORTED_OPS + ("AVERAGE_POOL_2D", "MAX_POOL_2D", "SOFTMAX")
# C kernel variants (what `DN_KERNEL_<NAME>` switches on in kernels.c).
KERNELS = ("conv", "conv1x1", "dwconv", "add", "mean_sum", "mean_same", "fc", "avgpool", "maxpool",
           "softmax")


@dataclass(frozen=True)
class CTensor:
    name: str                      # C-side / planner name, "t<index>"
    index: int                     # tflite tensor index
    shape: tuple[int, int, int]    # H, W, C (vectors: 1, 1, C)
    scale: float
    zero_point: int

    @property
    def bytes(self) -> int:
        return self.shape[0] * self.shape[1] * self.shape[2]


@dataclass(frozen=True)
class COp:
    index: int                     # position in the tflite op list
    opcode: str                    # tflite builtin name
    kernel: str                    # one of KERNELS
    inputs: tuple[str, ...]        # CTensor names
    output: str
    params: dict                   # scalar kernel parameters (ints, floats)
    arrays: dict = field(default_factory=dict)   # name -> np.ndarray (int8 / int32)
    macs: int = 0

    @property
    def name(self) -> str:
        return f"op{self.index}"


@dataclass(frozen=True)
class Program:
    tensors: dict                  # name -> CTensor (activations only)
    ops: tuple[COp, ...]
    input: str
    output: str

    @property
    def kernels(self) -> tuple[str, ...]:
        return tuple(k for k in KERNELS if any(op.kernel == k for op in self.ops))

    @property
    def macs(self) -> int:
        return sum(op.macs for op in self.ops)

    def schedule(self) -> list[tuple[tuple[str, ...], str]]:
        return [(op.inputs, op.output) for op in self.ops]

    def tensor_bytes(self) -> dict[str, int]:
        return {n: t.bytes for n, t in self.tensors.items()}

    def _kernel_params(self) -> list[tuple[str, dict]]:
        return [(op.kernel, op.params) for op in self.ops]

    @property
    def dw_codes(self) -> frozenset[str]:
        """The Cortex-M depthwise kernels the ops run on (abi.dw_codes: "dw3", "dwk")."""
        return abi.dw_codes(self._kernel_params())

    @property
    def scratch_words(self) -> int:
        return scratch_words(self.ops)

    @property
    def dw_generic(self) -> int:
        """1 when a depthwise conv is not 3 x 3 (dn_dwk, the generic 4-channel group path)."""
        return int("dwk" in self.dw_codes)

    @property
    def act_clamp(self) -> int:
        """1 when a convolution on the fast (SMMULR) path clamps to less than -128 .. 127 (ReLU6
        range narrower than the int8 range): the assembly kernels compile their clamp then."""
        return int(any(op.kernel in ("conv", "conv1x1", "dwconv") and op.params.get("fast")
                       and (op.params["act_min"], op.params["act_max"]) != (-128, 127) for op in self.ops))

    @property
    def conv_fallback(self) -> int:
        """1 when a convolution needs the DSP path's C GEMM (abi.op_fallback); else it is left out."""
        return int("conv" in abi.fallbacks(self._kernel_params()))

    @property
    def dw_fallback(self) -> int:
        """1 when a depthwise conv needs the DSP path's one-channel-at-a-time loop (abi.op_fallback)."""
        return int("dwconv" in abi.fallbacks(self._kernel_params()))

    @property
    def weight_bytes(self) -> int:
        return sum(a.nbytes for op in self.ops for a in op.arrays.values())


def _fail(op: Operator, message: str) -> CodegenError:
    return CodegenError(f"op {op.index} ({op.opcode}): {message}")


def _hwc(op: Operator, t: Tensor) -> tuple[int, int, int]:
    shape = t.shape
    if len(shape) == 4 and shape[0] == 1:
        return shape[1], shape[2], shape[3]
    if len(shape) in (1, 2, 3) and all(d == 1 for d in shape[:-1]):
        return 1, 1, shape[-1]
    raise _fail(op, f"tensor {t.name!r} has unsupported shape {list(shape)} (batch 1 NHWC or 1xC)")


def _activation(model: Model, op: Operator, index: int) -> CTensor:
    t = model.tensors[index]
    if t.type != "int8":
        raise _fail(op, f"tensor {t.name!r} is {t.type}; only int8 activations are supported "
                        "(is the model fully int8-quantised?)")
    if len(t.scales) != 1:
        raise _fail(op, f"activation {t.name!r} must be per-tensor quantised")
    return CTensor(f"t{index}", index, _hwc(op, t), t.scales[0], t.zero_points[0])


def _const(model: Model, op: Operator, index: int, dtype: str) -> Tensor:
    t = model.tensors[index]
    if t.data is None:
        raise _fail(op, f"tensor {t.name!r} must be a constant")
    if t.type != dtype:
        raise _fail(op, f"constant {t.name!r} is {t.type}, expected {dtype}")
    return t


def _filter(model: Model, op: Operator, index: int, channels: int, qdim: int) -> Tensor:
    w = _const(model, op, index, "int8")
    if any(z != 0 for z in w.zero_points):
        raise _fail(op, f"filter {w.name!r} has non-zero zero points (int8 weights are symmetric)")
    if len(w.scales) not in (1, channels) or (len(w.scales) > 1 and w.quantized_dim != qdim):
        raise _fail(op, f"filter {w.name!r}: {len(w.scales)} scales on dim {w.quantized_dim} "
                        f"for {channels} channels")
    return w


def _bias(model: Model, op: Operator, index: int, channels: int) -> np.ndarray:
    if index < 0:
        return np.zeros(channels, np.int32)
    b = _const(model, op, index, "int32").data.reshape(-1)
    if b.size != channels:
        raise _fail(op, f"bias has {b.size} values for {channels} channels")
    return b.astype(np.int32)


def _requant(op, x: CTensor, w: Tensor, y: CTensor, channels: int) -> tuple[dict, dict]:
    mults, shifts = quant.per_channel_multipliers(x.scale, w.scales, y.scale, channels)
    act_min, act_max = quant.activation_range(op.options.get("fusedActivationFunction", 0),
                                              y.scale, y.zero_point)
    arrays = {"mult": np.asarray(mults, np.int32), "shift": np.asarray(shifts, np.int32)}
    params = {"in_offset": -x.zero_point, "out_offset": y.zero_point, "act_min": act_min,
              "act_max": act_max}
    return params, arrays


def _padding(op: Operator, x: CTensor, y: CTensor, kh: int, kw: int) -> tuple[int, int, int, int]:
    sh, sw = op.options.get("strideH", 1), op.options.get("strideW", 1)
    if op.options.get("dilationHFactor", 1) != 1 or op.options.get("dilationWFactor", 1) != 1:
        raise _fail(op, "dilated convolutions are not supported")
    if op.options.get("padding", 0) == 0:  # SAME
        oh, pt, _ = same_padding(x.shape[0], kh, sh)
        ow, pl, _ = same_padding(x.shape[1], kw, sw)
    else:
        oh, pt = (x.shape[0] - kh) // sh + 1, 0
        ow, pl = (x.shape[1] - kw) // sw + 1, 0
    if (oh, ow) != y.shape[:2]:
        raise _fail(op, f"output {y.shape[:2]} does not match padding/stride ({oh}, {ow})")
    return sh, sw, pt, pl


ACC_BOUND = 1 << 30


def fast_requant(arrays: dict, taps: int, in_offset: int) -> int:
    """1 when the worst-case |accumulator| (bias + taps x 128 x |x + offset|) stays below 2^30 and
    every shift is <= -1 (a right shift): the DSP kernels' SMMULR requantisation is then exact."""
    x_max = max(abs(-128 + in_offset), abs(127 + in_offset))
    bound = int(np.abs(arrays["bias"].astype(np.int64)).max(initial=0)) + taps * 128 * x_max
    return int(bound < ACC_BOUND and int(arrays["shift"].max(initial=-1)) <= -1)


def scratch_words(ops) -> int:
    """32-bit words of the DSP kernels' scratch buffer (dnasgen.abi.scratch_words)."""
    return abi.scratch_words([(op.kernel, op.params) for op in ops])


def _window_params(op, x, y, kh, kw) -> dict:
    sh, sw, pt, pl = _padding(op, x, y, kh, kw)
    return {"in_h": x.shape[0], "in_w": x.shape[1], "in_c": x.shape[2], "out_h": y.shape[0],
            "out_w": y.shape[1], "out_c": y.shape[2], "k_h": kh, "k_w": kw, "stride_h": sh,
            "stride_w": sw, "pad_t": pt, "pad_l": pl}


def _lower_conv(model: Model, op: Operator) -> COp:
    x, y = _activation(model, op, op.inputs[0]), _activation(model, op, op.outputs[0])
    oc = y.shape[2]
    w = _filter(model, op, op.inputs[1], oc, 0)
    if w.shape[0] != oc or w.shape[3] != x.shape[2]:
        raise _fail(op, f"filter shape {list(w.shape)} does not match input {x.shape} / output {y.shape}")
    kh, kw = w.shape[1], w.shape[2]
    params = _window_params(op, x, y, kh, kw)
    rq, arrays = _requant(op, x, w, y, oc)
    params.update(rq)
    kernel = abi.conv_kernel(kh, kw, params["stride_h"], params["stride_w"])
    k = kh * kw * x.shape[2]
    row = abi.conv_row(kernel, kh, kw, x.shape[2])      # k x k rows padded to whole words (zeros)
    weights = np.zeros((oc, row), np.int8)
    weights[:, :k] = w.data.reshape(oc, k)
    params["w_row"] = row
    arrays = {"weights": weights.reshape(-1), "bias": _bias(model, op, _opt(op, 2), oc), **arrays}
    quant.fold_constant_channels(arrays, weights, params)
    params["fast"] = fast_requant(arrays, k, params["in_offset"])
    macs = y.shape[0] * y.shape[1] * oc * kh * kw * x.shape[2]
    return COp(op.index, op.opcode, kernel, (x.name,), y.name, params, arrays, macs)


def _lower_dwconv(model: Model, op: Operator) -> COp:
    x, y = _activation(model, op, op.inputs[0]), _activation(model, op, op.outputs[0])
    c = y.shape[2]
    if c != x.shape[2] or op.options.get("depthMultiplier", 1) not in (0, 1):
        raise _fail(op, "only depth multiplier 1 is supported")
    w = _filter(model, op, op.inputs[1], c, 3)
    if w.shape[0] != 1 or w.shape[3] != c:
        raise _fail(op, f"filter shape {list(w.shape)} does not match {c} channels")
    kh, kw = w.shape[1], w.shape[2]
    params = _window_params(op, x, y, kh, kw)
    rq, arrays = _requant(op, x, w, y, c)
    params.update(rq)
    arrays = {"weights": w.data.reshape(-1), "bias": _bias(model, op, _opt(op, 2), c), **arrays}
    quant.fold_constant_channels(arrays, w.data.reshape(kh * kw, c).T, params)
    params["w_row"] = kh * kw
    params["fast"] = fast_requant(arrays, kh * kw, params["in_offset"])
    return COp(op.index, op.opcode, "dwconv", (x.name,), y.name, params, arrays, y.shape[0] * y.shape[1] * c * kh * kw)


def _lower_fc(model: Model, op: Operator) -> COp:
    x, y = _activation(model, op, op.inputs[0]), _activation(model, op, op.outputs[0])
    ic, oc = x.bytes, y.bytes
    if op.options.get("weightsFormat", 0) != 0:
        raise _fail(op, "shuffled weight formats are not supported")
    w = _filter(model, op, op.inputs[1], oc, 0)
    if w.shape != (oc, ic):
        raise _fail(op, f"filter shape {list(w.shape)} does not match {ic} inputs -> {oc} outputs")
    rq, arrays = _requant(op, x, w, y, oc)
    params = {"in_c": ic, "out_c": oc, **rq}
    arrays = {"weights": w.data.reshape(-1), "bias": _bias(model, op, _opt(op, 2), oc), **arrays}
    return COp(op.index, op.opcode, "fc", (x.name,), y.name, params, arrays, ic * oc)


def _lower_add(model: Model, op: Operator) -> COp:
    a, b = (_activation(model, op, i) for i in op.inputs[:2])
    y = _activation(model, op, op.outputs[0])
    if not a.bytes == b.bytes == y.bytes or len({a.shape, b.shape, y.shape} - {(1, 1, y.bytes)}) > 1:
        raise _fail(op, f"broadcasting add {a.shape} + {b.shape} is not supported")
    params = quant.add_params(a.scale, b.scale, y.scale)
    act_min, act_max = quant.activation_range(op.options.get("fusedActivationFunction", 0),
                                              y.scale, y.zero_point)
    params.update({"size": y.bytes, "in1_offset": -a.zero_point, "in2_offset": -b.zero_point,
                   "out_offset": y.zero_point, "act_min": act_min, "act_max": act_max})
    return COp(op.index, op.opcode, "add", (a.name, b.name), y.name, params)


def _lower_mean(model: Model, op: Operator) -> COp:
    x, y = _activation(model, op, op.inputs[0]), _activation(model, op, op.outputs[0])
    axis = _const(model, op, op.inputs[1], "int32").data.reshape(-1).tolist()
    axis = sorted(a + 4 if a < 0 else a for a in axis)
    if len(model.tensors[op.inputs[0]].shape) != 4 or axis != [1, 2] or y.shape[2] != x.shape[2]:
        raise _fail(op, f"only the mean over height and width of a 4-D tensor is supported (axis {axis})")
    params = {"in_h": x.shape[0], "in_w": x.shape[1], "channels": x.shape[2],
              "in_zp": x.zero_point, "out_zp": y.zero_point}
    # LiteRT's reference MEAN (keep_dims or not): the integer sum divided by the count when input
    # and output share their quantisation, else QuantizedMeanOrSum with 1/count folded into the
    # multiplier (both checked bit-exact against BUILTIN_REF).
    if x.scale == y.scale and x.zero_point == y.zero_point:
        kernel = "mean_same"
    else:
        mult, shift = quant.mean_multiplier(x.scale, y.scale, x.shape[0] * x.shape[1])
        params.update({"mult": mult, "shift": shift})
        kernel = "mean_sum"
    return COp(op.index, op.opcode, kernel, (x.name,), y.name, params)


def _opt(op: Operator, i: int) -> int:
    return op.inputs[i] if len(op.inputs) > i else -1


_LOWER = {"CONV_2D": _lower_conv, "DEPTHWISE_CONV_2D": _lower_dwconv, "ADD": _lower_add,
          "MEAN": _lower_mean, "FULLY_CONNECTED": _lower_fc}


def _check_io(model: Model) -> None:
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise CodegenError(f"expected one input and one output, got {len(model.inputs)} and "
                           f"{len(model.outputs)}")
    for role, i in (("input", model.inputs[0]), ("output", model.outputs[0])):
        t = model.tensors[i]
        if t.type != "int8":
            raise CodegenError(f"model {role} {t.name!r} is {t.type}; export a full-int8 model "
                               "(int8 input and output)")


def _aliases(model: Model) -> dict[int, int]:
    """RESHAPE outputs -> their input tensor (int8 HWC data is unchanged by a reshape)."""
    alias: dict[int, int] = {}
    for op in model.operators:
        if op.opcode != "RESHAPE":
            continue
        x, y = model.tensors[op.inputs[0]], model.tensors[op.outputs[0]]
        if x.type != "int8" or (x.scales, x.zero_points) != (y.scales, y.zero_points):
            raise _fail(op, "a reshape must keep the int8 tensor's quantisation")
        alias[y.index] = alias.get(x.index, x.index)
    return alias


def _resolve(op: Operator, alias: dict[int, int]) -> Operator:
    inputs = tuple(alias.get(i, i) for i in op.inputs)
    return Operator(op.index, op.opcode, op.version, inputs, op.outputs, op.options)


def lower(tflite_bytes: bytes) -> Program:
    """The C program of a full-int8 .tflite; CodegenError names the first unsupported op."""
    from dnasgen.codegen.lower_ops import LOWER
    table = {**_LOWER, **LOWER}
    model = read_model(tflite_bytes)
    for op in model.operators:
        if op.opcode not in table and op.opcode != "RESHAPE":
            raise CodegenError(f"op {op.index} ({op.opcode}) is not supported by the C code generator "
                               f"(supported: {', '.join(SUPPORTED_OPS)})")
    alias = _aliases(model)
    ops = tuple(table[op.opcode](model, _resolve(op, alias)) for op in model.operators
                if op.opcode != "RESHAPE")
    _check_io(model)
    tensors = {}
    for cop in ops:
        for index in [int(n[1:]) for n in cop.inputs + (cop.output,)]:
            tensors.setdefault(f"t{index}", _activation(model, model.operators[cop.index], index))
    output = alias.get(model.outputs[0], model.outputs[0])
    return Program(tensors, ops, f"t{model.inputs[0]}", f"t{output}")
