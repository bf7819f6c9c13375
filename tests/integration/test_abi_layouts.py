"""dnasgen.abi vs the C compilers: the layouts Python computes (and the cost model prices) are the
ones gcc lays out (C99, -pedantic clean), the generated dn_abi.h checks fail the build when they
drift, and kernels_m4.S refuses a dn_gemm_args_t its ldm cannot read. Host gcc needed; the
Cortex-M checks also arm-none-eabi-gcc (a Cortex-M4 build checks the 32-bit layouts, the host
build the 64-bit ones)."""
from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from dnasgen import abi

HOST_CC = shutil.which("gcc") or shutil.which("cc")
ARM_CC = shutil.which("arm-none-eabi-gcc")
needs_host_cc = pytest.mark.skipif(HOST_CC is None, reason="no host C compiler")
needs_arm_cc = pytest.mark.skipif(ARM_CC is None, reason="arm-none-eabi-gcc not installed")
ARM_FLAGS = ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"]


def render_header(directory, context: dict | None = None):
    from dnasgen.codegen.cgen import BANNER
    from dnasgen.codegen.context import abi_context
    from dnasgen.codegen.render import Renderer, template_root
    Renderer(template_root(), directory).render("firmware/dn_abi.h.jinja", "dn_abi.h",
                                                {"banner": BANNER, **(context or abi_context())})
    return directory / "dn_abi.h"


def compile_c(cc: str, directory, source: str, *flags: str) -> subprocess.CompletedProcess:
    path = directory / "probe.c"
    path.write_text(source)
    return subprocess.run([cc, "-std=c99", "-pedantic", "-Wall", "-Wextra", "-Werror", "-I", str(directory), *flags,
                           str(path), "-o", str(directory / "probe")], capture_output=True, text=True)


def probe_source() -> str:
    lines = ['#include <stdio.h>', '#include "dn_abi.h"', "int main(void) {",
             '    printf("pointer %u\\n", (unsigned)sizeof(void *));']
    for s in abi.STRUCTS:
        lines.append(f'    printf("{s.name} sizeof %u\\n", (unsigned)sizeof({s.name}));')
        lines += [f'    printf("{s.name} {f} %u\\n", (unsigned)offsetof({s.name}, {f}));'
                  for f in abi.layout(s.name).offsets]
    return "\n".join(lines + ["    return 0;", "}", ""])


@needs_host_cc
def test_host_compiled_probe_prints_the_python_layouts(tmp_path):
    render_header(tmp_path)
    built = compile_c(HOST_CC, tmp_path, probe_source())
    assert built.returncode == 0, built.stderr
    out = subprocess.run([str(tmp_path / "probe")], capture_output=True, text=True, check=True).stdout
    rows = dict((" ".join(line.split()[:-1]), int(line.split()[-1])) for line in out.splitlines())
    pointer = rows.pop("pointer")
    expected = {}
    for s in abi.STRUCTS:
        lay = abi.layout(s.name, pointer)
        expected[f"{s.name} sizeof"] = lay.size
        expected.update({f"{s.name} {f}": o for f, o in lay.offsets.items()})
    assert rows == expected


@needs_host_cc
def test_a_struct_edited_in_c_fails_the_build(tmp_path):
    from dnasgen.codegen.context import abi_context
    context = abi_context()
    dwk = next(s for s in context["abi_structs"] if s["name"] == "dn_dwk_t")
    q = next(i for i, line in enumerate(dwk["lines"]) if line.startswith("dn_chq_t q[4]"))
    dwk["lines"][q], dwk["lines"][q + 1] = dwk["lines"][q + 1], dwk["lines"][q]     # bias before q
    render_header(tmp_path, context)
    built = compile_c(HOST_CC, tmp_path, '#include "dn_abi.h"\nint main(void) { return 0; }\n')
    assert built.returncode != 0
    assert re.search(r"dn_dwk_t: layout differs from dnasgen.abi", built.stderr)


@pytest.mark.toolchain
@needs_arm_cc
def test_the_cortex_m_layouts_pass_the_generated_checks(tmp_path):
    render_header(tmp_path)
    built = compile_c(ARM_CC, tmp_path, '#include "dn_abi.h"\n', "-fsyntax-only", *ARM_FLAGS)
    assert built.returncode == 0, built.stderr


def assemble_kernels(tmp_path) -> subprocess.CompletedProcess:
    from dnasgen.codegen.render import template_root
    (tmp_path / "dnasgen_config.h").write_text("#define DN_USE_DSP 1\n#define DN_DW_K3 1\n#define DN_DW_GENERIC 1\n"
                                               "#define DN_ACT_CLAMP 1\n")
    source = template_root() / "firmware" / "kernels_m4.S"
    return subprocess.run([ARM_CC, *ARM_FLAGS, "-I", str(tmp_path), "-c", str(source), "-o",
                           str(tmp_path / "kernels_m4.o")], capture_output=True, text=True)


@pytest.mark.toolchain
@needs_arm_cc
def test_kernels_m4_assembles_with_the_offsets_and_refuses_a_reordered_gemm_struct(tmp_path):
    render_header(tmp_path)
    done = assemble_kernels(tmp_path)
    assert done.returncode == 0, done.stderr
    header = tmp_path / "dn_abi.h"
    text = header.read_text()
    header.write_text(text.replace("#define DN_GEMM_K 16\n", "#define DN_GEMM_K 20\n", 1))
    done = assemble_kernels(tmp_path)
    assert done.returncode != 0 and "dn_gemm_args_t as fifteen consecutive words" in done.stderr
