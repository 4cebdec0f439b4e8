"""swallow-eval: the Swallow model card's benchmarks in one harness."""

import os

# MKL's strict reproducibility mode: fp32 matrix products give the same bits whatever the number of
# threads (without it, an hf replica on 1 of 2 cores differs from a 2-thread run in the 6th digit).
# Read by MKL at its first call, so setting it here, before any model runs, is enough.
os.environ.setdefault("MKL_CBWR", "AUTO,STRICT")

__version__ = "0.1.0"
