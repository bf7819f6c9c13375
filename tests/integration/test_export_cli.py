"""`dnasgen export`: reads <out>/<name>/.dnasgen/finetuned.pt, writes model.tflite + export.json there."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from dnasgen.cli import app

TINY = Path(__file__).resolve().parents[1] / "pipeline_tiny.yaml"


def test_export_without_checkpoint_is_a_clean_error(tmp_path):
    result = CliRunner().invoke(app, ["export", str(TINY), "--out", str(tmp_path)])
    assert result.exit_code == 5
    assert "finetuned.pt: no fine-tuned checkpoint" in result.output and "Traceback" not in result.output


def _save_finetuned(out: Path):
    """A static net of the tiny spec with sensible BN statistics, saved where `dnasgen export` looks."""
    from dnasgen.nn import StaticNet, save_static
    from dnasgen.spec import load_spec
    spec = load_spec(TINY)
    torch.manual_seed(0)
    net = StaticNet(spec.space.smallest(), spec.num_classes, spec.space.head_channels)
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.momentum = None
        elif hasattr(m, "weight") and m.weight.dim() == 4:
            torch.nn.init.kaiming_normal_(m.weight)
    net.train()
    with torch.no_grad():
        net(torch.rand(32, net.candidate.data.channels, *(2 * (net.candidate.data.resolution,))) * 2 - 1)
    work = out / spec.name / ".dnasgen"
    save_static(net.eval(), work / "finetuned.pt")
    return spec, work


def test_export_command_end_to_end(tmp_path):
    pytest.importorskip("dnasgen.data.bundle", reason="dataset bundles not available yet")
    spec, work = _save_finetuned(tmp_path)
    result = CliRunner().invoke(app, ["export", str(TINY), "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    report = json.loads((work / "export.json").read_text())
    assert report["calibration_samples"] == spec.search.calibration_samples
    assert report["parity_max_abs_diff"] <= 1e-4 and 0.0 <= report["int8_accuracy"] <= 1.0
    assert (work / "model.tflite").stat().st_size == report["tflite_bytes"]
    assert "torch vs Keras max |diff|" in result.output


NOISE = ("I0000", "W0000", "absl", "oneDNN", "fully_quantize", "Warning", "warnings.warn",
         "deprecated", "Statistics for quantized inputs", "Traceback")


def test_export_keeps_tensorflow_noise_off_the_terminal(tmp_path):
    """A fresh process (TF imported for the first time): the terminal gets dnasgen's lines only;
    TensorFlow's native logs and Python warnings land in .dnasgen/export.log."""
    _, work = _save_finetuned(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TF_")}
    proc = subprocess.run([sys.executable, "-m", "dnasgen.cli", "export", str(TINY), "--out", str(tmp_path)],
                          capture_output=True, text=True, env=env, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stderr == ""
    assert not [word for word in NOISE if word in proc.stdout], proc.stdout
    lines = [line for line in proc.stdout.splitlines() if line.strip()]   # (rich leaves blank lines in pipes)
    assert lines[0].startswith("exported ") and len(lines) == 4, proc.stdout
    log = (work / "export.log").read_text()
    assert "Statistics for quantized inputs were expected" in log          # kept, not lost
    assert "deprecated conversion path" in log
