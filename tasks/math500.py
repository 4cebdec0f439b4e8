"""MATH-500, fixed 4-shot Minerva prompt, answer equivalence — swallow-evaluation's lm-eval task math_500.

The reference loads HF `HuggingFaceH4/MATH-500` (split test), the same 500 problems in the same order
as openai/prm800k's math_splits/test.jsonl read here. The gold is recomputed from the solution's
last \\boxed{} (process_docs); the dataset's own `answer` field is not used. The yaml's
num_fewshot is 0, so the run script's --num_fewshot 4 is ignored: the shots are in the prompt.
"""

from swallow_eval.data import DataFile, DataRoot, read_jsonl, row_errors
from swallow_eval.families import lmeval
from swallow_eval.metrics.math500 import gold_answer
from swallow_eval.task import LM_EVAL, BuildContext, Column, Task

TEST = DataFile(
    "math500/test.jsonl",
    "https://media.githubusercontent.com/media/openai/prm800k/7ecc794703b2877f63226f2477a49b34f9b25163/prm800k/math_splits/test.jsonl",
    "35dc41080a3680858b27fa7e0533d2d547825316fc5dafe5d316f4ccc5a06132",
)

# tasks/math_500/utils.py doc_to_text, from Minerva (including the stray "}" of the first problem).
MINERVA_PROMPT = r"""Problem:
Find the domain of the expression  $\frac{\sqrt{x-2}}{\sqrt{5-x}}$.}

Solution:
The expressions inside each square root must be non-negative. Therefore, $x-2 \ge 0$, so $x\ge2$, and $5 - x \ge 0$, so $x \le 5$. Also, the denominator cannot be equal to zero, so $5-x>0$, which gives $x<5$. Therefore, the domain of the expression is $\boxed{[2,5)}$.
Final Answer: The final answer is $[2,5)$. I hope it is correct.

Problem:
If $\det \mathbf{A} = 2$ and $\det \mathbf{B} = 12,$ then find $\det (\mathbf{A} \mathbf{B}).$

Solution:
We have that $\det (\mathbf{A} \mathbf{B}) = (\det \mathbf{A})(\det \mathbf{B}) = (2)(12) = \boxed{24}.$
Final Answer: The final answer is $24$. I hope it is correct.

Problem:
Terrell usually lifts two 20-pound weights 12 times. If he uses two 15-pound weights instead, how many times must Terrell lift them in order to lift the same total weight?

Solution:
If Terrell lifts two 20-pound weights 12 times, he lifts a total of $2\cdot 12\cdot20=480$ pounds of weight.  If he lifts two 15-pound weights instead for $n$ times, he will lift a total of $2\cdot15\cdot n=30n$ pounds of weight.  Equating this to 480 pounds, we can solve for $n$:
\begin{align*}
30n&=480\\
\Rightarrow\qquad n&=480/30=\boxed{16}
\end{align*}
Final Answer: The final answer is $16$. I hope it is correct.

Problem:
If the system of equations

\begin{align*}
6x-4y&=a,\\
6y-9x &=b.
\end{align*}has a solution $(x, y)$ where $x$ and $y$ are both nonzero,
find $\frac{a}{b},$ assuming $b$ is nonzero.

Solution:
If we multiply the first equation by $-\frac{3}{2}$, we obtain

$$6y-9x=-\frac{3}{2}a.$$Since we also know that $6y-9x=b$, we have

$$-\frac{3}{2}a=b\Rightarrow\frac{a}{b}=\boxed{-\frac{2}{3}}.$$
Final Answer: The final answer is $-\frac{2}{3}$. I hope it is correct."""


def build(data: DataRoot, context: BuildContext):
    path = data.path(TEST)
    problems = []
    for line, row in read_jsonl(path):
        with row_errors(path, line):
            problems.append({"problem": row["problem"], "answer": gold_answer(row["solution"])})
    return lmeval.generation_items(
        problems,
        text=lambda doc: f"{MINERVA_PROMPT}\n\nProblem:\n{doc['problem']}\n\nSolution:",
        gold=lambda doc: doc["answer"],
    )


TASK = Task(
    name="math500",
    suite="en",
    reference=LM_EVAL,
    shots=4,
    files=(TEST,),
    build=build,
    metrics=("math_equiv",),
    column=Column("math", "MATH", "math_equiv", "CoT EM Acc"),
    # Stop strings and token limit of swallow-evaluation HEAD (commits 163bb54, 2bca940).
    generation=lmeval.generate_until("Problem:", "</s>", "<|im_end|>", "I hope it is correct", max_gen_toks=2048),
    description="MATH-500 (500 problems, Lightman et al. subset of the MATH test set).",
)
