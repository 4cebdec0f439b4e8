"""Greedy decoding's argmax over the vocabulary, exact, reading the output head at a fraction of its bytes.

On a CPU a decode step of a small model is bound by the bytes of weight it reads, and a 262k
vocabulary makes the output head most of them (671 of Gemma 3 270M's 1,022 MiB in fp32). A greedy
step needs the argmax, not every logit. A bf16 copy of the head gives every logit to within a proven
bound; only the tokens whose bound reaches the best one go through the fp32 head again, in one
product with the full head's rows and shape of input, so their logits are the ones the full head
gives (bit for bit on the kernels tested). Every other logit is -inf: the argmax is unchanged, the
distribution is not, so the screen serves greedy decoding only, and only where no logits processor
changes scores before the argmax.
"""

from __future__ import annotations

import copy
from contextlib import contextmanager

import torch

BF16_UNIT = 2.0**-8  # unit roundoff of bf16 (8 significant bits)
FP32_UNIT = 2.0**-24


class ScreenedHead(torch.nn.Module):
    """A bias-free fp32 output head whose logits outside the argmax's candidates are -inf."""

    def __init__(self, head: torch.nn.Linear):
        super().__init__()
        self.weight = head.weight
        self.low = head.weight.detach().to(torch.bfloat16)
        width = head.weight.shape[1]
        # |bf16 logit - fp32 logit| <= slack x |h| (Cauchy-Schwarz on sum_i |h_i w_ji|, |w_j| <= the largest row
        # norm): rounding h and w to bf16 (2u), the bf16 product's output (u), the fp32 accumulations of both
        # products (K x 2^-24 each); doubled for margin.
        self.slack = (4 * BF16_UNIT + 4 * width * FP32_UNIT) * float(head.weight.detach().norm(dim=1).max())

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        flat = hidden.reshape(-1, hidden.shape[-1])
        approx = torch.nn.functional.linear(flat.to(torch.bfloat16), self.low).float()
        best = approx.max(dim=1, keepdim=True).values
        # A token can beat the best one only if its upper bound reaches the best one's lower bound.
        within = approx >= best - 2 * self.slack * flat.norm(dim=1, keepdim=True)
        if not bool(within.any(dim=1).all()):  # non-finite hidden states: no bound holds
            return torch.nn.functional.linear(hidden, self.weight)
        columns = within.any(dim=0).nonzero()[:, 0]
        exact = torch.nn.functional.linear(flat, self.weight[columns])
        logits = torch.full_like(approx, float("-inf"))
        logits[:, columns] = exact.masked_fill(~within[:, columns], float("-inf"))
        return logits.reshape(*hidden.shape[:-1], -1)


def screenable(model, greedy_settings: dict) -> bool:
    """Whether greedy generate() on this model takes the argmax of the head's logits unchanged: an fp32
    head without bias, a fast bf16 product on its device, and no logits processor from the model's
    generation config (repetition penalty, suppressed tokens, a minimum length, ...)."""
    head = model.get_output_embeddings()
    if not isinstance(head, torch.nn.Linear) or head.bias is not None or head.weight.dtype != torch.float32:
        return False
    if head.weight.device.type == "cpu" and not _cpu_bf16_supported():
        return False
    try:
        from transformers import LogitsProcessorList

        config = copy.deepcopy(model.generation_config)
        config.update(**greedy_settings)
        processors = model._get_logits_processor(
            generation_config=config, input_ids_seq_length=1, encoder_input_ids=None,
            prefix_allowed_tokens_fn=None, logits_processor=LogitsProcessorList(), device=head.weight.device.type,
        )
    except Exception:  # an internal API of transformers: where it differs, decode with the full head
        return False
    return len(processors) == 0


def _cpu_bf16_supported() -> bool:
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


@contextmanager
def head_replaced(model, screen: ScreenedHead | None):
    """The model with the screened output head for the duration (restored after, errors included)."""
    if screen is None:
        yield
        return
    head = model.get_output_embeddings()
    model.set_output_embeddings(screen)
    try:
        yield
    finally:
        model.set_output_embeddings(head)
