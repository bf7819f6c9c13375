"""runtime tflm without a model: resolver method names, the runtimes option (spec and CLI), and a
clear error, with nothing written, where the tflite-micro package is missing."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dnasgen.cli import app
from dnasgen.codegen.tflm import check_runtimes, resolver_method, run_tflm
from dnasgen.errors import CodegenError, SpecError
from dnasgen.spec import load_spec

MINIMAL = "name: demo\ndataset:\n  source: synthetic\nboard: qemu-mps2-an386\n"


@pytest.mark.parametrize("op, method", [("CONV_2D", "AddConv2D"), ("DEPTHWISE_CONV_2D", "AddDepthwiseConv2D"),
                                        ("AVERAGE_POOL_2D", "AddAveragePool2D"), ("MAX_POOL_2D", "AddMaxPool2D"),
                                        ("FULLY_CONNECTED", "AddFullyConnected"), ("SOFTMAX", "AddSoftmax"),
                                        ("L2_POOL_2D", "AddL2Pool2D"), ("ADD", "AddAdd"), ("MEAN", "AddMean")])
def test_resolver_methods_are_tflms_names(op, method):
    assert resolver_method(op) == method


def test_runtimes_default_to_dnasgen_and_always_include_it():
    assert check_runtimes(None) == ("dnasgen",)
    assert check_runtimes(["tflm"]) == check_runtimes(["tflm", "dnasgen"]) == ("dnasgen", "tflm")
    with pytest.raises(CodegenError, match="unknown runtime 'tvm'"):
        check_runtimes(["tvm"])


def test_spec_codegen_runtimes(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text(MINIMAL)
    assert load_spec(path).runtimes == ("dnasgen",)
    path.write_text(MINIMAL + "codegen:\n  runtimes: [dnasgen, tflm]\n")
    assert load_spec(path).runtimes == ("dnasgen", "tflm")
    path.write_text(MINIMAL + "codegen:\n  runtimes: [tflm]\n")      # dnasgen's C is always generated
    with pytest.raises(SpecError, match="codegen.runtimes"):
        load_spec(path)


def test_missing_tflite_micro_is_a_clear_error(monkeypatch):
    for name in ("tflite_micro", "tflite_micro.python.tflite_micro"):    # imports fail as if not installed
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(CodegenError, match="needs the tflite-micro package"):
        run_tflm(b"", [])


def test_compile_with_an_unknown_runtime_writes_nothing(tmp_path):
    model = tmp_path / "m.tflite"
    model.write_bytes(b"not read")
    result = CliRunner().invoke(app, ["compile", str(model), "--board", "qemu-mps2-an386", "--out",
                                      str(tmp_path / "out"), "--runtime", "tvm"])
    assert result.exit_code != 0 and "unknown runtime 'tvm'" in result.output
    assert not Path(tmp_path / "out").exists()
