"""JMMLU (the 53 CC BY-SA subjects), 5-shot, exact match, with per-subject and per-category scores.

llm-jp-eval datasets/jmmlu.py splits every subject's shuffled rows in half ("dev" / "test"),
shuffles both pools, moves the first 16 of each into "train" and evaluates what is left of "test"
(the run reads dataset/1.3.0/evaluation/test): 3,541 questions in that shuffled order; the
5 few-shots are train[:5], all from the dev pool (ja-tasks.md §3.5).

Subject scores follow the file each question came from. The reference's jmmlu_statistics.py looks
subjects up by question text instead, and 6 texts occur in several subjects (11 evaluated items),
which it attributes to whichever file os.listdir returned last: a filesystem-dependent order no one
can reproduce. The overall score is unaffected.
"""

import csv
import random

from swallow_eval.data import DataFile, DataRoot, read_csv, row_errors
from swallow_eval.families import llmjp
from swallow_eval.task import Column

# The reference fetched `main`; JMMLU/ is unchanged since 2024-02-27, so this commit serves the same bytes.
URL = "https://raw.githubusercontent.com/nlp-waseda/JMMLU/762cbf192c9e4588b574d718f95afd64c96fcbf4/JMMLU"

# Subject -> sha256, in the order of FILENAMES in llm-jp-eval datasets/jmmlu.py: the split's
# random stream runs through the subjects in this order. (The list was read from a copy of that file
# in wandb/llm-leaderboard; the spec's few-shots, subject counts and gold letters confirm it: tests.)
SUBJECTS = {
    "econometrics": "637f4938d16ab853480925ba32c15d8821faf55fc06120eb19efbfc20abd5070",
    "human_aging": "8ff928a0b6f101ec73161488cccd9dd9739def03767a701cfbdfa34f07d3cffe",
    "high_school_psychology": "868711ac10c9e4eb39b1f116da600791b98246362062945e3335d2dbeb406f22",
    "professional_medicine": "d00f9ba70cbc51b895db743a260162bc04618471e7c53a41c8804ddcbb035554",
    "electrical_engineering": "31606d70a21677d9c89b52326ec0dc808d14608183cb0239e76426f25202deac",
    "college_mathematics": "c41878dff348d5531b81a77cf3a2d1479dcb3d976885fab4ab189b378b871d82",
    "medical_genetics": "16de20d455995243123c37914b75a452d060b49ba79d5008b1a6d9097d75f537",
    "formal_logic": "b2f1b18adb9bcbdecbb11b80087d2d1ebe54c2cb55337b0bd3251bee8d4c4fcc",
    "nutrition": "1ca3181b83d348becc17f833edf86f23ab2ac920abd967cbe47a19260b39576f",
    "prehistory": "ce5d447d22b77d2a4a5aab59cbe17953e9f98786db07210829c9205e2c61df92",
    "world_religions": "8c889d25f6ef0733dcb0b5ba44dab91a3ef4e8eb3d9d3ae2d6080457e76acad2",
    "japanese_history": "231e3dfe06db7dda37baf65b0ae2f54ccb843c6690138a317cd99ae9eb65afed",
    "high_school_geography": "c6ebcb356f6fad1ea19194c787e460a7e0806093c904fedfdee0b560b8849f5f",
    "international_law": "a3ef3d86c6767147901e201cabe255094ccadc28a9d9391e7f9bc3cc4099137b",
    "logical_fallacies": "98ac74e13fe552281155e6992c59d2a2ada1d9197e9a21966619319079aa9f75",
    "human_sexuality": "7e97c9371405ed8c40a3455730bdcb3eb626a116920217ae2a62bfe4148c960d",
    "philosophy": "e7fef1622d103d65ec9f9633f15ae8e884a67258a17645f2c54748252a11c4c9",
    "college_medicine": "404232dc8187a548188903a3c28073ce1b629e13b9637bec167279f9c70ca2ab",
    "professional_accounting": "bc55390912cef55b7f0bdfd7e49a727bd032f09ba5b8fd7aeacfa568a20d41f0",
    "high_school_mathematics": "530acdf4799017fcd0b95f799041dcf80b713018a21a4b9f44518f81a604a234",
    "global_facts": "df0337f3b7d2993f99dd0a58bac25e7be41f2e8ea032159b470e2f31cf254657",
    "business_ethics": "5c4f7b0f6c3ddc53f9a69fba77310247564de0e5fb4df7af8b6c65ba33c9cb50",
    "high_school_chemistry": "5f3c34254eb683bfbaa9fee304829f935e5256fe2f8bfb7005d3a4baad4ad033",
    "college_physics": "b6b2a99f6685b8df23b4e00a9ae6bb69166e53b1b8c8e43bf4f22a276ea3e226",
    "high_school_statistics": "08781ef77cbddb07c22664ac9ac2707e93c83a42ba87e66d73483a80d75164d3",
    "moral_disputes": "d1e546585e4e00a06c224370f2f26a591e64566c1ab2771203f438da7d81b7f3",
    "high_school_biology": "522dd23b3a6cfadbf31ead2bd7b27a029ce8d31a5b18724c3086ea1424cf15dc",
    "miscellaneous": "a6546d2b66ff95c02ae886e0f013cf9052d7456641b68fe70088de3b3e1bd32d",
    "high_school_macroeconomics": "282fb7857079311d239d842050c213a9137ea3f4c3c94afb8e3ec9de78d98c65",
    "high_school_computer_science": "0daf11091874a29692bb47158e475c91e40fe3bcf83ba4fba2a8a7000913485f",
    "abstract_algebra": "f5ffc6aacb7f0d47e0df7084960cadd329c437585954dfbda3c1780945c00e04",
    "elementary_mathematics": "789049401d72a70795b95442bca04ea616f7adde94481305acd305c2f349d0e7",
    "jurisprudence": "03255e953aff6a79b1935c44389297684acec782a8415a6109deff1abfe92e3d",
    "security_studies": "576f811c69923117ab5fb8036bdb81bcff709f75abfb006da5922cc4e446b22b",
    "high_school_physics": "e8c7a7768c4dde2db7dbf87619fd827f7dc1bdebcddb03ed0627b7c4d1014d2b",
    "college_computer_science": "5a9979ef49de49f06ee48e5eae74debc85935e026ee1d896b8107cac60a272b3",
    "public_relations": "863faaef55d3dd614e497d14ea6e1915cc1a7f84abd010a52b98331ab3b3230b",
    "management": "5596799bae7a9743126eafd828a3579b9e8d7264a8095f85bf0afd8cd94ae20f",
    "computer_security": "a8256e13ed0d5c71372992b9ec8cf54f3311bd71f4f6627e3ea617fadb3396c7",
    "college_chemistry": "104d0bd8d1581ab7aeaa5227016a1435b952abae0c8ca6123cadc8fcf25396fd",
    "anatomy": "55b6d3f04a0bfcbb8673477be004b3bb48fe4c23493f8a0d6a2d64df79f37722",
    "high_school_european_history": "d2197d0e1df46b7eaa98e1922c20fd43a6c76db591eb23c2331a14299493f52b",
    "machine_learning": "74fcba0fdcd400987ef42aa2c8c50c4bb9cad52352895276e9f5892425767683",
    "virology": "e4568515e1a8d2e566d747adaab43db63f51de70533db939eb925d28b452c38f",
    "high_school_microeconomics": "88835e9ca427a951ed2587146e81754f7bbc12d69c5b485e92b96ae0a6efb5f6",
    "astronomy": "65457f82cd75a82de0c57cfe2933c535023ec7b26e254fd8c12dfd38a38bbbb4",
    "world_history": "1e6824900650098f51f0e0625d6f7cb5b00dc2bb1d0874b11a7e9344d25a26cb",
    "college_biology": "b256cd94b9ddde78cbb683ab08fc0ae437e25cf9d1a9fef284aa8bce0e269ecf",
    "clinical_knowledge": "340ee3cf3a025c41925f0e570950faec7fe2a8f34e7877583ee2d61c9509f1cd",
    "conceptual_physics": "446e38c2b225d7417862bfe7ccb46a0e52af0279b51f832d2e6c8c34707a7bc4",
    "professional_psychology": "a87297a0a25d59432deb4015ad14f2c54eecdf8cf2d30293e1e8a8a5499be8fe",
    "sociology": "55092ab22dad8c80982fb84b7c6f6e2d33166ecefc0ab210e1b5c1ba8e74fcf9",
    "marketing": "fada76ca011b0936cede1c361af9a9961c4038ac59a5e50b7e264d13224fcb79",
}

