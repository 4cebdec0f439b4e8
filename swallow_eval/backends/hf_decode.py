"""Greedy decoding for the hf backend: transformers' generate() loop without its per-step extras.

generate() copies each step's vocabulary-sized logits, runs a logits-processor list and grows a
position-id tensor; on a 262k vocabulary the copy alone costs about as much as the argmax. `greedy`
feeds the model exactly what generate() feeds it (same cache class, positions from the attention mask,
mask dropped when it has no padding, logits_to_keep=1), takes the same argmax, and stops as it does
(max length, EOS, the stopping criteria; finished rows continue with padding). `plain_greedy` says
when that holds: where the model's generation config adds logits processors or another cache, the
backend keeps generate().
"""

from __future__ import annotations

import copy

import torch


def hf_generate(model, input_ids, mask, max_new: int, stopping, pad_id: int, eos_ids: list[int], **sampling):
    """transformers' generate() with the backend's settings: sampling, and greedy decoding where
    `greedy` does not apply (the path `greedy` is compared with)."""
    if not sampling.get("do_sample"):
        sampling.update(temperature=None, top_p=None, top_k=None)
    return model.generate(
        input_ids=input_ids.to(model.device), attention_mask=mask.to(model.device), max_new_tokens=max_new,
        stopping_criteria=stopping, pad_token_id=pad_id, eos_token_id=eos_ids, **sampling,
    )


def plain_greedy(model, pad_id: int, eos_ids: list[int]) -> bool:
    """Whether generate() would decode greedily exactly as `greedy` does: a decoder-only model taking
    logits_to_keep, the default dynamic cache, and no logits processor from its generation config."""
    config = copy.deepcopy(model.generation_config)
    config.update(do_sample=False, temperature=None, top_p=None, top_k=None, pad_token_id=pad_id, eos_token_id=eos_ids)
    if config.do_sample or (config.num_beams or 1) != 1 or config.cache_implementation not in (None, "dynamic"):
        return False
    if model.config.is_encoder_decoder or not model._supports_logits_to_keep():
        return False
    return len(model._get_logits_processor(generation_config=config, device=model.device, model_kwargs={})) == 0


def greedy(model, input_ids, mask, max_new: int, stopping, pad_id: int, eos_ids: list[int], past_key_values=None):
    """Prompt + greedy continuation ids (as generate() returns them) for left-padded `input_ids`;
    `past_key_values` holds a cache of the prompts' first tokens when they share a prefix."""
    from transformers import DynamicCache

    device = model.device
    ids, mask = input_ids.to(device), mask.to(device)
    batch = ids.shape[0]
    positions = (mask.cumsum(-1) - 1).masked_fill(mask == 0, 0)
    attention = None if bool((mask == 1).all()) else mask  # generate() drops a mask without padding
    cache = past_key_values if past_key_values is not None else DynamicCache(config=model.config.get_text_config(decoder=True))
    seen = cache.get_seq_length()
    step_ids, step_positions = ids[:, seen:], positions[:, seen:]
    eos = torch.tensor(eos_ids, device=device)
    unfinished = torch.ones(batch, dtype=torch.bool, device=device)
    for _ in range(max_new):
        logits = model(input_ids=step_ids, attention_mask=attention, position_ids=step_positions,
                       past_key_values=cache, use_cache=True, logits_to_keep=1).logits
        tokens = logits[:, -1].argmax(dim=-1).masked_fill(~unfinished, pad_id)
        ids = torch.cat([ids, tokens[:, None]], dim=-1)
        unfinished &= ~torch.isin(tokens, eos) & ~stopping(ids, None)
        if not bool(unfinished.any()):
            break
        if attention is not None:
            attention = torch.cat([attention, attention.new_ones((batch, 1))], dim=-1)
        step_ids, step_positions = tokens[:, None], step_positions[:, -1:] + 1
    return ids
