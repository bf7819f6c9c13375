"""Integration tests train and score with one torch thread unless DNASGEN_THREADS says otherwise.

The default (all available cores, dnasgen.train.runtime) is right for a machine of one's own;
on a shared CI box with every core busy, OpenMP threads waiting on a descheduled sibling make
training up to ~50x slower. One thread gives the same results everywhere and never stalls.
"""
import os

os.environ.setdefault("DNASGEN_THREADS", "1")
