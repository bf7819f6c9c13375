"""The search engine: constraint-first evolution (and its random baseline) over Candidates.

Pure Python: the fitness comes from a `Scorer` (the real one wraps the trained supernet,
dnasgen.search.scoring), prices from a `Pricer` (the cost model). Every candidate is priced
before it is scored; an infeasible one is repaired (shrunk gene by gene) and never scored.
Seeded and deterministic; the state is saved after every chunk of scores, so an interrupted
search resumes and ends with the same result as an uninterrupted one.
"""
from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Protocol, Sequence

from dnasgen.candidate import Candidate, DataConfig, SearchSpace
from dnasgen.search.constraints import Pricer, budget_error, data_fits, repair
from dnasgen.search.niches import allocate, by_data
from dnasgen.search.pareto import Evaluated
from dnasgen.search.state import SearchState
from dnasgen.spec.model import Search

STRATEGIES = ("evolution", "random", "hardware_aware")
_SPEC = Search()        # the spec's `search:` defaults, kept in one place (dnasgen.spec.model)


class Scorer(Protocol):
    """Fitness of candidates (validation accuracy in [0, 1]); must be deterministic."""

    def score_many(self, candidates: Sequence[Candidate]) -> list[float]: ...


@dataclass(frozen=True)
class SearchConfig:
    """The engine's settings; those the spec's `search:` section also has default to the spec's."""
    strategy: str = _SPEC.strategy
    population: int = _SPEC.population
    generations: int = _SPEC.generations
    mutation_prob: float = _SPEC.mutation_prob
    mutation_ratio: float = _SPEC.mutation_ratio
    parent_ratio: float = _SPEC.parent_ratio
    time_budget_s: float | None = _SPEC.time_budget_s
    seed: int = _SPEC.seed
    fixed_data: DataConfig | None = None      # set: the data configuration never changes
    evaluations: int | None = None            # random: how many candidates to score
    attempts: int = 50                        # tries for a new (unseen) feasible candidate
    chunk: int = 4                            # scores between state saves
    predictor: bool = _SPEC.predictor         # rank a pool of predictor_pool children, score the best
    predictor_pool: int = _SPEC.predictor_pool
    race_samples: int = _SPEC.race_samples    # racing: race stage on this many validation images (0: off)
    race_keep: float = _SPEC.race_keep
    race_recal: int = _SPEC.race_recal_samples

    @property
    def n_parents(self) -> int:
        return min(self.population, max(1, round(self.parent_ratio * self.population)))

    @property
    def n_children(self) -> int:
        return self.population - self.n_parents

    @property
    def target_evaluations(self) -> int:
        """Candidates scored by a complete run (fewer only if the space runs out of new ones)."""
        if self.evaluations is not None:
            return self.evaluations
        return self.population + self.generations * self.n_children

    def identity(self) -> dict:
        """What makes two runs the same search (the time budget only decides where it stops)."""
        return {"strategy": self.strategy, "population": self.population, "generations": self.generations,
                "mutation_prob": self.mutation_prob, "mutation_ratio": self.mutation_ratio,
                "parent_ratio": self.parent_ratio, "seed": self.seed, "attempts": self.attempts,
                "fixed_data": self.fixed_data.to_dict() if self.fixed_data else None,
                "evaluations": self.target_evaluations,
                **({"predictor_pool": self.predictor_pool} if self.uses_predictor else {}),
                **({"race": [self.race_samples, self.race_keep, self.race_recal]} if self.race_samples else {}),
                **({"niches": "successive_halving", "frontier_seeds": True} if self.strategy != "random" else {})}

    @property
    def uses_predictor(self) -> bool:
        return self.predictor and self.strategy != "random"


@dataclass
class EngineResult:
    evaluated: list[Evaluated]      # every scored candidate, in scoring order
    generations: int                # generations (or random batches) completed
    elapsed_s: float
    stop_reason: str                # "complete" | "time budget"
    predictor: dict                 # with search.predictor: its statistics (else empty)
    racing: dict                    # with search.race_samples: raced / fully scored counts (else empty)


