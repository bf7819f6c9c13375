"""The lock's `model_tools`: the versions of the tools that made the model, as recorded; never the
generating machine's compilers, and never re-read from the machine when a lock is regenerated."""
from __future__ import annotations

import importlib.metadata

from dnasgen.codegen.project import model_tools
from dnasgen.pipeline.fromlock import recorded_tools

V1_TOOLS = {"dnasgen": "0.1.0", "numpy": "2.4.6", "jinja2": "3.1.6", "torch": "2.13.0+cpu",
            "tensorflow-cpu": "2.21.0", "ai-edge-litert": "2.3.0",
            "gcc": "gcc (Debian 12.2.0-14+deb12u1) 12.2.0",
            "arm-none-eabi-gcc": "arm-none-eabi-gcc (15:12.2.rel1-1) 12.2.1 20221205",
            "qemu-system-arm": "QEMU emulator version 7.2.22"}


def test_a_version_1_lock_keeps_only_the_model_tools():
    assert model_tools(recorded_tools({"version": 1, "tools": V1_TOOLS})) == {
        "torch": "2.13.0+cpu", "tensorflow-cpu": "2.21.0", "ai-edge-litert": "2.3.0"}


def test_recorded_versions_are_carried_over_not_read_from_this_machine():
    recorded = {"ai-edge-litert": "0.9", "torch": "1.0"}
    lock = {"model_tools": recorded, "tools": {"torch": "ignored"}}
    assert model_tools(recorded_tools(lock)) == {"torch": "1.0", "ai-edge-litert": "0.9"}
    assert model_tools(recorded_tools({})) == {}          # nothing recorded: nothing filled in


def test_a_fresh_model_records_the_installed_versions():
    tools = model_tools(None)
    assert tools["torch"] == importlib.metadata.version("torch")
    assert tools["ai-edge-litert"] == importlib.metadata.version("ai-edge-litert")
