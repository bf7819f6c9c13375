"""dnasgen.io: atomic file and directory writes, stable JSON text, sha256 digests."""
from __future__ import annotations

import ast
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dnasgen import io
from dnasgen.io import (atomic_dir, atomic_path, atomic_write_bytes, atomic_write_json, atomic_write_text,
                        json_digest, json_text, read_json, replace_dir, sha256_bytes, sha256_file)

OBJ = {"b": [1, 2.5, None], "a": {"z": "é", "y": True}}


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def test_write_creates_parents_with_the_usual_mode(tmp_path):
    path = atomic_write_bytes(tmp_path / "a" / "b" / "x.bin", b"\x00\x01new")
    assert path == tmp_path / "a" / "b" / "x.bin" and path.read_bytes() == b"\x00\x01new"
    assert path.stat().st_mode & 0o777 == 0o666 & ~_umask()
    assert atomic_write_text(path, "é\n").read_bytes() == "é\n".encode("utf-8")
    assert os.listdir(path.parent) == ["x.bin"]


def test_failure_mid_write_keeps_the_old_file_and_leaves_no_temp(tmp_path):
    path = tmp_path / "state.json"
    path.write_text("old")
    with pytest.raises(RuntimeError, match="disk died"):
        with atomic_path(path) as tmp:
            assert tmp.parent == tmp_path and tmp.name.startswith(".state.json.")
            tmp.write_bytes(b"half of the new")
            assert path.read_text() == "old"          # a reader still sees the old bytes
            raise RuntimeError("disk died")
    assert path.read_text() == "old"
    assert os.listdir(tmp_path) == ["state.json"]


@pytest.mark.parametrize("fail", ["fsync", "replace"])
def test_failing_sync_or_rename_keeps_the_old_file(tmp_path, monkeypatch, fail):
    path = tmp_path / "model.tflite"
    path.write_bytes(b"old model")

    def broken(*args):
        raise OSError(f"{fail} failed")
    monkeypatch.setattr(io.os, fail, broken)
    with pytest.raises(OSError, match=f"{fail} failed"):
        atomic_write_bytes(path, b"new model" * 1000)
    monkeypatch.undo()
    assert path.read_bytes() == b"old model"
    assert os.listdir(tmp_path) == ["model.tflite"]


def test_unserialisable_json_writes_nothing(tmp_path):
    path = tmp_path / "r.json"
    path.write_text("{}")
    with pytest.raises(TypeError):
        atomic_write_json(path, {"x": object()}, default=None)
    assert path.read_text() == "{}" and os.listdir(tmp_path) == ["r.json"]


def test_json_formatting_is_stable(tmp_path):
    text = atomic_write_json(tmp_path / "a.json", OBJ).read_text(encoding="utf-8")
    assert text == ('{\n  "a": {\n    "y": true,\n    "z": "\\u00e9"\n  },\n'
                    '  "b": [\n    1,\n    2.5,\n    null\n  ]\n}\n')
    assert text == json.dumps(OBJ, indent=2, sort_keys=True, default=str) + "\n"
    kept = atomic_write_json(tmp_path / "b.json", OBJ, indent=1, sort_keys=False, default=None).read_text()
    assert kept == json.dumps(OBJ, indent=1) + "\n" and kept.index('"b"') < kept.index('"a"')
    assert json_text(OBJ, indent=None) == json.dumps(OBJ, sort_keys=True, default=str) + "\n"
    assert json_text({"p": Path("x")}) == '{\n  "p": "x"\n}\n'


