"""`dnasgen export`: the fine-tuned static checkpoint of a spec's project -> int8 .tflite.

Workdir convention (CONTRACTS.md): <out or spec.output_dir>/<spec.name>/.dnasgen/ holds
finetuned.pt (written by `dnasgen finetune`); model.tflite and export.json go next to it.
"""
from __future__ import annotations

from pathlib import Path

from dnasgen.errors import ExportError


def export_spec(spec_path: Path, out: Path | None = None, checkpoint: Path | None = None):
    """Load the spec, its dataset and the fine-tuned subnet; export_model into the project's .dnasgen/."""
    from dnasgen.export.export import export_model
    from dnasgen.nn import load_static
    from dnasgen.layout import WORK_NAME, project_dir
    from dnasgen.spec import load_spec
    spec = load_spec(spec_path)
    work = project_dir(Path(out if out is not None else spec.output_dir), spec.name) / WORK_NAME
    ckpt = Path(checkpoint) if checkpoint is not None else work / "finetuned.pt"
    if not ckpt.is_file():
        raise ExportError(f"{ckpt}: no fine-tuned checkpoint; run `dnasgen finetune {spec_path}` first "
                          f"(or pass --checkpoint)")
    from dnasgen.data import open_dataset
    return export_model(load_static(ckpt), spec, open_dataset(spec, cache_dir=work / "data"), work)


def format_export(result) -> str:
    scale, zp = result.input_quant
    return (f"exported {result.tflite_path} ({result.tflite_bytes:,} bytes, {len(result.ops)} ops, "
            f"input scale {scale:.6g} zero point {zp})\n"
            f"torch vs Keras max |diff| {result.parity_max_abs_diff:.2e} on {result.parity_samples} samples\n"
            f"val accuracy float {result.float_accuracy:.4f}, int8 {result.int8_accuracy:.4f} "
            f"(agreement {result.int8_agreement:.4f}, {result.eval_samples} samples)\n"
            f"wrote {result.json_path}")
