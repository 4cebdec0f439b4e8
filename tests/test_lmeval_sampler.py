"""lm-eval's few-shot samplers (en-tasks.md Appendix A)."""

import random

from swallow_eval.families.lmeval import FirstNSampler, RandomSampler, fewshot_block, jinja


def test_random_sampler_advances_one_generator_over_docs():
    pool = [{"id": i} for i in range(50)]
    sampler = RandomSampler(pool, 4)
    reference = random.Random(1234)
    for doc in ({"id": 100}, {"id": 101}, {"id": 102}):
        assert sampler.shots(doc) == [pool[i] for i in reference.sample(range(50), 4)]


def test_random_sampler_drops_the_doc_itself():
    pool = [{"id": i} for i in range(5)]
    shots = RandomSampler(pool, 4).shots(pool[random.Random(1234).sample(range(5), 4)[0]])
    assert len(shots) == 3  # XWINO: the pool is the test set, so some items get 3 shots


def test_first_n_and_rendering():
    assert FirstNSampler([1, 2, 3, 4, 5, 6], 5).shots(None) == [1, 2, 3, 4, 5]
    assert fewshot_block([("Q1", "A1"), ("Q2", "A2")]) == "Q1 A1\n\nQ2 A2\n\n"
    assert jinja("x\n\n") == "x\n" and jinja("x") == "x"


def test_random_sampler_extra_draw_advances_the_generator_by_n_plus_one():
    """lm-eval draws n + 1 when fewshot_split == test_split, None == None included (HellaSwag)."""
    pool = [{"id": i} for i in range(50)]
    sampler = RandomSampler(pool, 4, draw_extra=True)
    reference = random.Random(1234)
    for doc in ({"id": 100}, {"id": 101}, {"id": 102}):
        assert sampler.shots(doc) == [pool[i] for i in reference.sample(range(50), 5)][:4]


def test_first_n_drops_the_doc_itself():
    assert FirstNSampler([1, 2, 3, 4, 5, 6], 5).shots(3) == [1, 2, 4, 5]
