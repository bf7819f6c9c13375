"""Typed spec model: what every stage reads. Built from a validated, defaults-filled dict.

Field names mirror the YAML keys one to one. Defaults live in the JSON Schema
(`default` keywords) and are applied by the loader before `Spec.from_dict`; the
dataclass defaults below repeat them so tests can build specs programmatically.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from dnasgen.boards import Board
from dnasgen.candidate import SearchSpace
from dnasgen.io import json_digest


@dataclass(frozen=True)
class Sensor:
    width: int = 160
    height: int = 120
    pixel_format: str = "rgb565"   # rgb565 | rgb888 | grayscale | yuyv


@dataclass(frozen=True)
class Dataset:
    source: str                     # synthetic | image_folder | wake_vision
    path: str | None = None
    options: dict = field(default_factory=dict)   # the source's own options (seed, sizes, ratios...)


@dataclass(frozen=True)
class Train:
    epochs: int = 10
    batch_size: int = 64
    lr: float = 0.05
    weight_decay: float = 4e-5
    label_smoothing: float = 0.1
    crop_area_min: float = 0.85    # augmentation: random square crop, smallest share of the source area
    random_subnets: int = 2         # N in the sandwich rule
    distill: bool = True
    data_sampling: str = "step"     # step | subnet: one data config per step, or one per subnet
    warmup_largest_epochs: int = 0  # epochs of largest-subnet-only training before the sandwich
    color_stems: bool = False       # one stem per colour (grayscale, rgb)
    init: str | None = None         # supernet checkpoint to start from (absolute path once loaded)
    bn_recal_samples: int = 500
    seed: int = 0
    workers: int = 0


@dataclass(frozen=True)
class Search:
    strategy: str = "evolution"     # evolution | random | hardware_aware | differentiable
    population: int = 20
    generations: int = 5
    mutation_prob: float = 0.1
    mutation_ratio: float = 0.5
    parent_ratio: float = 0.25
    time_budget_s: float | None = None
    seed: int = 0
    fixed_data: dict | None = None  # {"resolution": r, "color": c} for hardware_aware
    finetune_epochs: int = 3
    finetune_lr: float | None = None  # None: 0.2 * train.lr
    finetune_init: str = "supernet"   # supernet | scratch: the final training's starting weights
    finetune_weight_decay: float | None = None    # None: train.weight_decay (final training recipe)
    finetune_crop_area_min: float | None = None   # None: train.crop_area_min
    calibration_samples: int = 200
    eval_samples: int = 1000
    predictor: bool = True          # evolution: rank a large pool with an accuracy predictor, score its best
    predictor_pool: int = 2500      # candidates the predictor ranks per generation
    race_samples: int = 0           # racing: each generation's new candidates first scored on this many
                                    # validation images (0: off), the best race_keep share on all
    race_keep: float = 0.25
    race_recal_samples: int = 0     # racing: BN recalibration images of the race stage (0: its own batch statistics)
    rescore_top: int = 0            # re-score the search's best this many by stand-alone training (0/1: off)
    rescore_epochs: int = 8         # epochs of each re-scoring net (from random init, the final recipe)
    compare_baseline: bool = False  # also run hardware_aware on the same supernet (summary shows both)
    diff_warmup_epochs: int = 2     # differentiable: supernet (sandwich) training before the search epochs
    diff_epochs: int = 4            # differentiable: joint weight + architecture epochs
    diff_temperature_start: float = 5.0   # Gumbel-softmax temperature, annealed exponentially ...
    diff_temperature_end: float = 0.5     # ... to this value over the search epochs
    diff_arch_lr: float = 0.05      # Adam learning rate of the architecture logits
    diff_penalty_ramp: float = 4.0  # the constraint strengths grow linearly to this many times their start
    diff_samples: int = 4           # architectures sampled per joint step (one batch, losses averaged)
    diff_estimator: str = "reinforce"  # the logits' task gradient: reinforce | reinforce_data (score
                                       # function for data + width only) | straight_through
    diff_train: str = "policy"      # the weights' step: on the policy's samples | one uniform draw
    diff_select: int = 32           # differentiable: the result is the best-scored feasible of the argmax
                                    # and this many draws from the learned distribution (0: the argmax)


@dataclass(frozen=True)
class Constraints:
    max_latency_ms: float | None = None


@dataclass(frozen=True)
class Export:
    memory: str = "inplace"         # layer | inplace | patch (dnasgen.cost.inplace.MEMORY_MODES)


@dataclass(frozen=True)
class Spec:
    name: str
    classes: tuple[str, ...]
    dataset: Dataset
    sensor: Sensor
    space: SearchSpace
    board: Board
    constraints: Constraints = Constraints()
    train: Train = Train()
    search: Search = Search()
    export: Export = Export()
    output_dir: str = "generated"
    runtimes: tuple[str, ...] = ("dnasgen",)     # codegen.runtimes: with "tflm", also tflm/
    raw: dict = field(default_factory=dict, compare=False)   # the validated dict (defaults filled)
    source_path: str | None = field(default=None, compare=False)
    # JSON path -> 1-based (line, col) of each value written in the spec file (loader-filled),
    # so later stages can raise located SpecErrors (see dnasgen.spec.spec_issue).
    positions: dict = field(default_factory=dict, compare=False, repr=False)
    warnings: tuple = field(default=(), compare=False, repr=False)   # SpecIssue tuple (non-fatal)

    def locate(self, json_path: str) -> tuple[int, int]:
        """(line, col) of json_path in the spec file, or of its nearest ancestor written there."""
        from dnasgen.spec.yamlio import locate_in
        return locate_in(self.positions, json_path)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def section_hash(self, *sections: str, pinned: dict | None = None) -> str:
        """Content hash of the named top-level sections (stage cache keys); pinned: {section: {field:
        value}} hashed in place of the spec's values (settings the stage does not read)."""
        pinned = pinned or {}

        def section(name: str):
            value = self.raw.get(name)
            if name not in pinned or not isinstance(value, dict):
                return value
            return {**value, **{k: v for k, v in pinned[name].items() if k in value}}
        return json_digest({k: section(k) for k in sorted(sections)})[:16]

    @property
    def hash(self) -> str:
        return self.section_hash(*self.raw.keys())