def test_digests():
    assert sha256_bytes(b"abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    # cache keys and spec hashes: pinned, a change here would invalidate every cache and lock
    assert json_digest(OBJ) == "e160182953d61573fd075b91a1b80e5c3c9f742c6e2a863bb52b40dc36483a8a"
    assert json_digest((1, "a")) == json_digest([1, "a"])


def test_sha256_file_streams_large_files(tmp_path):
    data = os.urandom(2 * (1 << 20) + 12345)
    path = tmp_path / "big.bin"
    path.write_bytes(data)
    assert sha256_file(path) == sha256_bytes(data) == hashlib.sha256(data).hexdigest()
    assert sha256_file(str(path)) == sha256_bytes(data)


def test_read_json(tmp_path):
    assert read_json(tmp_path / "missing.json") is None
    (tmp_path / "bad.json").write_text('{"truncated": ')
    assert read_json(tmp_path / "bad.json") is None
    (tmp_path / "list.json").write_text("[1, 2]")
    assert read_json(tmp_path / "list.json") is None
    assert read_json(atomic_write_json(tmp_path / "ok.json", OBJ)) == OBJ


def _tree(path: Path) -> dict[str, str]:
    return {p.relative_to(path).as_posix(): p.read_text() for p in sorted(path.rglob("*")) if p.is_file()}


def test_atomic_dir_replaces_a_directory_as_a_whole(tmp_path):
    out = tmp_path / "proj"
    with atomic_dir(out) as staged:
        (staged / "sub").mkdir()
        (staged / "sub" / "a.c").write_text("one")
        assert not out.exists()
    assert _tree(out) == {"sub/a.c": "one"}
    assert out.stat().st_mode & 0o777 == 0o777 & ~_umask()
    with atomic_dir(out) as staged:
        (staged / "b.c").write_text("two")
    assert _tree(out) == {"b.c": "two"}
    assert os.listdir(tmp_path) == ["proj"]


def test_atomic_dir_failure_keeps_the_old_directory(tmp_path):
    out = tmp_path / "proj"
    out.mkdir()
    (out / "old.c").write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_dir(out) as staged:
            (staged / "new.c").write_text("half")
            raise RuntimeError("render failed")
    assert _tree(out) == {"old.c": "old"} and os.listdir(tmp_path) == ["proj"]


def test_atomic_dir_without_overwrite_leaves_an_existing_directory(tmp_path):
    out = tmp_path / "source-key"
    out.mkdir()
    (out / "meta.json").write_text("first builder")
    with pytest.raises(OSError):
        with atomic_dir(out, overwrite=False) as staged:
            (staged / "meta.json").write_text("second builder")
    assert _tree(out) == {"meta.json": "first builder"} and os.listdir(tmp_path) == ["source-key"]


def test_replace_dir_puts_the_old_directory_back_when_the_rename_fails(tmp_path, monkeypatch):
    out, staged = tmp_path / "proj", tmp_path / "staged"
    out.mkdir()
    (out / "old.c").write_text("old")
    staged.mkdir()
    real = os.replace

    def failing(src, dst):
        if Path(src) == staged:
            raise OSError("rename failed")
        real(src, dst)
    monkeypatch.setattr(io.os, "replace", failing)
    with pytest.raises(OSError, match="rename failed"):
        replace_dir(staged, out)
    assert _tree(out) == {"old.c": "old"}
    assert sorted(os.listdir(tmp_path)) == ["proj", "staged"]


def test_kept_entries_survive_a_failed_rename(tmp_path, monkeypatch):
    out = tmp_path / "proj"
    (out / ".dnasgen").mkdir(parents=True)
    (out / ".dnasgen" / "supernet.pt").write_text("weights")
    (out / "old.c").write_text("old")
    real = os.replace

    def failing(src, dst):
        if Path(dst) == out and ".tmp-" in Path(src).name:     # the staged tree, not the restore
            raise OSError("rename failed")
        real(src, dst)
    monkeypatch.setattr(io.os, "replace", failing)
    with pytest.raises(OSError, match="rename failed"):
        with atomic_dir(out, keep=(".dnasgen",)) as staged:
            (staged / "new.c").write_text("new")
    monkeypatch.setattr(io.os, "replace", real)
    assert _tree(out) == {".dnasgen/supernet.pt": "weights", "old.c": "old"}
    assert os.listdir(tmp_path) == ["proj"]


def test_io_imports_nothing_from_dnasgen():
    tree = ast.parse(Path(io.__file__).read_text())
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert imported and all(name in sys.stdlib_module_names or name == "__future__"
                            for name in {m.split(".")[0] for m in imported}), imported
    code = "import sys, dnasgen.io; print(sorted(m for m in sys.modules if m.startswith('dnasgen')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['dnasgen', 'dnasgen.io', 'dnasgen.lazy']"   # the package's lazy re-exports


def test_lazy_exports_resolve_on_first_use_and_reject_unknown_names():
    from dnasgen.lazy import lazy_exports
    getattr_ = lazy_exports("pkg", {"sha256_bytes": "dnasgen.io"})
    assert getattr_("sha256_bytes") is io.sha256_bytes
    with pytest.raises(AttributeError, match="module 'pkg' has no attribute 'nope'"):
        getattr_("nope")
