"""`dnasgen plan`: compile a spec into a SearchPlan (space size, per-data-config floors,
fraction of candidates that fit each budget, cheapest / largest feasible candidate).
No torch / tensorflow on this path."""
from dnasgen.plan.make import DEFAULT_SAMPLES, default_plan_path, make_plan, plan_spec
from dnasgen.plan.model import PLAN_VERSION, DataConfigPlan, Pick, SearchPlan, read_plan, write_plan
from dnasgen.plan.render import format_plan

__all__ = ["DEFAULT_SAMPLES", "default_plan_path", "make_plan", "plan_spec", "PLAN_VERSION",
           "DataConfigPlan", "Pick", "SearchPlan", "read_plan", "write_plan", "format_plan"]
