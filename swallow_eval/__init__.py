"""swallow-eval: the Swallow model card's benchmarks in one harness."""

__version__ = "0.1.0"
