"""Latency calibration: the fit recovers known coefficients; latency.yaml is edited in place."""
from __future__ import annotations

import numpy as np
import pytest

from dnasgen.verify import calibrate


def _samples(coeffs: dict, n: int = 60, seed: int = 0):
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        kind = calibrate.KINDS[i % len(calibrate.KINDS)]
        macs = int(rng.integers(1000, 10**6)) if kind in calibrate.MAC_KINDS else 0
        elements = int(rng.integers(10, 10**5))
        k = coeffs["kinds"][kind]
        cycles = coeffs["overhead_cycles"] + k["cycles_per_mac"] * macs + k["cycles_per_element"] * elements
        out.append(calibrate.OpSample(f"m{i % 5}", "dsp", kind, macs, elements, int(round(cycles))))
    return out


TRUE = {"overhead_cycles": 900.0,
        "kinds": {"conv": {"cycles_per_mac": 1.3, "cycles_per_element": 20.0},
                  "dwconv": {"cycles_per_mac": 2.9, "cycles_per_element": 17.0},
                  "fc": {"cycles_per_mac": 1.5, "cycles_per_element": 3.0},
                  "add": {"cycles_per_mac": 0.0, "cycles_per_element": 46.0},
                  "mean": {"cycles_per_mac": 0.0, "cycles_per_element": 10.5}}}


def test_fit_recovers_the_coefficients():
    samples = _samples(TRUE)
    got = calibrate.fit(samples)
    assert got["overhead_cycles"] == pytest.approx(900, abs=2)
    for kind, values in TRUE["kinds"].items():
        for key, value in values.items():
            assert got["kinds"][kind][key] == pytest.approx(value, abs=0.01), (kind, key)
    assert calibrate.estimate(samples, got) == pytest.approx(sum(s.instructions for s in samples), rel=1e-4)


def test_fit_never_returns_negative_coefficients():
    samples = [calibrate.OpSample("m", "dsp", "add", 0, 100 * (i + 1), 5) for i in range(10)]
    samples += [calibrate.OpSample("m", "dsp", "conv", 1000 * (i + 1), 10, 1500 * (i + 1)) for i in range(10)]
    got = calibrate.fit(samples)
    values = [got["overhead_cycles"]] + [v for k in got["kinds"].values() for v in k.values()]
    assert min(values) >= 0


def test_write_latency_edits_only_the_numbers(tmp_path):
    from ruamel.yaml import YAML
    src = (calibrate.Path(calibrate.__file__).resolve().parents[1] / "cost" / "latency.yaml").read_text()
    path = tmp_path / "latency.yaml"
    path.write_text(src)
    portable = calibrate._scaled(TRUE, 6.0, 3.0, 2.0)
    calibrate.write_latency({"dsp": TRUE, "portable": portable}, 6, path)
    text = path.read_text()
    header = src.split("cores:")[0]
    assert text.startswith(header)
    cores = YAML(typ="safe").load(text)["cores"]
    assert cores["cortex-m4"]["calibrated"] is True and "QEMU" in cores["cortex-m4"]["source"]
    assert cores["cortex-m4"]["kinds"]["dwconv"]["cycles_per_mac"] == 2.9
    assert cores["cortex-m7"]["kinds"]["conv"]["cycles_per_mac"] == pytest.approx(0.6 * 1.3)
    assert cores["cortex-m0plus"]["kinds"]["conv"]["cycles_per_element"] == pytest.approx(2.5 * 60.0)
    assert cores["xtensa-lx7"]["overhead_cycles"] == pytest.approx(1800.0)
    assert cores["cortex-m0plus"]["calibrated"] is False


def test_each_core_is_traced_on_its_own_machine():
    variants = calibrate._variants(("m0plus", "m4", "m55"))
    assert variants["dsp"] == ("m4", "-O2 -DDN_TRACE=1") and "-DDN_NO_DSP" in variants["portable"][1]
    assert variants["m0plus"] == ("m0plus", "-O2 -DDN_TRACE=1") and variants["m55"][0] == "m55"
    assert "m4" not in variants and calibrate.variant_of("m4") == "dsp"
    assert calibrate.variant_of("m33") == "m33"


def test_measured_cores_replace_the_derived_ratios(tmp_path):
    from ruamel.yaml import YAML
    src = (calibrate.Path(calibrate.__file__).resolve().parents[1] / "cost" / "latency.yaml").read_text()
    path = tmp_path / "latency.yaml"
    path.write_text(src)
    m0plus = calibrate._scaled(TRUE, 10.0, 4.0, 2.0)          # as if measured on the an385
    fits = {"dsp": TRUE, "portable": calibrate._scaled(TRUE, 6.0, 3.0, 2.0), "m0plus": m0plus, "m7": TRUE}
    cores = YAML(typ="safe").load(calibrate.write_latency(fits, 1, path).read_text())["cores"]
    cpi = calibrate.CPI["cortex-m0plus"]
    assert cores["cortex-m0plus"]["kinds"]["conv"]["cycles_per_mac"] == pytest.approx(13.0 * cpi)
    assert "CORE=m0plus" in cores["cortex-m0plus"]["source"] and "CORE=m7" in cores["cortex-m7"]["source"]
    assert cores["cortex-m7"]["kinds"]["dwconv"]["cycles_per_mac"] == pytest.approx(2.9 * calibrate.CPI["cortex-m7"])
    assert cores["xtensa-lx7"]["kinds"]["conv"]["cycles_per_mac"] == pytest.approx(6.0 * 1.3)   # still derived
