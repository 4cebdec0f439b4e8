"""The tokenizer side the local backends share, on the real proxy tokenizer (no weights loaded)."""

import gc
import weakref

import pytest

from swallow_eval.backends.base import TokenizingBackend, generation_config, load_tokenizer, model_info
from swallow_eval.errors import UserError
from swallow_eval.requests import GenerateRequest, GenerationSettings, LoglikelihoodRequest


class Side(TokenizingBackend):
    name = "side"

    def __init__(self, model, chat_template=None):
        tokenizer, config = load_tokenizer(model)
        self._set_tokenizer(model, tokenizer, config, generation_config(model.path, config), chat_template)


@pytest.fixture(scope="module")
def side(proxy_model):
    return Side(proxy_model)


def test_model_info_needs_no_weights(proxy_model, proxy_tokenizer):
    tokenizer, config = load_tokenizer(proxy_model)
    info = model_info(proxy_model.path, tokenizer, config)
    assert (info.path, info.model_type, info.tokenizer_adds_bos) == (proxy_model.path, "gemma3_text", True)
    assert info.tokenizer.bos_token_id == proxy_tokenizer.bos_token_id


def test_unloadable_checkpoint_is_a_user_error(tmp_path):
    from swallow_eval.models import ModelRef

    with pytest.raises(UserError, match="--model missing: cannot load its tokenizer"):
        load_tokenizer(ModelRef("missing", "missing", str(tmp_path / "missing"), "x"))


def test_encode_cache_belongs_to_the_instance(proxy_model, proxy_tokenizer):
    first, second = Side(proxy_model), Side(proxy_model)
    expected = proxy_tokenizer("Answer: skin", add_special_tokens=False).input_ids
    assert first._encode("Answer: skin") == first._encode("Answer: skin") == expected
    assert (first._encoded.cache_info().hits, second._encoded.cache_info().currsize) == (1, 0)
    alive = weakref.ref(first)
    del first
    gc.collect()
    assert alive() is None  # the cache keeps no backend alive


def test_prompt_ids_add_bos_and_keep_the_last_tokens(side):
    ids = side._encode("one two three four five six")
    request = GenerateRequest("one two three four five six", GenerationSettings(4), add_bos=True)
    assert side._prompt_ids(request, None) == ([side.bos_id] + ids, 4)
    assert side._prompt_ids(request, 7) == (([side.bos_id] + ids)[-3:], 4)
    capped = GenerateRequest(request.prompt, GenerationSettings(4, max_total_tokens=5))
    assert side._prompt_ids(capped, None) == (ids[-5:], 0)


def test_chat_prompts_need_a_template(proxy_model, side):
    request = GenerateRequest("", GenerationSettings(4), messages=(("user", "hi"),))
    assert not side.tokenizer.chat_template  # the proxy checkpoint ships none
    with pytest.raises(UserError, match="has no chat template; pass --chat-template"):
        side._prompt_ids(request, None)
    template = "{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}{% endfor %}<assistant>"
    templated = Side(proxy_model, chat_template=template)
    assert templated._prompt_ids(request, None) == (templated._encode("<user>hi<assistant>"), 4)
    assert templated._identity(dtype="float32") == {"backend": "side", "dtype": "float32", "chat_template": template}


def test_empty_context_becomes_eos(side):
    context, continuation = side._loglikelihood_ids(LoglikelihoodRequest("", "skin"))
    assert context == (side.eos_id,) and continuation == tuple(side._encode("skin"))


def test_decoding_stops_at_eos_padding_and_stop_strings(side):
    text = side._encode("skin. liver")
    eos = min(side.eos_ids)
    generation = side._to_generation([text + [eos] + text, text], 9, (".",))
    assert (generation.texts, generation.prompt_tokens, generation.generated_tokens) == (("skin", "skin"), 9,
                                                                                          2 * len(text))
    padded = text[:1] + [side.pad_id] + text
    assert side.pad_id not in side.eos_ids
    assert side._to_generation([padded], 0, ()).generated_tokens == len(padded)
    side.pads_finished = True  # hf: finished sequences of a batch continue with padding
    try:
        assert side._to_generation([padded], 0, ()).generated_tokens == 1
    finally:
        del side.pads_finished
