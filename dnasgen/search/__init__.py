"""Data-aware search: constraint-first evolution over (data configuration, architecture),
the hardware-aware and random baselines, Pareto fronts, fine-tuning and the report.

Light at import time: torch and matplotlib are imported only when scoring, fine-tuning or
plotting actually runs.
"""
from dnasgen.search.engine import STRATEGIES, Engine, Scorer, SearchConfig
# Imported here, not lazily: the first import of the submodule dnasgen.search.finetune (by the CLI,
# the pipeline) would otherwise rebind the package attribute `finetune` from the function to the module.
from dnasgen.search.finetune import finetune, finetune_candidate
from dnasgen.search.pareto import Evaluated, choose, pareto_front
from dnasgen.search.result import ComparisonTable, SearchResult
from dnasgen.search.runner import compare, load_result, run_search

__all__ = ["run_search", "compare", "load_result", "finetune", "finetune_candidate", "SearchResult", "ComparisonTable",
           "Evaluated", "Engine", "SearchConfig", "Scorer", "STRATEGIES", "choose", "pareto_front"]

