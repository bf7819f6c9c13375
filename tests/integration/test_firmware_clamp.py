"""The assembly kernels' activation clamp (compiled only when a model needs it, DN_ACT_CLAMP) is
bit-exact: with every convolution's output range narrowed in the generated descriptors, the
Cortex-M4 / M55 builds print the host build's (portable C) outputs. Random-weight models
calibrate to the full -128..127 range, so the clamp is forced by editing model.c."""
from __future__ import annotations

import random
import re
import shutil

import numpy as np
import pytest

from dnasgen.candidate import DataConfig, SearchSpace
from dnasgen.spec.model import Sensor

from codegen_support import make_spec

pytestmark = pytest.mark.toolchain


@pytest.fixture(scope="module")
def projects(tmp_path_factory):
    from dnasgen.verify import toolchain_available
    if not toolchain_available():
        pytest.skip("arm-none-eabi-gcc / qemu-system-arm not installed")
    from dnasgen.codegen import generate_project
    from dnasgen.export import make_test_model
    space = SearchSpace(resolutions=(32,), colors=("rgb",), widths=(0.35,), kernels=(3, 5),
                        expands=(3, 6), depths=((1,), (1, 2), (1,), (1,), (1,), (1,), (1,)),
                        head_channels=64, num_classes=3)
    cand = space.sample(random.Random(4), DataConfig(32, "rgb"))
    blob = make_test_model(cand, num_classes=3, head_channels=64, seed=2, calib_n=8)
    spec = make_spec(Sensor(32, 32, "rgb888"), name="clamp-test", board="nucleo-f412zg")
    base = generate_project(blob, spec, cand, tmp_path_factory.mktemp("fw") / "full")
    clamped = base.parent / "clamped"
    shutil.copytree(base, clamped)
    model_c = clamped / "model.c"
    text, n = re.subn(r"\.act_min = -128, \.act_max = 127(, \.w_row)", r".act_min = -90, .act_max = 100\1",
                      model_c.read_text())
    assert n >= 5                                   # every conv / depthwise descriptor
    model_c.write_text(text)
    config = clamped / "dnasgen_config.h"
    config.write_text(config.read_text().replace("#define DN_ACT_CLAMP 0", "#define DN_ACT_CLAMP 1"))
    return base, clamped


@pytest.mark.parametrize("core", ["m4", "m55"])
def test_clamped_convolutions_match_the_portable_kernels(projects, tmp_path, core):
    from dnasgen.verify.harness import parse_scores, run_tensors
    from dnasgen.verify.project import run_make, score_lines
    base, clamped = projects
    x = np.random.default_rng(7).integers(-128, 128, (4, 32, 32, 3), dtype=np.int8)
    path = tmp_path / "tensors.bin"
    x.tofile(path)
    host = run_tensors(clamped, x)
    assert not np.array_equal(host, run_tensors(base, x))      # the narrowed range changes the outputs
    out = run_make(clamped, "qemu", f"CORE={core}", f"ARGS=--tensor {path}", timeout=300)
    assert np.array_equal(parse_scores(score_lines(out)), host)
