"""Golden prompts of the English log-likelihood tasks (en-tasks.md §2.1, 2.3, 2.5, 2.6).

The real data for OpenBookQA, XWINO and MMLU; hand-written fixtures for HellaSwag. Every item of
the four tasks was also built by lm-evaluation-harness 0.4.2 itself from the same documents and
compared byte for byte (bench/lmeval_crosscheck.py --prompts: all identical).
"""

from collections import Counter

from conftest import FIXTURES
from golden import digest, prompt_rows


def same_context(context: str, continuations: list[str]) -> list[list[str]]:
    return [[context, continuation] for continuation in continuations]


def same_continuation(prefix: str, choices: list[str], continuation: str) -> list[list[str]]:
    """XWINO's partial scoring: each choice ends its own context, the rest of the sentence is scored."""
    return [[prefix + choice, continuation] for choice in choices]


OPENBOOKQA_FIRST = (
    "if a book was intact on the desk in the morning, but in shreds in the afternoon, what happened? it underwent a tearing process\n\n"
    "What is a thermometer used to measure? warmness\n\n"
    "Which animal lacks the ability to see by sensing light? Southern cave crayfish\n\n"
    "Precipitation is when hail fall from clouds to the ground, and so is sprinkles\n\n"
    "A person wants to start saving money so that they can afford a nice vacation at the end of the year. After looking over their budget and expenses, they decide the best way to save money is to"
)
OPENBOOKQA_LAST = (
    "What does the earth orbit that makes the seasons to change? plasma star\n\n"
    "A barracuda will be able to raise its own offspring because it is alive\n\n"
    "Organisms can be preserved in Sandstone\n\n"
    "Which would block the most sunlight? a mighty oak\n\n"
    "Some animals use a liquid coming from their skin to adjust to"
)


def test_openbookqa(shared_data):
    rows = prompt_rows("openbookqa", shared_data)
    assert len(rows) == 500
    assert rows[0] == {"index": 0, "gold": 1, "requests": same_context(OPENBOOKQA_FIRST, [
        " make more phone calls", " quit eating lunch out", " buy less with monopoly money", " have lunch with friends"])}
    assert rows[-1] == {"index": 499, "gold": 2, "requests": same_context(OPENBOOKQA_LAST, [
        " cold", " water", " heat", " humidity"])}
    assert Counter(r["gold"] for r in rows) == {0: 138, 1: 126, 2: 132, 3: 104}
    assert digest(rows) == "7c7c34448a1a14d9aabdf1561f2acd3128f52f3c8cc5a76fa947e1fbce69fc6a"


XWINO_FIRST = (
    "Donald kicked King but King never cried.\n\n"
    "The professor grading the student's paper said that The professor loved it.\n\n"
    "The firemen arrived after the police because The firemen were coming from so far away.\n\n"
    "After a somewhat lengthy conversation, Nancy convinced the housekeeper that there was no immediate cause for alarm. Nancy did not mention the incident at the Hamilton bus station, knowing it would only add to Mrs. Gruen’s uneasiness.\n\n"
    "The city councilmen refused the demonstrators a permit because "
)
XWINO_LAST = (
    "Joe paid the detective after Joe received the final report on the case.\n\n"
    "Ryan has much less hair than Gary, so Gary has to cut his hair constantly.\n\n"
    "Morpheous believed Neo was \"the one\", because Morpheous was fortold by the Oracle this would happen.\n\n"
    "The patrons enjoyed the food made by the chefs immensely, so The patrons paid very well to enjoy this meal.\n\n"
    "Saudi Arabians do not respect the Bangladeshis because "
)
# Items whose own schema was among the 4 drawn shots: lm-eval drops it and they get 3.
XWINO_THREE_SHOTS = [155, 695, 707, 1093, 1786, 2078]


def test_xwinograd_en(shared_data):
    rows = prompt_rows("xwinograd_en", shared_data)
    assert len(rows) == 2325
    # HF's option order is an unseeded coin flip (its gold here is 1); the candidates' order is kept.
    assert rows[0] == {"index": 0, "gold": 0, "requests": same_continuation(
        XWINO_FIRST, ["The city councilmen", "the demonstrators"], " feared violence.")}
    assert rows[-1] == {"index": 2324, "gold": 0, "requests": same_continuation(
        XWINO_LAST, ["Saudi Arabians", "Bangladeshis"], " are rich.")}
    shots = [r["requests"][0][0].count("\n\n") for r in rows]
    assert [i for i, n in enumerate(shots) if n != 4] == XWINO_THREE_SHOTS
    assert all(shots[i] == 3 for i in XWINO_THREE_SHOTS)
    assert digest(rows) == "addcedfa3900ba38928ee15d0a1df70e737ed53e8365c49699b7c14e15957f53"