# Categories of llm-jp-eval scripts/jmmlu_statistics.py (MMLU's), restricted to these subjects.
CATEGORIES = {
    "stem": (
        "abstract_algebra", "anatomy", "astronomy", "college_biology", "college_chemistry",
        "college_computer_science", "college_mathematics", "college_physics", "computer_security",
        "conceptual_physics", "electrical_engineering", "elementary_mathematics", "high_school_biology",
        "high_school_chemistry", "high_school_computer_science", "high_school_mathematics",
        "high_school_physics", "high_school_statistics", "machine_learning",
    ),
    "humanities": (
        "formal_logic", "high_school_european_history", "international_law", "japanese_history",
        "jurisprudence", "logical_fallacies", "moral_disputes", "philosophy", "prehistory", "world_history",
        "world_religions",
    ),
    "social_sciences": (
        "econometrics", "high_school_geography", "high_school_macroeconomics", "high_school_microeconomics",
        "high_school_psychology", "human_sexuality", "professional_psychology", "public_relations",
        "security_studies", "sociology",
    ),
    "other": (
        "business_ethics", "clinical_knowledge", "college_medicine", "global_facts", "human_aging",
        "management", "marketing", "medical_genetics", "miscellaneous", "nutrition",
        "professional_accounting", "professional_medicine", "virology",
    ),
}

