"""`dnasgen generate`: the project's exported model + candidate -> <out>/<name>/ firmware project."""
from __future__ import annotations

import json
from pathlib import Path

from dnasgen.errors import CodegenError
from dnasgen.io import read_json

VECTOR_FRAMES = 4


def dataset_frames(spec, work: Path, count: int = VECTOR_FRAMES) -> list:
    """Raw sensor frames of the test split (the camera's view of real samples)."""
    from dnasgen.data import open_dataset
    frames, _ = open_dataset(spec, cache_dir=work / "data").frames("test", count)
    return list(frames)


def generate_spec(spec_path: Path, out: Path | None = None, tflite: Path | None = None,
                  candidate: Path | None = None, frames: int = VECTOR_FRAMES) -> Path:
    """Generate the project of a spec from its exported model (defaults: the project's .dnasgen/)."""
    from dnasgen.candidate import Candidate
    from dnasgen.codegen.project import generate_project
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
    metrics = {k: export[k] for k in ("float_accuracy", "int8_accuracy", "int8_agreement") if k in export}
    return generate_project(tflite.read_bytes(), spec, cand, project, dataset_frames(spec, work, frames),
                            metrics, export.get("tools"))


def format_generate(project: Path) -> str:
    from dnasgen.layout import LOCK_NAME
    lock = json.loads((Path(project) / LOCK_NAME).read_text())
    model = lock["model"]
    return (f"generated {project}: {model['ops']} ops ({', '.join(model['kernels'])}), "
            f"{model['macs']:,} MACs, arena {model['arena_bytes']:,} B, model data "
            f"{model['model_data_bytes']:,} B\n"
            f"next: make -C {project} test   (or `dnasgen verify {project}`)")