class Engine:
    def __init__(self, space: SearchSpace, pricer: Pricer, scorer: Scorer, config: SearchConfig,
                 state_path: Path | None = None, fingerprint: str = "",
                 on_scored: Callable[[int, int], None] | None = None, what: str = "the search space"):
        self.what = what
        self.space, self.pricer, self.scorer, self.cfg = space, pricer, scorer, config
        self.state_path, self.on_scored = state_path, on_scored
        self.state = SearchState.load(state_path, fingerprint) if state_path else SearchState(fingerprint)
        self._records: dict[str, Evaluated] = {}
        self._t0 = time.monotonic()
        self._elapsed0 = self.state.elapsed_s

    # ---- public -------------------------------------------------------------------------
    def run(self) -> EngineResult:
        if self.state.rng is None:
            self.state.rng = random.Random(self.cfg.seed).getstate()
        step = self._random_step if self.cfg.strategy == "random" else self._evolution_step
        while not self.state.done and not self._out_of_time():
            rng = random.Random()
            rng.setstate(self.state.rng)
            population = step(rng)
            before = self.state.committed
            if not self._score(population):
                break
            exhausted = self.cfg.strategy == "random" and len(self.state.memo) == before
            self.state.population = [c.key for c in population]
            self.state.generation += 1
            self.state.committed = len(self.state.memo)
            self.state.rng = rng.getstate()
            self.state.done = self._finished() or exhausted
            self._save()
        stop = "complete" if self.state.done else "time budget"
        self.state.stop_reason = stop
        self._save()
        return EngineResult(self._evaluated(), self.state.generation, self.state.elapsed_s, stop,
                            self._predictor_stats(), self._racing_stats())

    # ---- strategies -----------------------------------------------------------------------
    def _evolution_step(self, rng: random.Random) -> list[Candidate]:
        """Elitist generation: the best n_parents so far, and n_children new candidates whose
        data configurations the niches' UCB split decides (dnasgen.search.niches)."""
        if self.state.generation == 0:
            return self._initial(rng)
        scored = self._committed()
        parents = [e.candidate for e in sorted(scored, key=Evaluated.rank_key)[:self.cfg.n_parents]]
        slots = allocate(self._niches(), scored, self.cfg.n_children, self.state.generation,
                         self.cfg.generations)
        seen = self.state.seen() | {c.key for c in parents}
        breed = self._screened if self.cfg.uses_predictor else self._bred
        kids = breed(parents, slots, rng, seen)
        kids = [c for c in kids if c.key not in seen]
        missing = self.cfg.n_children - len(kids)       # niches out of new candidates: anywhere
        if missing:
            kids += self._fresh(missing, lambda: self._mutate(parents[rng.randrange(len(parents))], rng), rng,
                                seen | {c.key for c in kids})
        return parents + kids

    def _niche_parents(self, parents: list[Candidate], data: DataConfig) -> list[Candidate]:
        """The niche's best n_parents, then the overall best moved into the niche's data config."""
        own = [e.candidate for e in by_data(self._committed()).get(data, [])[:self.cfg.n_parents]]
        moved = [replace(p, data=data) for p in parents if p.data != data]
        return own + moved

    def _bred(self, parents: list[Candidate], slots: dict[DataConfig, int], rng: random.Random,
              seen: set[str]) -> list[Candidate]:
        """Per niche, its slots of mutants (mutation_ratio of them) and crossovers of its parents,
        data configuration kept, repaired within it to fit."""
        kids: list[Candidate] = []
        for data, n in slots.items():
            pool = self._niche_parents(parents, data)

            def make(pool=pool) -> Candidate:
                a = pool[rng.randrange(len(pool))]
                if rng.random() < self.cfg.mutation_ratio or len(pool) < 2:
                    return self._mutate(a, rng, keep_data=True)
                return self.space.crossover(a, pool[rng.randrange(len(pool))], rng, fixed_data=True)
            if n:
                kids += self._fresh(n, make, rng, seen | {c.key for c in kids}, keep_data=True)
        return kids

    # ---- predictor-accelerated generation (search.predictor) ----------------------------
    def _screened(self, parents: list[Candidate], slots: dict[DataConfig, int], rng: random.Random,
                  seen: set[str]) -> list[Candidate]:
        """Per niche, its slots filled from a pool (its share of predictor_pool) of mutants,
        crossovers and samples of its parents, data configuration kept (vectorised over gene
        rows): the predictor's best unseen ones that fit, priced in predicted order."""
        import numpy as np

        from dnasgen.search.predictor import Predictor
        scored = self._committed()
        predictor = Predictor(self.space).fit([e.candidate for e in scored], [e.accuracy for e in scored])
        nrng = np.random.default_rng(rng.getrandbits(64))
        kids: list[Candidate] = []
        self.state.considered[self.state.generation] = 0
        for data, n in slots.items():
            if not n:
                continue
            share = -(-self.cfg.predictor_pool * n // self.cfg.n_children)
            genes = predictor.encoder.distinct_pool(self._niche_parents(parents, data), share, nrng,
                                                    self.cfg.mutation_prob, data)
            estimate = predictor.predict_matrix(predictor.encoder.features(genes))
            self.state.considered[self.state.generation] += len(genes)
            for i in np.argsort(-estimate, kind="stable"):
                if not n:
                    break
                cand = predictor.encoder.decode(genes[i])
                if cand.key not in seen and self.pricer.fits(cand):
                    kids.append(cand)
                    seen, n = seen | {cand.key}, n - 1
                    self.state.predicted[cand.key] = float(estimate[i])
        return kids

    def _predictor_stats(self) -> dict:
        if not self.cfg.uses_predictor:
            return {}
        from dnasgen.search.predictor import holdout_spearman, spearman
        keys = [k for k in self.state.predicted if k in self.state.memo]
        return {"considered": sum(self.state.considered.values()), "screened_scored": len(keys),
                "pool": self.cfg.predictor_pool,
                "spearman_prospective": spearman([self.state.predicted[k] for k in keys],
                                                 [self.state.memo[k] for k in keys]),
                "spearman_holdout": holdout_spearman(self.space, self.state.memo, self.cfg.seed)}

    def _niches(self) -> list[DataConfig]:
        """The data configurations searched: the fixed one, or every feasible one (space order)."""
        if self.cfg.fixed_data:
            return [self.cfg.fixed_data]
        configs = [d for d in self.space.data_configs() if data_fits(self.space, d, self.pricer)]
        if not configs:
            raise budget_error(self.what, self.pricer, [self.space.smallest(d) for d in self.space.data_configs()])
        return configs

    def _initial(self, rng: random.Random) -> list[Candidate]:
        """Generation 0, stratified: every feasible data configuration gets its share of members,
        alternately its largest network shrunk at random until it fits (the budget's frontier,
        where capacity is spent) and a random feasible one; the data configuration is kept."""
        configs = self._niches()
        rng.shuffle(configs)
        out: list[Candidate] = []
        for i in range(self.cfg.population):
            data = configs[i % len(configs)]
            frontier = (i // len(configs)) % 2 == 0
            make = (lambda: self.space.largest(data)) if frontier else (lambda: self.space.sample(rng, data=data))
            out += self._fresh(1, make, rng, self.state.seen() | {c.key for c in out}, keep_data=True)
        return out

    def _random_step(self, rng: random.Random) -> list[Candidate]:
        n = min(self.cfg.population, self.cfg.target_evaluations - self.state.committed)
        return self._fresh(n, lambda: self._sample(rng), rng)

    def _keeps_data(self, keep_data: bool) -> bool:
        return keep_data or self.cfg.fixed_data is not None

    def _mutate(self, cand: Candidate, rng: random.Random, keep_data: bool = False) -> Candidate:
        return self.space.mutate(cand, rng, self.cfg.mutation_prob, fixed_data=self._keeps_data(keep_data))

    def _sample(self, rng: random.Random) -> Candidate:
        return self.space.sample(rng, data=self.cfg.fixed_data)

    def _finished(self) -> bool:
        if self.cfg.strategy == "random":
            return self.state.committed >= self.cfg.target_evaluations
        return self.state.generation > self.cfg.generations

    # ---- constraint-first generation ----------------------------------------------------
    def _feasible(self, make: Callable[[], Candidate], rng: random.Random,
                  keep_data: bool = False) -> Candidate | None:
        cand = make()
        if self.pricer.fits(cand):
            return cand
        return repair(self.space, cand, self.pricer, rng, fixed_data=self._keeps_data(keep_data))

    def _fresh(self, n: int, make: Callable[[], Candidate], rng: random.Random,
               seen: set[str] | None = None, keep_data: bool = False) -> list[Candidate]:
        """n feasible candidates, new ones (not in seen or the memo) whenever attempts allow;
        keep_data: repairs and re-mutations keep each made candidate's data configuration."""
        seen = self.state.seen() if seen is None else set(seen)
        out: list[Candidate] = []
        tried: list[Candidate] = []
        for _ in range(n):
            fallback = None
            for _ in range(self.cfg.attempts):
                cand = self._feasible(make, rng, keep_data)
                if cand is not None and cand.key in seen:   # a known one: mutate it away
                    cand = self._feasible(lambda c=cand: self._mutate(c, rng, keep_data), rng, keep_data)
                if cand is None:
                    continue
                fallback = fallback or cand
                if cand.key not in seen:
                    break
            else:
                cand = fallback
            if cand is None:
                tried.append(make())
                continue
            seen.add(cand.key)
            out.append(cand)
        if n and not out:
            raise budget_error(self.what, self.pricer, tried)
        return out

    # ---- scoring ------------------------------------------------------------------------
    def _score(self, population: list[Candidate]) -> bool:
        """Score the population's new candidates (racing first when configured); False when time ran out."""
        todo = list({c.key: c for c in population if c.key not in self.state.memo}.values())
        keep = max(1, math.ceil(self.cfg.race_keep * len(todo)))
        if self.cfg.race_samples and hasattr(self.scorer, "race_many") and keep < len(todo):
            return self._race(todo, keep)
        return self._chunks(todo, self.scorer.score_many, self.state.memo)

    def _chunks(self, todo: list[Candidate], score: Callable, into: dict[str, float]) -> bool:
        """Score todo's candidates not yet in `into`, in chunks, saving the state after each."""
        todo = [c for c in todo if c.key not in into]
        for i in range(0, len(todo), self.cfg.chunk):
            if self._out_of_time():
                return False
            part = todo[i:i + self.cfg.chunk]
            for cand, acc in zip(part, score(part)):
                into[cand.key] = float(acc)
            self._save()
            if self.on_scored:
                self.on_scored(len(self.state.memo), self.cfg.target_evaluations)
        return True

    def _race(self, todo: list[Candidate], keep: int) -> bool:
        """Successive halving: all of todo on the race stage (race_samples validation images, BN
        recalibrated on race_recal), the best `keep` by race score (ties: todo order) in full; the
        others keep their race score (parents may use it; the choice and the report never do)."""
        cfg, race = self.cfg, self.state.race
        if not self._chunks(todo, lambda part: self.scorer.race_many(part, cfg.race_samples, cfg.race_recal), race):
            return False
        best = sorted(range(len(todo)), key=lambda i: (-race[todo[i].key], i))[:keep]
        if not self._chunks([todo[i] for i in sorted(best)], self.scorer.score_many, self.state.memo):
            return False
        for cand in todo:
            if cand.key not in self.state.memo:
                self.state.memo[cand.key] = race[cand.key]
                self.state.partial.append(cand.key)
        return True

    def _racing_stats(self) -> dict:
        if not self.cfg.race_samples:
            return {}
        return {"race_samples": self.cfg.race_samples, "race_keep": self.cfg.race_keep,
                "race_recal_samples": self.cfg.race_recal, "raced": len(self.state.race),
                "race_only": len(self.state.partial), "full": len(self.state.memo) - len(self.state.partial)}

    def _out_of_time(self) -> bool:
        self.state.elapsed_s = self._elapsed0 + time.monotonic() - self._t0
        return self.cfg.time_budget_s is not None and self.state.elapsed_s >= self.cfg.time_budget_s

    def _save(self) -> None:
        self._out_of_time()
        if self.state_path:
            self.state.save(self.state_path)

    def _record(self, key: str) -> Evaluated:
        """The scored candidate as an Evaluated (made once: a memo entry never changes)."""
        if key not in self._records:
            cand = Candidate.from_json(key)
            self._records[key] = Evaluated(cand, self.state.memo[key], self.pricer.cost(cand))
        return self._records[key]

    def _committed(self) -> list[Evaluated]:
        """The candidates scored before the current generation began (a resumed one sees the same)."""
        return [self._record(k) for k in list(self.state.memo)[:self.state.committed]]

    def _evaluated(self) -> list[Evaluated]:
        """The fully scored candidates (a race-only score is on fewer images: not comparable)."""
        partial = set(self.state.partial)
        return [self._record(k) for k in self.state.memo if k not in partial]
