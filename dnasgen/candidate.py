"""The Candidate: a data configuration plus a MobileNetV2 architecture.

It is the only hand-off between stages (DESIGN.md): search produces it, export, the
cost model and codegen all derive from it. Frozen and JSON round-trippable.
The search-space helpers (sampling, mutation, crossover) live here too, and never
produce a candidate outside the space.
"""
from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from functools import cached_property
from itertools import product
from math import prod

CANDIDATE_VERSION = 1
COLORS = ("grayscale", "rgb")

# MobileNetV2 inverted-residual settings: (expand t, channels c, blocks n, stride s).
BASE_STAGES: tuple[tuple[int, int, int, int], ...] = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)
STEM_CHANNELS = 32
NUM_STAGES = len(BASE_STAGES)


def make_divisible(value: float, divisor: int = 8) -> int:
    """MobileNetV2's channel rounding: nearest multiple of divisor, never below 90 %."""
    new = max(divisor, int(value + divisor / 2) // divisor * divisor)
    if new < 0.9 * value:
        new += divisor
    return new


def stem_channels(width: float) -> int:
    return make_divisible(STEM_CHANNELS * width)


def stage_channels(width: float, stage: int) -> int:
    """Output channels of a stage (Keras rounds int(c * alpha) first)."""
    return make_divisible(int(BASE_STAGES[stage][1] * width))


def hidden_channels(in_channels: int, expand: int) -> int:
    return in_channels if expand == 1 else make_divisible(in_channels * expand)


def head_channels_for(width: float, head_channels: int) -> int:
    return head_channels if width <= 1.0 else make_divisible(head_channels * width)


@dataclass(frozen=True)
class DataConfig:
    resolution: int
    color: str

    @property
    def channels(self) -> int:
        return 3 if self.color == "rgb" else 1

    def to_dict(self) -> dict:
        return {"resolution": self.resolution, "color": self.color}

    @property
    def label(self) -> str:
        return f"{self.resolution}px-{self.color}"


@dataclass(frozen=True)
class StageConfig:
    depth: int
    kernel: tuple[int, ...]
    expand: tuple[int, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "kernel", tuple(int(k) for k in self.kernel))
        object.__setattr__(self, "expand", tuple(int(e) for e in self.expand))
        if len(self.kernel) != self.depth or len(self.expand) != self.depth:
            raise ValueError(f"stage depth {self.depth} needs {self.depth} kernels and expands, "
                             f"got {len(self.kernel)} and {len(self.expand)}")

    def to_dict(self) -> dict:
        return {"depth": self.depth, "kernel": list(self.kernel), "expand": list(self.expand)}


@dataclass(frozen=True)
class ArchConfig:
    width: float
    stages: tuple[StageConfig, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "stages", tuple(self.stages))
        if len(self.stages) != NUM_STAGES:
            raise ValueError(f"MobileNetV2 has {NUM_STAGES} stages, got {len(self.stages)}")

    def to_dict(self) -> dict:
        return {"width": self.width, "stages": [s.to_dict() for s in self.stages]}


@dataclass(frozen=True)
class Candidate:
    data: DataConfig
    arch: ArchConfig

    def to_dict(self) -> dict:
        return {"data": self.data.to_dict(), "arch": self.arch.to_dict()}

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent, sort_keys=False)

    @cached_property
    def key(self) -> str:
        """Canonical string identity (memoisation key; made once per instance: the value is frozen)."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_dict(cls, obj: dict) -> "Candidate":
        try:
            data = DataConfig(int(obj["data"]["resolution"]), str(obj["data"]["color"]))
            stages = tuple(StageConfig(int(s["depth"]), tuple(s["kernel"]), tuple(s["expand"]))
                           for s in obj["arch"]["stages"])
            arch = ArchConfig(float(obj["arch"]["width"]), stages)
        except KeyError as exc:
            raise ValueError(f"malformed candidate: missing field {exc}") from exc
        except TypeError as exc:
            raise ValueError(f"malformed candidate: a field has the wrong type ({exc})") from exc
        if data.color not in COLORS:
            raise ValueError(f"candidate color must be one of {COLORS}, got {data.color!r}")
        return cls(data, arch)

    @classmethod
    def from_json(cls, text: str) -> "Candidate":
        return cls.from_dict(json.loads(text))


def _pick(rng: random.Random, choices: tuple) -> object:
    return choices[rng.randrange(len(choices))]


@dataclass(frozen=True)
class SearchSpace:
    """The joint space: data options x MobileNetV2 choices. Stage 0 never expands."""
    resolutions: tuple[int, ...] = (96,)
    colors: tuple[str, ...] = ("rgb",)
    widths: tuple[float, ...] = (1.0,)
    depths: tuple[tuple[int, ...], ...] = tuple((n,) for _, _, n, _ in BASE_STAGES)
    kernels: tuple[int, ...] = (3,)
    expands: tuple[int, ...] = (6,)
    head_channels: int = 1280
    num_classes: int = 2
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    def expand_choices(self, stage: int) -> tuple[int, ...]:
        return (1,) if stage == 0 else tuple(self.expands)

    def data_configs(self) -> list[DataConfig]:
        return [DataConfig(r, c) for r, c in product(self.resolutions, self.colors)]

    def max_depths(self) -> tuple[int, ...]:
        return tuple(max(d) for d in self.depths)

    def size(self) -> int:
        """Number of distinct candidates in the joint space (stages choose independently)."""
        per_stage = [sum((len(self.kernels) * len(self.expand_choices(i))) ** d for d in depths)
                     for i, depths in enumerate(self.depths)]
        return prod(per_stage) * len(self.widths) * len(self.data_configs())

    def violations(self, cand: Candidate) -> list[str]:
        """Why a candidate is outside this space (empty list when it is inside)."""
        out = []
        if cand.data.resolution not in self.resolutions:
            out.append(f"resolution {cand.data.resolution} not in {list(self.resolutions)}")
        if cand.data.color not in self.colors:
            out.append(f"color {cand.data.color!r} not in {list(self.colors)}")
        if cand.arch.width not in self.widths:
            out.append(f"width {cand.arch.width} not in {list(self.widths)}")
        for i, st in enumerate(cand.arch.stages):
            if st.depth not in self.depths[i]:
                out.append(f"stage {i} depth {st.depth} not in {list(self.depths[i])}")
            if any(k not in self.kernels for k in st.kernel):
                out.append(f"stage {i} kernels {list(st.kernel)} outside {list(self.kernels)}")
            if any(e not in self.expand_choices(i) for e in st.expand):
                out.append(f"stage {i} expands {list(st.expand)} outside {list(self.expand_choices(i))}")
        return out

    def contains(self, cand: Candidate) -> bool:
        return not self.violations(cand)

    def _stage(self, i: int, depth: int, rng: random.Random) -> StageConfig:
        return StageConfig(depth, tuple(_pick(rng, self.kernels) for _ in range(depth)),
                           tuple(_pick(rng, self.expand_choices(i)) for _ in range(depth)))

    def sample(self, rng: random.Random, data: DataConfig | None = None) -> Candidate:
        data = data or DataConfig(_pick(rng, self.resolutions), _pick(rng, self.colors))
        stages = tuple(self._stage(i, _pick(rng, d), rng) for i, d in enumerate(self.depths))
        return Candidate(data, ArchConfig(_pick(rng, self.widths), stages))

    def _extreme(self, pick, data: DataConfig | None) -> Candidate:
        if data is None:
            preferred = "rgb" if pick is max else "grayscale"
            color = preferred if preferred in self.colors else self.colors[0]
            data = DataConfig(pick(self.resolutions), color)
        stages = tuple(StageConfig(pick(d), (pick(self.kernels),) * pick(d),
                                   (pick(self.expand_choices(i)),) * pick(d))
                       for i, d in enumerate(self.depths))
        return Candidate(data, ArchConfig(pick(self.widths), stages))

    def largest(self, data: DataConfig | None = None) -> Candidate:
        return self._extreme(max, data)

    def smallest(self, data: DataConfig | None = None) -> Candidate:
        return self._extreme(min, data)

    def mutate(self, cand: Candidate, rng: random.Random, prob: float = 0.1,
               fixed_data: bool = False) -> Candidate:
        """Resample each gene with probability prob; new blocks get random genes."""
        def maybe(value, choices):
            return _pick(rng, choices) if rng.random() < prob else value
        data = cand.data if fixed_data else DataConfig(
            maybe(cand.data.resolution, self.resolutions), maybe(cand.data.color, self.colors))
        stages = []
        for i, st in enumerate(cand.arch.stages):
            depth = maybe(st.depth, self.depths[i])
            fresh = self._stage(i, depth, rng)
            kern = tuple(maybe(st.kernel[j], self.kernels) if j < st.depth else fresh.kernel[j]
                         for j in range(depth))
            expd = tuple(maybe(st.expand[j], self.expand_choices(i)) if j < st.depth else fresh.expand[j]
                         for j in range(depth))
            stages.append(StageConfig(depth, kern, expd))
        return Candidate(data, ArchConfig(maybe(cand.arch.width, self.widths), tuple(stages)))

    def crossover(self, a: Candidate, b: Candidate, rng: random.Random,
                  fixed_data: bool = False) -> Candidate:
        """Uniform crossover, gene by gene; blocks beyond one parent's depth come from the other."""
        def either(x, y):
            return x if rng.random() < 0.5 else y
        data = a.data if fixed_data else DataConfig(either(a.data.resolution, b.data.resolution),
                                                    either(a.data.color, b.data.color))
        stages = []
        for sa, sb in zip(a.arch.stages, b.arch.stages):
            depth = either(sa.depth, sb.depth)
            longer = sa if sa.depth >= sb.depth else sb
            kern = tuple(either(sa.kernel[j], sb.kernel[j]) if j < min(sa.depth, sb.depth)
                         else longer.kernel[j] for j in range(depth))
            expd = tuple(either(sa.expand[j], sb.expand[j]) if j < min(sa.depth, sb.depth)
                         else longer.expand[j] for j in range(depth))
            stages.append(StageConfig(depth, kern, expd))
        return Candidate(data, ArchConfig(either(a.arch.width, b.arch.width), tuple(stages)))
