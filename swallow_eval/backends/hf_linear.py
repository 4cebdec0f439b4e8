"""The fp32 linear layers of a model's body through oneDNN on CPU, with prefix sharing.

torch hands an fp32 linear layer on CPU to MKL's sgemm. On this project's machines (AMD EPYC, AVX-512)
oneDNN's kernels, which torch ships and uses for bf16, run the same products faster: the body's 126
products of Gemma 3 270M take 40 ms against MKL's 70 at 13 rows (a decoding step), 400 against 490 ms at
360 rows (bench figures in the README). They sum the same terms in another order, so results equal
MKL's to the last bits, not bit for bit: like the attention over visible keys (hf_attention.py) they are
used on the prefix-sharing path only, and `--no-prefix-sharing` keeps MKL's products. oneDNN splits a
product's rows and columns among threads, never its sums, so its bits do not depend on the thread count
(tests/test_hf_decoding.py), as MKL's do not under MKL_CBWR (swallow_eval/__init__.py).

The output head is left alone: the screen (hf_head.py) relies on its candidates' logits being the full
head's, and log-likelihoods take it on a few rows only.
"""

from __future__ import annotations

import types

import torch


def onednn_available(model) -> bool:
    """Whether the model runs on a CPU where torch has oneDNN's pointwise linear operator."""
    return (model.device.type == "cpu" and torch.backends.mkldnn.is_available()
            and hasattr(torch.ops.mkldnn, "_linear_pointwise"))


def _onednn_forward(self: torch.nn.Linear, hidden: torch.Tensor) -> torch.Tensor:
    return torch.ops.mkldnn._linear_pointwise(hidden, self.weight, self.bias, "none", [], "")


def use_onednn(model, on: bool) -> None:
    """Route the fp32 linear layers of the model's body through oneDNN (`on`) or back to torch's own. A layer
    whose forward something else replaced (an accelerate hook) is left as it is."""
    for module in model.base_model.modules():
        if not isinstance(module, torch.nn.Linear) or module.weight.dtype != torch.float32:
            continue
        installed = vars(module).get("forward")
        if installed is not None and getattr(installed, "__func__", None) is not _onednn_forward:
            continue
        if on:
            module.forward = types.MethodType(_onednn_forward, module)
        else:
            vars(module).pop("forward", None)