FILES = {subject: DataFile(f"jmmlu/JMMLU/{subject}.csv", f"{URL}/{subject}.csv", sha256)
         for subject, sha256 in SUBJECTS.items()}
TRAIN_PER_POOL = 16


def subject_samples(data: DataRoot, subject: str) -> list[llmjp.Sample]:
    path = data.path(FILES[subject])
    result = []
    # Opened as the reference does: utf-8-sig, and universal newlines ("\r\n" in a question becomes "\n").
    for line, row in read_csv(path, encoding="utf-8-sig", newline=None, quoting=csv.QUOTE_ALL):
        with row_errors(path, line):
            question, a, b, c, d, answer = row
            result.append(llmjp.Sample(f"質問：{question}\n選択肢：A.{a},B.{b},C.{c},D.{d}", answer, subject))
    return result


def splits(data: DataRoot) -> tuple[list[llmjp.Sample], list[llmjp.Sample]]:
    """(train, evaluated): llm-jp-eval datasets/jmmlu.py::preprocess_evaluation_data."""
    rng = random.Random(42)
    dev, test = [], []
    for subject in SUBJECTS:
        rows = subject_samples(data, subject)
        rng.shuffle(rows)
        dev += rows[: len(rows) // 2]
        test += rows[len(rows) // 2:]
    rng.shuffle(dev)
    rng.shuffle(test)
    return dev[:TRAIN_PER_POOL] + test[:TRAIN_PER_POOL], test[TRAIN_PER_POOL:]


TASK = llmjp.task(
    name="jmmlu",
    files=tuple(FILES.values()),
    splits=splits,
    instruction="与えられた質問と選択肢から、最も適切な回答を選択してください。なお、回答には選択肢のアルファベット（例：A）のみを含め、他には何も含めないことを厳守してください。",
    output_length=1,
    metric="exact_match",
    # The card takes `results.jmmlu` of jmmlu_statistics.py: unrounded, unlike the other llm-jp-eval columns.
    column=Column("jmmlu", "JMMLU", "exact_match", "EM acc"),
    shots=5,
    groups=CATEGORIES,
    description="The evaluated half of JMMLU's 53 CC BY-SA subjects (3,541 questions), answer = A-D; "
                "subtasks = subjects, groups = the four MMLU categories.",
)