MMLU_FIRST = (
    "The following are multiple choice questions (with answers) about abstract algebra.\nFind all c in Z_3 such that Z_3[x]/(x^2 + c) is a field.\nA. 0\nB. 1\nC. 2\nD. 3\nAnswer: B\n\n"
    "Statement 1 | If aH is an element of a factor group, then |aH| divides |a|. Statement 2 | If H and K are subgroups of G then HK is a subgroup of G.\nA. True, True\nB. False, False\nC. True, False\nD. False, True\nAnswer: B\n\n"
    "Statement 1 | Every element of a group generates a cyclic subgroup of the group. Statement 2 | The symmetric group S_10 has 10 elements.\nA. True, True\nB. False, False\nC. True, False\nD. False, True\nAnswer: C\n\n"
    "Statement 1| Every function from a finite set onto itself must be one to one. Statement 2 | Every subgroup of an abelian group is abelian.\nA. True, True\nB. False, False\nC. True, False\nD. False, True\nAnswer: A\n\n"
    "Find the characteristic of the ring 2Z.\nA. 0\nB. 3\nC. 12\nD. 30\nAnswer: A\n\n"
    "Find the degree for the given field extension Q(sqrt(2), sqrt(3), sqrt(18)) over Q.\nA. 0\nB. 4\nC. 2\nD. 6\nAnswer:"
)
MMLU_LAST = (
    "The following are multiple choice questions (with answers) about world religions.\nWhat is the sign of the covenant for Jewish males?\nA. The rainbow\nB. Circumcision\nC. A son\nD. Bar mitzvah\nAnswer: B\n\n"
    "What is the Second Gem in Buddhism?\nA. The Dharma\nB. The Sangha\nC. The Buddha\nD. The Bodhisattva\nAnswer: A\n\n"
    "In which dynasty was the \"Mandate of Heaven\" developed to legitimatize the new rulers?\nA. Shang\nB. Zhou\nC. Han\nD. Xia\nAnswer: B\n\n"
    "Which Japanese government promoted a kind of national cult based on the emperor and his associations with kami?\nA. Honen\nB. Tanaka\nC. Tokugawa\nD. Meiji\nAnswer: D\n\n"
    "How can the Upanishads be characterized?\nA. Ritual texts\nB. Philosophical texts\nC. Hymns\nD. Origin stories\nAnswer: B\n\n"
    "The numen of Augustus referred to which of the following characteristics?\nA. Divine power\nB. Sexual virility\nC. Military acumen\nD. Philosophical intellect\nAnswer:"
)
LETTERS = [" A", " B", " C", " D"]


def test_mmlu(shared_data):
    from swallow_eval.task import load_registry

    rows = prompt_rows("mmlu", shared_data)
    assert len(rows) == 14042
    # The description keeps one of its two newlines (Jinja drops a template's trailing "\n").
    assert rows[0] == {"index": 0, "subtask": "abstract_algebra", "gold": 1, "requests": same_context(MMLU_FIRST, LETTERS)}
    assert rows[-1] == {"index": 14041, "subtask": "world_religions", "gold": 0,
                        "requests": same_context(MMLU_LAST, LETTERS)}
    per_subject = Counter(r["subtask"] for r in rows)
    groups = load_registry()["mmlu"].groups
    assert {g: sum(per_subject[s] for s in members) for g, members in groups.items()} == {
        "mmlu_stem": 3153, "mmlu_humanities": 4705, "mmlu_social_sciences": 3077, "mmlu_other": 3107}
    assert len(per_subject) == 57 and per_subject["professional_law"] == 1534
    assert Counter(r["gold"] for r in rows) == {0: 3222, 1: 3462, 2: 3582, 3: 3776}
    assert digest(rows) == "f0b01d6c19cee2a853354143d58ec88918db9b94a7444735aa9fdc4fcb86327d"


