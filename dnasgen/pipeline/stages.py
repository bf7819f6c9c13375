"""The stage registry: name, spec sections read, input artifacts, and ONE library call each.

Each stage function receives the build Context and returns a StageResult: the artifact
files it produced (name -> path inside the project) and a few figures for the summary.
The sections listed are the ONLY spec sections the stage's cache key covers, so they must
be complete: if a stage reads `board`, `board` is listed. Training does not read `board`,
`constraints` or `search`, which is why editing them never retrains the supernet.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from dnasgen.pipeline.cache import TEMPLATES
from dnasgen.layout import WORK_NAME, inside


@dataclass
class StageResult:
    outputs: dict[str, Path]                      # artifact name -> file written
    info: dict = field(default_factory=dict)      # figures for the summary (JSON-able)


@dataclass(frozen=True)
class Stage:
    name: str
    sections: tuple[str, ...]                     # top-level spec sections it reads
    inputs: tuple[str, ...]                       # artifact names from earlier stages
    run: Callable[["Context"], StageResult]
    title: str = ""
    extra_key: Callable[["Context"], object] | None = None   # more key material (e.g. --candidate)
    quiet_stderr: bool = False                    # native log noise (TensorFlow) -> .dnasgen/<name>.log
    code: tuple[str, ...] = ()                    # dnasgen modules whose files are part of the key


@dataclass
class Context:
    """What a stage sees: the spec, where things go, upstream artifacts and figures."""
    spec: object                                  # dnasgen.spec.model.Spec
    root: Path                                    # output root (--out): nothing is written outside it
    project: Path                                 # <root>/<name>: the generated project
    candidate: object = None                      # --candidate (a Candidate): skip search
    artifacts: dict[str, dict] = field(default_factory=dict)   # name -> {"path", "sha256"}
    infos: dict[str, dict] = field(default_factory=dict)       # stage -> info
    _bundle: object = None

    @property
    def work(self) -> Path:
        return self.project / WORK_NAME

    def path(self, *parts: str) -> Path:
        """A path inside the project (guarded: never outside the output root)."""
        return inside(self.root, self.project.joinpath(*parts))

    def work_path(self, *parts: str) -> Path:
        return self.path(WORK_NAME, *parts)

    def artifact(self, name: str) -> Path:
        """The file of an artifact produced by an earlier stage (this build or cached)."""
        return self.path(self.artifacts[name]["path"])

    @property
    def bundle(self):
        """The spec's dataset, opened once per build (cached arrays under .dnasgen/data)."""
        if self._bundle is None:
            from dnasgen.data import open_dataset
            self._bundle = open_dataset(self.spec, cache_dir=self.work_path("data"))
        return self._bundle


# The code each stage runs (besides the shared candidate/graph modules): part of its cache key.
_CORE = ("candidate.py", "graph.py")
_COST = ("boards", "cost", "abi.py")      # the cost model prices the firmware layouts of abi.py
CODE = {
    "plan": (*_CORE, *_COST, "plan"),
    "candidate": (*_CORE, *_COST),
    "train": (*_CORE, "data", "nn", "train"),
    "search": (*_CORE, *_COST, "data", "nn", "train", "search"),
    "finetune": (*_CORE, "data", "nn", "train", "search"),
    "export": (*_CORE, "data", "nn", "export"),
    "generate": (*_CORE, "cost", "abi.py", "data", "export", "codegen", TEMPLATES, "pipeline/fromlock.py"),
    "verify": ("boards", "verify", "cost/latency.py", "cost/latency.yaml"),   # its ms: x cycles/instruction
}


def _stage(name: str, sections: tuple[str, ...], inputs: tuple[str, ...], run, title: str,
           **kw) -> Stage:
    return Stage(name, tuple(sorted(sections)), inputs, run, title, code=CODE[name], **kw)


def stage_list(use_candidate: bool, differentiable: bool = False) -> list[Stage]:
    """Stages in order; with --candidate the search stage is replaced by the given candidate; with
    search.strategy differentiable one search stage trains its own supernet (no train stage)."""
    from dnasgen.pipeline import steps
    plan = _stage("plan", ("task", "sensor", "data_options", "search_space", "board", "constraints", "export"),
                  (), steps.run_plan, "search plan")
    train = _stage("train", ("task", "dataset", "sensor", "data_options", "search_space", "train"),
                   (), steps.run_train, "supernet training", extra_key=steps.train_key)
    search = _stage("search", ("task", "dataset", "sensor", "data_options", "search_space", "board",
                               "constraints", "search", "export"), ("supernet",), steps.run_search,
                    "evolutionary search")
    given = _stage("candidate", ("task", "sensor", "data_options", "search_space", "board", "constraints",
                                 "export"),
                   (), steps.run_candidate, "given candidate", extra_key=steps.candidate_key)
    rest = [
        _stage("finetune", ("task", "dataset", "sensor", "search_space", "train", "search"),
               ("supernet", "candidate"), steps.run_finetune, "fine-tune chosen subnet"),
        _stage("export", ("task", "dataset", "sensor", "search_space", "search"), ("finetuned",),
               steps.run_export, "int8 TFLite export", quiet_stderr=True),
        _stage("generate", ("name", "task", "dataset", "sensor", "board", "constraints", "codegen", "export"),
               ("tflite", "candidate", "finetune", "export"), steps.run_generate,
               "generate firmware project", quiet_stderr=True),
        _stage("verify", ("board", "constraints"), ("lock",), steps.run_verify,
               "build + run firmware"),
    ]
    # a given candidate is checked against the budgets before any training
    if use_candidate:
        return [plan, given, train, *rest]
    if differentiable:
        joint = _stage("search", search.sections + ("train",), (), steps.run_diff_search,
                       "differentiable search (trains the supernet)")
        return [plan, joint, *rest]
    return [plan, train, search, *rest]
