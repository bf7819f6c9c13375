"""Data-aware search: constraint-first evolution over (data configuration, architecture),
the hardware-aware and random baselines, Pareto fronts, fine-tuning and the report.

Light at import time: torch and matplotlib are imported only when scoring, fine-tuning or
plotting actually runs.
"""
from dnasgen.search.engine import STRATEGIES, Engine, Scorer, SearchConfig
from dnasgen.search.pareto import Evaluated, choose, pareto_front
from dnasgen.search.result import ComparisonTable, SearchResult
from dnasgen.search.runner import compare, load_result, run_search

__all__ = ["run_search", "compare", "load_result", "finetune", "finetune_candidate", "SearchResult", "ComparisonTable",
           "Evaluated", "Engine", "SearchConfig", "Scorer", "STRATEGIES", "choose", "pareto_front"]


def finetune(spec, workdir, candidate=None):
    """Fine-tune the chosen candidate (see dnasgen.search.finetune)."""
    from dnasgen.search.finetune import finetune as _finetune
    return _finetune(spec, workdir, candidate)


def finetune_candidate(spec, supernet_path, candidate, bundle, out_dir, **kwargs):
    """Fine-tune a candidate from a supernet checkpoint into out_dir (see dnasgen.search.finetune)."""
    from dnasgen.search.finetune import finetune_candidate as _finetune_candidate
    return _finetune_candidate(spec, supernet_path, candidate, bundle, out_dir, **kwargs)
