"""Cost model: MACs, params, flash, RAM from THE memory planner, estimated latency.

No torch / tensorflow here: the search prices thousands of candidates with it and
`dnasgen plan` / `dnasgen estimate` must start fast.
"""
from dnasgen.cost.memory import MemoryPlan, lifetimes, mcunet_peak, plan_arena, plan_graph
from dnasgen.cost.footprint import footprint_table
from dnasgen.cost.model import GraphCost, estimate, estimate_spec, graph_cost, graph_cost_of, latency_table
from dnasgen.cost.files import estimate_file, read_candidate
from dnasgen.cost.report import REPORT_KEYS, CostReport, OpCost, budget_violations, format_report

__all__ = ["MemoryPlan", "lifetimes", "mcunet_peak", "plan_arena", "plan_graph", "GraphCost", "estimate",
           "estimate_spec", "footprint_table", "graph_cost", "graph_cost_of", "latency_table",
           "estimate_file", "read_candidate", "REPORT_KEYS", "CostReport", "OpCost", "budget_violations", "format_report"]
