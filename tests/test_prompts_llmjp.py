"""Golden prompts of the llm-jp-eval tasks on the real data (ja-tasks.md §2-3)."""

from golden import digest, prompt_rows

JCOM_PREFIX = (
    "以下は、タスクを説明する指示と、文脈のある入力の組み合わせです。要求を適切に満たす応答を書きなさい。\n\n"
    "### 指示:\n質問と回答の選択肢を入力として受け取り、選択肢から回答を選択してください。なお、回答は選択肢の番号（例：0）でするものとします。 回答となる数値をint型で返し、他には何も含めないことを厳守してください。"
    "\n\n### 入力:\n質問：動物たちの餌になるものは？\n選択肢：0.猫,1.家畜,2.原宿,3.牧草,4.島根県\n\n### 応答:\n3"
    "\n\n### 入力:\n質問：きりたんぽが名物である県はどこか？\n選択肢：0.岩手,1.福島,2.秋田,3.愛知,4.福井\n\n### 応答:\n2"
    "\n\n### 入力:\n質問：地域の人の数をなんという？\n選択肢：0.辞書,1.大豆,2.豆腐,3.器械,4.人口\n\n### 応答:\n4"
    "\n\n### 入力:\n質問：とくばいと読むのは？\n選択肢：0.歩く,1.取引,2.特売,3.商売,4.焼売\n\n### 応答:\n2"
)


def test_jcommonsenseqa(shared_data):
    rows = prompt_rows("jcommonsenseqa", shared_data)
    assert len(rows) == 1119
    assert rows[0] == {
        "index": 0,
        "prompt": JCOM_PREFIX + "\n\n### 入力:\n質問：電子機器で使用される最も主要な電子回路基板の事をなんと言う？\n"
                                "選択肢：0.掲示板,1.パソコン,2.マザーボード,3.ハードディスク,4.まな板\n\n### 応答:\n",
        "target": "2",
    }
    assert rows[-1] == {
        "index": 1118,
        "prompt": JCOM_PREFIX + "\n\n### 入力:\n質問：この中で実験に使われることがあるのは？\n"
                                "選択肢：0.足,1.肩,2.人体,3.筋肉,4.手\n\n### 応答:\n",
        "target": "2",
    }
    assert [r["target"] for r in rows].count("0") == 216  # gold distribution, ja-tasks.md §3.1
    assert digest(rows) == "6e745a2d24ff1f266399d24ca68dabc7e8a3b4e95eda8cca21e0c30470b3c07d"
