"""What a vLLM engine computes for one request: typed jobs of token ids, each knowing its
vllm.SamplingParams and how to read its result from a vllm RequestOutput."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class NextTokenJob:
    """Log-probabilities of the `candidates` as the token after `ids` (choices of one token)."""

    ids: tuple[int, ...]
    candidates: tuple[int, ...]

    def sampling_params(self):
        from vllm import SamplingParams

        return SamplingParams(max_tokens=1, temperature=0.0, logprob_token_ids=list(self.candidates),
                              detokenize=False)

    def result(self, output) -> tuple[int, dict[int, float]]:
        """The greedy next token, and each candidate's log-probability."""
        logprobs = output.outputs[0].logprobs[0]
        return output.outputs[0].token_ids[0], {token: logprobs[token].logprob for token in self.candidates}


@dataclass(frozen=True)
class ScoreJob:
    """Log-probabilities and ranks of the prompt's own tokens from position `first` on (longer
    continuations)."""

    ids: tuple[int, ...]
    first: int

    def sampling_params(self):
        from vllm import SamplingParams

        return SamplingParams(max_tokens=1, temperature=0.0, prompt_logprobs=0, detokenize=False)

    def result(self, output) -> list[tuple[float, int]]:
        return [(entry[self.ids[p]].logprob, entry[self.ids[p]].rank)
                for p, entry in enumerate(output.prompt_logprobs) if p >= self.first]


@dataclass(frozen=True)
class GenerateJob:
    """Samples after `ids`; `params` are vllm.SamplingParams' arguments."""

    ids: tuple[int, ...]
    params: dict

    def sampling_params(self):
        from vllm import SamplingParams

        # Stop strings are matched on detokenized text; without them decoding happens once, afterwards.
        return SamplingParams(**self.params, detokenize=bool(self.params["stop"]), skip_special_tokens=True)

    def result(self, output) -> list[list[int]]:
        """The generated token ids of each sample."""
        return [list(sample.token_ids) for sample in output.outputs]


Job = NextTokenJob | ScoreJob | GenerateJob
