"""Verify: build a generated project (host, Cortex-M4 in QEMU), check bit-exactness, measure size."""
from dnasgen.verify.project import (VerifyReport, format_report, parse_size, score_lines,
                                    toolchain_available, verify_project)

__all__ = ["VerifyReport", "format_report", "parse_size", "score_lines", "toolchain_available",
           "verify_project"]
