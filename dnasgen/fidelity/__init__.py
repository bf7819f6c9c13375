"""Ranking fidelity: the search's fitness against stand-alone training (`dnasgen fidelity SPEC`)."""
from dnasgen.fidelity.runner import PAPER_STEPS, fidelity_spec, format_fidelity, run_fidelity

__all__ = ["run_fidelity", "fidelity_spec", "format_fidelity", "PAPER_STEPS"]
