"""Latency calibration: the fit recovers known coefficients; latency.yaml is edited in place."""
from __future__ import annotations

import numpy as np
import pytest

from dnasgen.verify import calibrate
from dnasgen.verify.project import cycles_per_instruction


TRUE = {"kinds": {"conv": {"op": 900.0, "mac": 1.3, "element": 20.0, "pixel": 200.0},
                  "conv1x1": {"op": 300.0, "mac": 0.9, "element": 12.0, "input": 2.5, "weight": 1.1},
                  "dwconv3": {"mac": 3.2, "row": 90.0, "weight": 1.5},
                  "dwconv5": {"op": 1000.0, "mac": 3.1, "row": 30.0, "border_mac": 2.6},
                  "dwconv7": {"mac": 2.4, "element": 0.5, "tap": 6.0, "border_mac": 2.8},
                  "fc": {"op": 40.0, "mac": 2.7, "element": 78.0},
                  "add": {"op": 5600.0, "element": 39.0},
                  "mean": {"op": 2000.0, "element": 14.0}}}


def _samples(coeffs: dict, n: int = 400, seed: int = 0, models: int = 5):
    """Random terms per kind, instructions exactly by the formula."""
    rng = np.random.default_rng(seed)
    kinds = list(calibrate.TERMS)
    out = []
    for i in range(n):
        kind = kinds[i % len(kinds)]
        terms = {t: 1.0 if t == "op" else float(rng.integers(1, 10**5)) for t in calibrate.TERMS[kind]}
        cycles = sum(coeffs["kinds"][kind].get(t, 0.0) * v for t, v in terms.items())
        out.append(calibrate.OpSample(f"m{i % models}", "dsp", kind, terms, int(round(cycles))))
    return out


def test_fit_recovers_the_coefficients():
    samples = _samples(TRUE)
    got = calibrate.fit(samples)
    for kind, terms in calibrate.TERMS.items():
        for term in terms:
            tol = 0.5 if term == "op" else 0.02      # instructions are whole numbers
            assert got["kinds"][kind][term] == pytest.approx(TRUE["kinds"][kind].get(term, 0.0), rel=1e-3, abs=tol), \
                (kind, term)
    assert calibrate.estimate(samples, got) == pytest.approx(sum(s.instructions for s in samples), rel=1e-4)


def test_fit_never_returns_negative_coefficients():
    samples = [calibrate.OpSample("m", "dsp", "add", {"op": 1.0, "element": 100.0 * (i + 1)}, 5) for i in range(10)]
    samples += [calibrate.OpSample("m", "dsp", "conv1x1", {"op": 1.0, "mac": 1000.0 * (i + 1), "element": 10.0},
                                   1500 * (i + 1)) for i in range(10)]
    got = calibrate.fit(samples)
    assert min(c for terms in got["kinds"].values() for c in terms.values()) >= 0
    assert got["kinds"]["conv1x1"]["mac"] > 1.0       # the convolutions' cost went to their MACs


def test_every_model_counts_alike_in_the_fit():
    """Two models, one 100x the instructions of the other, that disagree: the weighted fit splits
    the relative error between them instead of fitting the large one alone."""
    big = [calibrate.OpSample("big", "dsp", "add", {"op": 1.0, "element": 1e5}, 4_000_000)]
    small = [calibrate.OpSample("small", "dsp", "add", {"op": 1.0, "element": 1e3}, 20_000)]
    got = calibrate.fit(big * 3 + small * 3)
    errors = [calibrate.estimate(m, got) / m[0].instructions - 1 for m in (big, small)]
    assert abs(errors[0]) > 0.05 and abs(errors[1]) > 0.05      # neither fitted alone (40 vs 20 per element)


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
    assert cores["cortex-m4"]["kinds"]["dwconv5"] == TRUE["kinds"]["dwconv5"]
    assert cores["cortex-m7"]["kinds"]["conv"]["mac"] == pytest.approx(0.6 * 1.3)
    assert cores["cortex-m0plus"]["kinds"]["conv"]["element"] == pytest.approx(2.5 * 3.0 * 20.0)
    assert cores["cortex-m0plus"]["kinds"]["dwconv5"]["border_mac"] == pytest.approx(1.8 * 6.0 * 2.6)
    assert cores["xtensa-lx7"]["kinds"]["add"]["op"] == pytest.approx(2.0 * 5600.0)
    assert cores["cortex-m3"]["kinds"]["conv"]["mac"] == pytest.approx(6.0 * 1.3)
    assert cores["cortex-m0plus"]["calibrated"] is False and cores["cortex-m55"]["calibrated"] is False


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
    cpi = cycles_per_instruction("cortex-m0plus")
    assert cpi == cores["cortex-m0plus"]["cycles_per_instruction"] == 1.4     # kept from the file
    assert cores["cortex-m0plus"]["kinds"]["conv"]["mac"] == pytest.approx(13.0 * cpi)
    assert cores["cortex-m0plus"]["kinds"]["add"]["op"] == pytest.approx(2.0 * 5600.0 * cpi)
    assert "CORE=m0plus" in cores["cortex-m0plus"]["source"] and "CORE=m7" in cores["cortex-m7"]["source"]
    assert cores["cortex-m7"]["kinds"]["dwconv3"]["mac"] == pytest.approx(3.2 * 0.6)
    assert cores["cortex-m7"]["calibrated"] is True and cores["cortex-m33"]["calibrated"] is False
    assert cores["xtensa-lx7"]["kinds"]["conv"]["mac"] == pytest.approx(6.0 * 1.3)   # still derived


