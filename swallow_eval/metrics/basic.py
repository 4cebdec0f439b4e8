"""Metrics shared by many tasks."""

from swallow_eval.metrics import item_metric


@item_metric("exact_match")
def exact_match(prediction, reference) -> float:
    """1 if the prediction string equals the reference (sklearn accuracy_score in llm-jp-eval)."""
    return float(prediction == reference)


@item_metric("acc")
def accuracy(prediction, reference) -> float:
    """1 if the chosen option (argmax log-likelihood) is the gold index (lm-eval `acc`)."""
    return float(prediction == reference)
