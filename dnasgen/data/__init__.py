"""Datasets, sensor simulation and THE integer preprocessing reference (see preprocess.py).

Public API: `normalize(u8)`, `open_dataset(spec, cache_dir=None) -> DataBundle`.
"""
from __future__ import annotations

from dnasgen.data.preprocess import normalize, preprocess_frame, quantize_table

__all__ = ["normalize", "preprocess_frame", "quantize_table", "open_dataset", "DataBundle"]


def __getattr__(name: str):
    if name in ("open_dataset", "DataBundle"):
        from dnasgen.data import bundle
        return getattr(bundle, name)
    raise AttributeError(name)
