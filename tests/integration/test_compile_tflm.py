"""`dnasgen compile --runtime tflm` on the foreign models of ../shared/models: tflm/ holds the model
byte for byte in an aligned array, an op resolver with exactly the model's ops, and the arena the
tflite-micro package reports (recomputed here in a separate interpreter process). Skipped where the
models folder or the tflite-micro package is absent. DNASGEN_TFLM_DIR (a tflite-micro checkout with
a built libtensorflow-microlite.a) also builds and runs tflm/main.cc; the TFLM sources are not shipped."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from test_compile_models import BOARD

pytest.importorskip("tflite_micro", reason="the tflite-micro package is not installed (pip install tflite-micro)")

VECTORS = 2
# model -> the MicroMutableOpResolver methods its ops need (SOURCE.md's op lists)
OPS = {
    "person_detect.tflite": {"AddDepthwiseConv2D", "AddConv2D", "AddAveragePool2D", "AddReshape", "AddSoftmax"},
    "vww_96_int8.tflite": {"AddConv2D", "AddDepthwiseConv2D", "AddAveragePool2D", "AddFullyConnected",
                           "AddReshape", "AddSoftmax"},
    "pretrainedResnet_quant.tflite": {"AddConv2D", "AddAdd", "AddAveragePool2D", "AddFullyConnected",
                                      "AddReshape", "AddSoftmax"},
    "kws_ref_model.tflite": {"AddConv2D", "AddDepthwiseConv2D", "AddAveragePool2D", "AddFullyConnected",
                             "AddReshape", "AddSoftmax"},
    "ad01_int8.tflite": {"AddFullyConnected"},
}
_PROBE = """
import sys, numpy as np
from tflite_micro.python.tflite_micro import runtime
ip = runtime.Interpreter.from_file(sys.argv[1])
d = ip.get_input_details(0)
ip.set_input(np.zeros(d["shape"], d["dtype"]), 0)
ip.invoke()
ip.print_allocations()
for size in map(int, sys.argv[2:]):                  # arenas to try: does AllocateTensors accept them?
    try:
        runtime.Interpreter.from_file(sys.argv[1], arena_size=size)
        print(f"arena {size}: ok")
    except RuntimeError:
        print(f"arena {size}: refused")
"""


def _interpreter_arena(model: Path, *sizes: int) -> tuple[int, list[str]]:
    """The RecordingMicroAllocator's total, from a fresh interpreter in another process, and
    whether AllocateTensors accepts an arena of each of `sizes` bytes."""
    run = subprocess.run([sys.executable, "-c", _PROBE, str(model), *map(str, sizes)], capture_output=True,
                         text=True, check=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    total = int(re.search(r"Arena allocation total (\d+) bytes", run.stderr + run.stdout).group(1))
    return total, re.findall(r"^arena \d+: (ok|refused)$", run.stdout, re.M)


@pytest.fixture(scope="module", params=sorted(OPS))
def compiled(request, tmp_path_factory, foreign_model):
    from dnasgen.codegen.compile import compile_model
    path = foreign_model(request.param)
    out = tmp_path_factory.mktemp("tflm")
    project = compile_model(path, BOARD, name=path.stem.lower(), out=out, vectors=VECTORS, runtimes=["tflm"])
    return request.param, path, project


def test_op_resolver_lists_exactly_the_models_ops(compiled):
    name, _, project = compiled
    text = (project / "tflm" / "op_resolver.h").read_text()
    methods = re.findall(r"resolver\.(Add\w+)\(\)", text)
    assert len(methods) == len(set(methods)) and set(methods) == OPS[name]
    assert "MicroMutableOpResolver<kDnTflmOpCount>" in text
    assert int(re.search(r"kDnTflmOpCount = (\d+);", text).group(1)) == len(OPS[name])


def test_model_array_is_aligned_and_equals_the_tflite(compiled):
    _, path, project = compiled
    text = (project / "tflm" / "model_data.cc").read_text()
    m = re.search(r"alignas\(16\) const unsigned char dn_tflm_model\[(\d+)\] = \{(.*?)\};", text, re.S)
    data = bytes(int(v) for v in m.group(2).replace("\n", " ").split(",") if v.strip())
    assert data == path.read_bytes() and int(m.group(1)) == len(data)
    assert f"dn_tflm_model[{len(data)}]" in (project / "tflm" / "model_data.h").read_text()


def test_tflm_arena_is_what_the_interpreter_reports(compiled):
    _, path, project = compiled
    lock = json.loads((project / "dnasgen.lock.json").read_text())
    tflm, ours = lock["model"]["tflm"], lock["model"]["arena_bytes"]
    smallest = tflm["arena_min_bytes"]
    reported, accepted = _interpreter_arena(path, smallest, smallest - 16)
    assert tflm["arena_bytes"] == reported == tflm["arena_head_bytes"] + tflm["arena_tail_bytes"]
    assert ours <= tflm["arena_head_bytes"] < reported            # dnasgen's arena: no larger than TFLM's
    assert accepted == ["ok", "refused"] and reported <= smallest and smallest % 16 == 0
    arena = int(re.search(r"kDnTflmArenaBytes = (\d+);", (project / "tflm" / "main.cc").read_text()).group(1))
    assert arena == smallest
    assert f"| {reported} |" in (project / "README.md").read_text()
    assert lock["runtimes"] == ["dnasgen", "tflm"] and tflm["vectors"] == VECTORS


def test_tflm_main_builds_and_runs_against_a_tflm_tree(compiled):
    """Only where DNASGEN_TFLM_DIR names a tflite-micro checkout with its library built."""
    name, _, project = compiled
    tflm_dir = os.environ.get("DNASGEN_TFLM_DIR")
    if not tflm_dir:
        pytest.skip("DNASGEN_TFLM_DIR not set: no TFLM tree to build tflm/main.cc against")
    lock = json.loads((project / "dnasgen.lock.json").read_text())["model"]["tflm"]
    run = subprocess.run(["make", "-C", str(project / "tflm"), "run", f"TFLM_DIR={tflm_dir}",
                          f"MAX_DIFF={lock['max_abs_diff']}"], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"tflm: {lock['vectors_exact']} of {VECTORS} vectors exact, 0 beyond" in run.stdout
    used = int(re.search(r"arena used (\d+) of", run.stdout).group(1))
    assert lock["arena_head_bytes"] <= used <= lock["arena_min_bytes"]