HELLASWAG_FIRST = (  # fixture data
    "Running a marathon: Runners gather at a start line on a city street. The bbq stand sells food to the crowd as the runners leave.\n\n"
    "Washing dishes: A woman stands at a kitchen sink full of plates. She scrubs each plate with a sponge and rinses it.\n\n"
    "Food and Entertaining: How to make lemonade. Squeeze the lemons. Cut each lemon in half and squeeze the juice into a jug.  Add water and sugar. Stir until the sugar dissolves.\n\n"
    "Walking the dog: A girl clips a leash onto a small dog's collar. They walk out of the front door and down the street.\n\n"
    "Making a sandwich: A man lays two slices of bread on a cutting board. He"
)
HELLASWAG_SECOND = (
    "Walking the dog: A girl clips a leash onto a small dog's collar. They walk out of the front door and down the street.\n\n"
    "Washing dishes: A woman stands at a kitchen sink full of plates. She scrubs each plate with a sponge and rinses it.\n\n"
    "Food and Entertaining: How to make lemonade. Squeeze the lemons. Cut each lemon in half and squeeze the juice into a jug.  Add water and sugar. Stir until the sugar dissolves.\n\n"
    "Playing guitar: A man sits on a stool holding an acoustic guitar. The man strums a few chords and starts to sing.\n\n"
    "Personal Care and Style: How to tie a tie. Drape the tie around your neck."
)
HELLASWAG_LAST = (
    "Washing dishes: A woman stands at a kitchen sink full of plates. She scrubs each plate with a sponge and rinses it.\n\n"
    "Walking the dog: A girl clips a leash onto a small dog's collar. They walk out of the front door and down the street.\n\n"
    "Food and Entertaining: How to make lemonade. Squeeze the lemons. Cut each lemon in half and squeeze the juice into a jug.  Add water and sugar. Stir until the sugar dissolves.\n\n"
    "Playing guitar: A man sits on a stool holding an acoustic guitar. The man strums a few chords and starts to sing.\n\n"
    "Raking leaves: Leaves cover a lawn in front of a house. A boy in a red jacket"
)


def test_hellaswag_on_fixtures():
    """process_docs quirks: ctx_b.capitalize() lower-cases the rest ("The bbq", "a red jacket"), " [title]"
    becomes ". ", other brackets vanish leaving a space (so "[step]" endings are scored after two
    spaces), and "  " collapses once. Each doc draws 5 shots and keeps 4 (fewshot_split == test_split)."""
    rows = prompt_rows("hellaswag", FIXTURES)
    assert rows == [
        {"index": 0, "gold": 3, "requests": same_context(HELLASWAG_FIRST, [
            " drives the bread to work.", " puts the bread in the washing machine.", " reads the bread a story.",
            " spreads butter on the bread and adds cheese."])},
        {"index": 1, "gold": 2, "requests": same_context(HELLASWAG_SECOND, [
            "  Cut the tie into four pieces.", "  Wear the tie as a belt. Pull it tight.",
            "  Let the wide end hang lower than the narrow end. . Cross the wide end over.", "  Throw the tie away."])},
        {"index": 2, "gold": 0, "requests": same_context(HELLASWAG_LAST, [
            " rakes the leaves into a large pile.", " eats the leaves one by one.",
            " glues the leaves back onto the tree.", " paints the lawn blue."])},
    ]


def test_embedded_samples(shared_data, tmp_path, monkeypatch):
    """Pools ship whole, so the sample's items get the full data's prompts; XWINO's pool is its own
    evaluated set, of which the sample carries 10 rows: its shots come from those."""
    monkeypatch.setenv("SWALLOW_EVAL_CACHE_DIR", str(tmp_path))  # no download cache: the embedded sample
    monkeypatch.delenv("SWALLOW_EVAL_DATA_DIR", raising=False)
    assert prompt_rows("openbookqa", None) == prompt_rows("openbookqa", shared_data)[:10]

    def without_index(rows):
        return [{k: v for k, v in row.items() if k != "index"} for row in rows]

    sample = without_index(prompt_rows("mmlu", None))
    subjects = ["abstract_algebra", "management", "philosophy", "sociology"]
    full = without_index(prompt_rows("mmlu", shared_data))
    assert sample == [row for s in subjects for row in [r for r in full if r["subtask"] == s][:2]]
    xwino = prompt_rows("xwinograd_en", None)
    assert len(xwino) == 10 and xwino[0]["requests"][0][1] == " feared violence."
