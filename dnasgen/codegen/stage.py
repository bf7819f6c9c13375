"""`dnasgen generate`: the project's exported model + candidate -> <out>/<name>/ firmware project."""
from __future__ import annotations

import json
from pathlib import Path

from dnasgen.errors import CodegenError
from dnasgen.io import read_json

VECTOR_FRAMES = 4


def generate_spec(spec_path: Path, out: Path | None = None, tflite: Path | None = None,
                  candidate: Path | None = None) -> Path:
    """Generate the project of a spec from its exported model (defaults: the project's .dnasgen/),
    through build's generate-stage code: same files, same lock metrics, dnasgen.inputs.json for --from-lock."""
    from dnasgen.candidate import Candidate
    from dnasgen.layout import WORK_NAME, project_dir
    from dnasgen.spec import load_spec
    spec = load_spec(spec_path)
    project = project_dir(Path(out if out is not None else spec.output_dir), spec.name)
    work = project / WORK_NAME
    tflite = Path(tflite) if tflite is not None else work / "model.tflite"
    if not tflite.is_file():
        raise CodegenError(f"{tflite}: no int8 model; run `dnasgen export {spec_path}` first (or pass --tflite)")
    export = read_json(work / "export.json") or {}
    if candidate is not None:
        cand = Candidate.from_json(Path(candidate).read_text())
    elif "candidate" in export:
        cand = Candidate.from_dict(export["candidate"])
    elif (work / "candidate.json").is_file():
        cand = Candidate.from_json((work / "candidate.json").read_text())
    else:
        raise CodegenError(f"no candidate: pass --candidate or run `dnasgen search {spec_path}` first")
    from dnasgen.pipeline.stages import Context
    from dnasgen.pipeline.steps import write_project
    root = Path(out if out is not None else spec.output_dir)
    own = tflite == work / "model.tflite" and candidate is None     # the build's own model: its figures apply
    ctx = Context(spec, root, project, infos=_stage_infos(work, export) if own else {})
    return write_project(ctx, tflite.read_bytes(), cand, export.get("tools"))


def _stage_infos(work: Path, export: dict) -> dict:
    """The figures build's earlier stages recorded (their manifests), as build's generate stage sees them."""
    from dnasgen.pipeline.cache import load_manifest
    infos = {name: m.info for name in ("search", "finetune", "export") if (m := load_manifest(work, name))}
    infos.setdefault("export", export)          # `dnasgen export` alone: its export.json has the same keys
    return infos


def format_generate(project: Path) -> str:
    from dnasgen.layout import LOCK_NAME
    lock = json.loads((Path(project) / LOCK_NAME).read_text())
    model = lock["model"]
    text = (f"generated {project}: {model['ops']} ops ({', '.join(model['kernels'])}), "
            f"{model['macs']:,} MACs, arena {model['arena_bytes']:,} B, model data "
            f"{model['model_data_bytes']:,} B\n")
    if "tflm" in model:
        t = model["tflm"]
        text += (f"tflm/: TFLM arena {t['arena_bytes']:,} B ({t['package']}, 64-bit host) vs dnasgen "
                 f"{model['arena_bytes']:,} B; TFLM outputs exact on {t['vectors_exact']} of {t['vectors']} "
                 f"vectors (max |diff| {t['max_abs_diff']})\n")
    return text + f"next: make -C {project} test   (or `dnasgen verify {project}`)"
