"""The build pipeline: stage registry, content-hash caching, resume, progress and summary.

Light at import time (no torch / tensorflow): stages import their packages when they run.
"""
from dnasgen.pipeline.build import BuildResult, build
from dnasgen.pipeline.runner import StageRecord, run_stages
from dnasgen.pipeline.stages import Context, Stage, StageResult, stage_list

__all__ = ["BuildResult", "build", "StageRecord", "run_stages", "Context", "Stage",
           "StageResult", "stage_list"]
