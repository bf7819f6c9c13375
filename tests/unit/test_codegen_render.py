"""C text helpers, strict rendering, path guard, banner, atomic replacement, flatbuffer reader."""
from __future__ import annotations

import numpy as np
import pytest

from dnasgen.codegen import cgen
from dnasgen.codegen.render import Renderer, KEEP_ON_REGENERATE, safe_path, template_root
from dnasgen.errors import CodegenError
from dnasgen.io import atomic_dir


def test_literals_are_exact():
    assert cgen.literal(-(1 << 31)) == "(-2147483647 - 1)"
    assert cgen.literal(np.int32(-7)) == "-7"
    assert cgen.literal(0.0078125) == "0x1.0000000000000p-7f"
    assert float.fromhex(cgen.literal(np.float32(0.1))[:-1]) == float(np.float32(0.1))
    with pytest.raises(ValueError):
        cgen.literal(0.1)            # not a float32 value
    assert cgen.identifier("dnasgen_1/s0b0.dw/Relu6;x") == "dn_dnasgen_1_s0b0_dw_relu6_x"


def test_array_definition_layout():
    text = cgen.array_definition("dn_w", np.arange(-3, 27, dtype=np.int8))
    assert text.startswith("DN_ALIGNED(16) const int8_t dn_w[30] = {\n    -3, -2,")
    assert text.endswith("\n};\n") and text.count("\n") == 4
    values = [int(v) for v in text.split("{")[1].split("}")[0].replace("\n", " ").split(",")]
    assert values == list(range(-3, 27))
    assert cgen.array_declaration("dn_b", np.zeros(5, np.int32)) == "extern const int32_t dn_b[5];"
    assert "(-2147483647 - 1)" in cgen.array_body(np.array([-(1 << 31), 5], np.int32))


def test_struct_initializer_and_define():
    assert cgen.struct_initializer({"a": 1, "w": "dn_w"}) == ".a = 1, .w = dn_w"
    assert cgen.define("DN_X", 5) == "#define DN_X 5"


def test_safe_path_refuses_escapes(tmp_path):
    assert safe_path(tmp_path, "ld/x.ld") == (tmp_path / "ld/x.ld").resolve()
    for bad in ("../x.c", "/etc/passwd", "a/../../x"):
        with pytest.raises(CodegenError, match="outside"):
            safe_path(tmp_path, bad)


def _templates(tmp_path, files: dict):
    root = tmp_path / "tpl"
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(text if isinstance(text, bytes) else text.encode())
    return root


def test_renderer_is_strict_and_copies_verbatim(tmp_path):
    banner = f"/* {cgen.BANNER} */\n"
    raw = (banner + "{{ not_rendered }}\n").encode()
    root = _templates(tmp_path, {"t/a.h.jinja": banner + "#define X {{ x }}\n", "t/raw.c": raw})
    out = tmp_path / "out"
    r = Renderer(root, out)
    r.tree("t", {"x": 3})
    assert (out / "a.h").read_text() == banner + "#define X 3\n"
    assert (out / "raw.c").read_bytes() == raw
    assert sorted(r.written) == ["a.h", "raw.c"]
    with pytest.raises(CodegenError, match="undefined"):
        Renderer(root, tmp_path / "out2").tree("t", {})


def test_renderer_requires_the_banner(tmp_path):
    root = _templates(tmp_path, {"t/a.c.jinja": "int x = {{ x }};\n"})
    with pytest.raises(CodegenError, match="banner"):
        Renderer(root, tmp_path / "out").tree("t", {"x": 1})


def test_shipped_templates_all_carry_the_banner():
    root = template_root()
    files = [p for p in root.rglob("*") if p.is_file()]
    assert len(files) >= 15
    for p in files:
        assert cgen.BANNER in p.read_text(encoding="utf-8").split("\n", 1)[0] or "{{ banner }}" in \
            p.read_text(encoding="utf-8").split("\n", 1)[0], p


def test_regenerate_replaces_the_project_and_keeps_stage_artifacts(tmp_path):
    out = tmp_path / "proj"
    (out / ".dnasgen").mkdir(parents=True)
    (out / ".dnasgen" / "plan.json").write_text("{}")
    (out / "old.c").write_text("old")
    (out / "build").mkdir()
    with atomic_dir(out, keep=KEEP_ON_REGENERATE) as staged:
        (staged / "new.c").write_text("new")
    assert sorted(p.name for p in out.iterdir()) == [".dnasgen", "new.c"]
    assert (out / ".dnasgen" / "plan.json").read_text() == "{}"
    assert not staged.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["proj"]


def test_reader_rejects_non_tflite():
    from dnasgen.codegen.tflite import read_model
    with pytest.raises(CodegenError, match="not a .tflite"):
        read_model(b"\x00" * 64)
    with pytest.raises(CodegenError, match="cannot parse"):
        read_model(b"\x10\x00\x00\x00TFL3" + b"\xff" * 40)