def test_write_latency_without_a_core_block_is_an_error_and_writes_nothing(tmp_path):
    from dnasgen.errors import BuildError
    src = (calibrate.Path(calibrate.__file__).resolve().parents[1] / "cost" / "latency.yaml").read_text()
    path = tmp_path / "latency.yaml"
    broken = calibrate.re.sub(r"^  xtensa-lx7:\n(?:    .*\n)*", "", src, flags=calibrate.re.M)
    assert broken != src
    path.write_text(broken)
    with pytest.raises(BuildError, match="no xtensa-lx7 block"):
        calibrate.write_latency({"dsp": TRUE, "portable": calibrate._scaled(TRUE, 6.0, 3.0, 2.0)}, 6, path)
    assert path.read_text() == broken


def test_write_latency_of_some_kinds_edits_only_those_of_the_measured_cores(tmp_path):
    from ruamel.yaml import YAML
    src = (calibrate.Path(calibrate.__file__).resolve().parents[1] / "cost" / "latency.yaml").read_text()
    path = tmp_path / "latency.yaml"
    path.write_text(src)
    fits = {"dsp": TRUE, "portable": calibrate._scaled(TRUE, 6.0, 3.0, 2.0), "m7": TRUE}
    before = YAML(typ="safe").load(src)["cores"]
    for _ in range(2):                                     # twice: the source names the refit once
        cores = YAML(typ="safe").load(calibrate.write_latency(fits, 6, path, kinds=("dwconv5", "dwconv7")).read_text())
        cores = cores["cores"]
    for core in ("cortex-m4", "cortex-m7"):
        cpi = cores[core]["cycles_per_instruction"]
        assert cores[core]["kinds"]["dwconv5"] == pytest.approx({t: c * cpi for t, c in TRUE["kinds"]["dwconv5"].items()})
        assert cores[core]["kinds"]["dwconv7"]["tap"] == pytest.approx(6.0 * cpi)
        assert {k: v for k, v in cores[core]["kinds"].items() if k not in ("dwconv5", "dwconv7")} == \
            {k: v for k, v in before[core]["kinds"].items() if k not in ("dwconv5", "dwconv7")}
        assert cores[core]["source"].count("refitted dwconv5, dwconv7 (6 models)") == 1
    again = YAML(typ="safe").load(calibrate.write_latency(fits, 9, path, kinds=("conv",)).read_text())["cores"]
    assert again["cortex-m4"]["source"].endswith("; refitted dwconv5, dwconv7 (6 models); refitted conv (9 models)")
    assert {c: cores[c] for c in cores if c not in ("cortex-m4", "cortex-m7")} == \
        {c: before[c] for c in before if c not in ("cortex-m4", "cortex-m7")}   # not measured: untouched


@pytest.mark.parametrize("argv, message", [(["--kinds", "dwconv5"], "give --write too"),
                                           (["--write", "--kinds", "dwconv9"], "unknown kind dwconv9")])
def test_kinds_errors_before_any_measurement(argv, message, capsys):
    with pytest.raises(SystemExit, match=message):
        calibrate.main(argv)
