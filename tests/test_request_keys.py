"""Request cache keys are a stored contract: response caches written by earlier releases stay valid.

The digests were computed with the release before GenerateRequest carried one GenerationSettings
object (when its settings were flat fields of the request); they must never change.
"""

from __future__ import annotations

import dataclasses

import pytest

from swallow_eval.requests import GenerateRequest, GenerationSettings, LoglikelihoodRequest

PINNED = {
    "529d82576fa998e7c789aec448f39bc9333bfe306a6cf77e77de5b9ade78c1e1":
        GenerateRequest("Q: 1+1?\nA:", GenerationSettings(256, stop=("\n", ".")), add_bos=True),
    "8b5ee7251bb408201054a97da147e542679b7cda9f1e26cfba3d176e9babc5db":
        GenerateRequest("def f():\n", GenerationSettings(1024, stop=("\ndef", "\nclass"), n=10, temperature=0.2,
                                                         top_p=0.95, seed=0, max_total_tokens=1024)),
    "be4fbabb244eb98719fd8b6e8b3d1c48bd99cabc85cb90d8364e20312e6cabe4":
        GenerateRequest("", GenerationSettings(1024, temperature=0.7),
                        messages=(("system", "あなたは"), ("user", "日本の首都は？"))),
    "1891c76f0e661b0090440e1eab52f8cd88a154bbd3a439b104ef5defe83396cf":
        GenerateRequest("", GenerationSettings(2048, top_p=None, top_k=None), messages=(("user", "judge this"),)),
    "63bde10ed1e7658e82b8cbc4bfb59fb1d8300349d024edbc9653a2caecf01974":
        GenerateRequest("質問：", GenerationSettings(100, stop=("\n",), max_prompt_tokens=1948)),
    "f2698bf3d33e0c501042ecb768c4bba941cda33653896444ca03fd335240ef1a":
        LoglikelihoodRequest("Question: x\nAnswer:", " yes", True),
}


@pytest.mark.parametrize("digest", PINNED)
def test_key_is_unchanged(digest):
    assert PINNED[digest].key() == digest


def test_every_setting_changes_the_key():
    base = GenerateRequest("p", GenerationSettings(8))
    changes = {"max_new_tokens": 9, "stop": ("\n",), "n": 2, "temperature": 0.5, "top_p": None, "top_k": None,
               "seed": 1, "max_total_tokens": 64, "max_prompt_tokens": 4}
    assert set(changes) == {f.name for f in dataclasses.fields(GenerationSettings)}
    keys = {dataclasses.replace(base, settings=dataclasses.replace(base.settings, **{name: value})).key()
            for name, value in changes.items()}
    keys |= {dataclasses.replace(base, prompt="q").key(), dataclasses.replace(base, add_bos=True).key(),
             dataclasses.replace(base, messages=(("user", "p"),)).key(), base.key()}
    assert len(keys) == len(changes) + 4
