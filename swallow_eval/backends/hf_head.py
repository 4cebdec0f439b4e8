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
import ctypes
import mmap
from contextlib import contextmanager

import torch
from transformers import StoppingCriteria

BF16_UNIT = 2.0**-8  # unit roundoff of bf16 (8 significant bits)
FP32_UNIT = 2.0**-24
ROWS_PER_CHUNK = 16384  # rows of the head copied to bf16 at once
RELEASE_EVERY = 16  # decoding steps between releases of the fp32 head's pages that candidates read back


class ScreenedHead(torch.nn.Module):
    """A bias-free fp32 output head whose logits outside the argmax's candidates are -inf."""

    def __init__(self, head: torch.nn.Linear):
        super().__init__()
        self.weight = weight = head.weight.detach()
        self.low = torch.empty(weight.shape, dtype=torch.bfloat16, device=weight.device)
        largest = 0.0
        for start in range(0, len(weight), ROWS_PER_CHUNK):  # a chunk at a time, its mapped pages released after
            rows = weight[start : start + ROWS_PER_CHUNK]
            self.low[start : start + ROWS_PER_CHUNK] = rows
            largest = max(largest, float(rows.norm(dim=1).max()))
            release_mapped_pages(rows)
        # |bf16 logit - fp32 logit| <= slack x |h| (Cauchy-Schwarz on sum_i |h_i w_ji|, |w_j| <= the largest row
        # norm): rounding h and w to bf16 (2u), the bf16 product's output (u), the fp32 accumulations of both
        # products (K x 2^-24 each); doubled for margin.
        self.slack = (4 * BF16_UNIT + 4 * weight.shape[1] * FP32_UNIT) * largest
        self.releasable, self.steps = release_mapped_pages(weight), 0
        self.finished: FinishedRows | None = None  # the rows generate() has finished, during a call

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        flat = hidden.reshape(-1, hidden.shape[-1])
        approx = torch.nn.functional.linear(flat.to(torch.bfloat16), self.low).float()
        best = approx.max(dim=1, keepdim=True).values
        # A token can beat the best one only if its upper bound reaches the best one's lower bound.
        within = approx >= best - 2 * self.slack * flat.norm(dim=1, keepdim=True)
        finished = self.finished.rows if self.finished is not None else None
        if finished is not None and len(finished) == len(flat):  # padded whatever their logits: one candidate
            within &= ~finished[:, None] | (approx == best)
        if not bool(within.any(dim=1).all()):  # non-finite hidden states: no bound holds
            return torch.nn.functional.linear(hidden, self.weight)
        columns = within.any(dim=0).nonzero()[:, 0]
        exact = torch.nn.functional.linear(flat, self.weight[columns])
        self.steps += 1
        if self.releasable and self.steps % RELEASE_EVERY == 0:  # candidate rows read back since
            release_mapped_pages(self.weight)
        logits = torch.full_like(approx, float("-inf"))
        logits[:, columns] = exact.masked_fill(~within[:, columns], float("-inf"))
        return logits.reshape(*hidden.shape[:-1], -1)


class FinishedRows(StoppingCriteria):
    """A stopping criterion for generate(): end-of-sequence tokens or the stop strings' criteria (a
    StoppingCriteriaList), recording which rows have stopped. generate() pads those rows whatever their
    logits, so the screen gives them one candidate: a finished row's hidden states are padding's, whose
    bounds can admit most of the vocabulary (114,530 tokens at one step of a GSM8K batch)."""

    def __init__(self, stop_strings, eos_ids):
        super().__init__()
        self.stop_strings, self.eos_ids = stop_strings, torch.tensor(sorted(eos_ids), dtype=torch.long)
        self.rows: torch.Tensor | None = None

    def __call__(self, input_ids: torch.Tensor, scores, **kwargs) -> torch.Tensor:
        done = torch.isin(input_ids[:, -1], self.eos_ids.to(input_ids.device))
        if len(self.stop_strings):
            done = done | self.stop_strings(input_ids, scores, **kwargs)
        self.rows = done if self.rows is None else self.rows | done
        return done


def release_mapped_pages(tensor: torch.Tensor) -> bool:
    """Drop a tensor's pages from the process where every one is a clean page of a mapped file (a checkpoint
    loaded without conversion): while the screen decodes, the fp32 head is read only at a few candidate
    and input rows, which fault back from the page cache, as the whole head does when next used. Memory
    of any other kind (a copy, a page written since mapping, a GPU's) is left alone: dropping it would lose data."""
    if tensor.device.type != "cpu" or not hasattr(mmap, "MADV_DONTNEED"):
        return False
    first = -(-tensor.data_ptr() // mmap.PAGESIZE) * mmap.PAGESIZE
    last = (tensor.data_ptr() + tensor.numel() * tensor.element_size()) // mmap.PAGESIZE * mmap.PAGESIZE
    if last <= first or not _file_pages(first, last):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    return libc.madvise(ctypes.c_void_p(first), ctypes.c_size_t(last - first), mmap.MADV_DONTNEED) == 0


def _file_pages(first: int, last: int) -> bool:
    """Whether the address range lies in one file mapping and each of its pages is absent or the file's own
    (/proc/self/pagemap: bit 63 present, 62 swapped, 61 a file page): none was copied on write."""
    try:
        with open("/proc/self/maps") as maps:
            mapping = next((line.split() for line in maps if _covers(line.split()[0], first, last)), None)
        if mapping is None or len(mapping) < 6 or mapping[4] == "0":  # inode 0: anonymous memory
            return False
        with open("/proc/self/pagemap", "rb") as pagemap:
            pagemap.seek(first // mmap.PAGESIZE * 8)
            entries = torch.frombuffer(bytearray(pagemap.read((last - first) // mmap.PAGESIZE * 8)), dtype=torch.int64)
    except OSError:
        return False
    present, swapped, file_page = ((entries >> bit) & 1 for bit in (63, 62, 61))
    return bool(((swapped == 0) & ((present == 0) | (file_page == 1))).all())


def _covers(addresses: str, first: int, last: int) -> bool:
    low, high = (int(bound, 16) for bound in addresses.split("-"))
    return low <= first and last <= high


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
        screen.finished = None
