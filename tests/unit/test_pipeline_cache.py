"""Stage caching: keys from spec sections + input hashes, corrupt artifacts rebuilt, commit point.

Runs the real runner over small stages that write real files (no torch, no compiler)."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from dnasgen.boards import get_board
from dnasgen.candidate import SearchSpace
from dnasgen.errors import BuildError
from dnasgen.io import atomic_write_bytes, read_json, sha256_file
from dnasgen.pipeline.cache import load_manifest, manifest_path
from dnasgen.pipeline.display import BuildDisplay
from dnasgen.pipeline.guard import project_dir
from dnasgen.pipeline.runner import run_stages
from dnasgen.pipeline.stages import Context, Stage, StageResult
from dnasgen.spec.model import Dataset, Sensor, Spec

RAW = {"name": "unit", "task": {"classes": ["a", "b"]}, "dataset": {"source": "synthetic"},
       "train": {"epochs": 1}, "board": "qemu-mps2-an386", "search": {"population": 4}}


def make_spec(**sections) -> Spec:
    raw = {**RAW, **sections}
    return Spec(name="unit", classes=("a", "b"), dataset=Dataset("synthetic"), sensor=Sensor(),
                space=SearchSpace(), board=get_board("qemu-mps2-an386"), raw=raw)


def writer(name: str, artifact: str, calls: list, content=lambda ctx: b"x"):
    """A stage that writes one artifact made from its inputs (and counts its runs)."""
    def run(ctx: Context) -> StageResult:
        calls.append(name)
        blob = content(ctx) + b"".join(ctx.artifact(i).read_bytes() for i in sorted(ctx.artifacts))
        path = atomic_write_bytes(ctx.work_path(f"{artifact}.bin"), blob)
        return StageResult({artifact: path}, {"bytes": len(blob)})
    return run


def chain(calls: list) -> list[Stage]:
    return [
        Stage("train", ("train",), (), writer("train", "supernet", calls,
                                               lambda c: json.dumps(c.spec.raw["train"]).encode())),
        Stage("search", ("board", "search"), ("supernet",),
              writer("search", "candidate", calls, lambda c: c.spec.raw["board"].encode())),
        Stage("export", ("train",), ("candidate",), writer("export", "tflite", calls)),
    ]


def build(tmp_path, spec, calls, until=None):
    ctx = Context(spec=spec, root=tmp_path.resolve(), project=project_dir(tmp_path, spec.name))
    log = run_stages(ctx, chain(calls), BuildDisplay(["train", "search", "export"], quiet=True), until)
    return ctx, log


def test_second_build_reuses_every_stage(tmp_path):
    calls: list = []
    build(tmp_path, make_spec(), calls)
    _, log = build(tmp_path, make_spec(), calls)
    assert calls == ["train", "search", "export"]
    assert log.status() == {"train": "cached", "search": "cached", "export": "cached"}


def test_board_edit_reruns_search_onward_only(tmp_path):
    calls: list = []
    build(tmp_path, make_spec(), calls)
    calls.clear()
    _, log = build(tmp_path, make_spec(board="stm32f746-disco"), calls)
    assert calls == ["search", "export"]
    assert log.status()["train"] == "cached"


def test_unchanged_output_keeps_downstream_cached(tmp_path):
    """A stage that re-ran but produced the same bytes does not invalidate later stages."""
    calls: list = []
    build(tmp_path, make_spec(), calls)
    calls.clear()
    _, log = build(tmp_path, make_spec(search={"population": 8}), calls)
    assert calls == ["search"]       # search output depends on board only; export reused
    assert log.status() == {"train": "cached", "search": "ran", "export": "cached"}


def test_truncated_artifact_is_rebuilt_never_used(tmp_path):
    calls: list = []
    ctx, _ = build(tmp_path, make_spec(), calls)
    good = ctx.artifact("supernet").read_bytes()
    ctx.artifact("supernet").write_bytes(good[:3])          # truncated / corrupt
    calls.clear()
    ctx2, log = build(tmp_path, make_spec(), calls)
    assert calls == ["train"]
    assert "corrupt" in log.records[0].reason
    assert ctx2.artifact("supernet").read_bytes() == good


def test_corrupt_manifest_means_rerun(tmp_path):
    calls: list = []
    ctx, _ = build(tmp_path, make_spec(), calls)
    manifest_path(ctx.work, "search").write_text('{"stage": "sea')      # killed mid-write
    calls.clear()
    build(tmp_path, make_spec(), calls)
    assert calls == ["search"]
    for outputs in ({"candidate": "candidate.bin"}, ["candidate"], {"candidate": {"path": 3}}):   # hand-edited
        obj = read_json(manifest_path(ctx.work, "search"))
        manifest_path(ctx.work, "search").write_text(json.dumps({**obj, "outputs": outputs}))
        calls.clear()
        build(tmp_path, make_spec(), calls)
        assert calls == ["search"]


def test_failed_stage_writes_no_manifest_and_resumes(tmp_path):
    calls: list = []
    stages = chain(calls)

    def boom(ctx):
        raise KeyboardInterrupt
    broken = [stages[0], dataclasses.replace(stages[1], run=boom), stages[2]]
    ctx = Context(spec=make_spec(), root=tmp_path.resolve(), project=project_dir(tmp_path, "unit"))
    with pytest.raises(KeyboardInterrupt):
        run_stages(ctx, broken, BuildDisplay([], quiet=True))
    assert load_manifest(ctx.work, "train") is not None
    assert load_manifest(ctx.work, "search") is None
    events = [json.loads(line) for line in (ctx.work / "build.log.jsonl").read_text().splitlines()]
    assert events[-1]["status"] == "interrupted" and events[-1]["stage"] == "search"
    calls.clear()
    build(tmp_path, make_spec(), calls)
    assert calls == ["search", "export"]          # training work was kept


def test_until_stops_after_stage(tmp_path):
    calls: list = []
    _, log = build(tmp_path, make_spec(), calls, until="search")
    assert [r.name for r in log.records] == ["train", "search"]
    with pytest.raises(BuildError, match="no such stage"):
        build(tmp_path, make_spec(), calls, until="nope")


def test_manifest_records_output_hashes(tmp_path):
    calls: list = []
    ctx, _ = build(tmp_path, make_spec(), calls)
    manifest = load_manifest(ctx.work, "export")
    rec = manifest.outputs["tflite"]
    assert rec["sha256"] == sha256_file(ctx.project / rec["path"])
    assert manifest.inputs == {"candidate": ctx.artifacts["candidate"]["sha256"]}
    assert manifest.sections == ["train"]
    assert read_json(manifest_path(ctx.work, "export"))["key"] == manifest.key


def test_stage_output_outside_project_is_refused(tmp_path):
    def escape(ctx):
        return StageResult({"x": atomic_write_bytes(tmp_path / "outside.bin", b"x")})
    ctx = Context(spec=make_spec(), root=tmp_path.resolve(), project=project_dir(tmp_path, "unit"))
    with pytest.raises(BuildError, match="outside"):
        run_stages(ctx, [Stage("bad", (), (), escape)], BuildDisplay([], quiet=True))


def test_code_fingerprint_covers_the_stage_code():
    import hashlib

    import dnasgen
    from dnasgen.pipeline.cache import TEMPLATES, code_fingerprint
    from dnasgen.pipeline.stages import CODE, stage_list
    graph = Path(dnasgen.__file__).parent / "graph.py"
    manual = hashlib.sha256(b"graph.py\0" + graph.read_bytes()).hexdigest()
    assert code_fingerprint(("graph.py",)) == manual
    assert code_fingerprint(("nn",)) != code_fingerprint(("train",))
    assert len(code_fingerprint((TEMPLATES,))) == 64
    for use_candidate, differentiable in ((False, False), (True, False), (False, True)):
        assert all(stage.code == CODE[stage.name] for stage in stage_list(use_candidate, differentiable))
    # verify's latency is the QEMU count x latency.yaml's cycles per instruction: a refit re-verifies
    root = Path(dnasgen.__file__).parent
    assert (root / "cost" / "latency.yaml").is_file()
    assert any(part == "cost/latency.yaml" or part == "cost" for part in CODE["verify"])


def test_differentiable_search_stage_trains_its_own_supernet():
    """search.strategy differentiable: no train stage; the search stage reads the train section too
    (its warm-up and joint epochs train the supernet that fine-tuning starts from)."""
    from dnasgen.pipeline.stages import stage_list
    stages = {s.name: s for s in stage_list(False, True)}
    assert list(stages) == ["plan", "search", "finetune", "export", "generate", "verify"]
    assert stages["search"].inputs == () and {"train", "search", "board", "constraints"} <= set(stages["search"].sections)
    assert "supernet" in stages["finetune"].inputs


def test_stages_that_price_a_candidate_key_on_the_sensor():
    """estimate_spec sizes the preprocessing code and buffer from the sensor's pixel format, so a
    sensor edit can turn a fitting candidate into one that does not: those stages must re-run."""
    from dnasgen.cost import estimate_spec
    from dnasgen.pipeline.stages import stage_list
    rgb, gray = make_spec(), dataclasses.replace(make_spec(), sensor=Sensor(pixel_format="grayscale"))
    cand = rgb.space.smallest()
    assert estimate_spec(rgb, cand).ram_bytes != estimate_spec(gray, cand).ram_bytes
    pricing = {s.name: s for flag in (False, True) for s in stage_list(flag)
               if s.name in ("plan", "candidate", "search")}
    assert sorted(pricing) == ["candidate", "plan", "search"]
    assert all("sensor" in stage.sections for stage in pricing.values())
