"""Golden prompts of the llm-jp-eval tasks on the real data (ja-tasks.md §2-3).

The few-shot blocks of JEMHopQA, NIILC and JMMLU equal the full prompts printed in the spec; JSQuAD's
come from the hand-written train fixture (tests/fixtures/jsquad), the real train file being absent.
"""

from collections import Counter

from golden import digest, prompt_rows

HEADER = "以下は、タスクを説明する指示と、文脈のある入力の組み合わせです。要求を適切に満たす応答を書きなさい。"

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


JEMHOPQA_PREFIX = (
    HEADER + "\n\n### 指示:\n質問を入力とし、回答を出力してください。回答の他には何も含めないことを厳守してください。回答が'はい'と'いいえ'で答えることができる場合、'YES'と'NO'で答えてください。"
    "\n\n### 入力:\n質問：映画『ダイ・ハード』と『デッドプール2』のうち、公開年が早いほうはどっち？\n\n### 応答:\nダイ・ハード"
    "\n\n### 入力:\n質問：東海旅客鉄道と北海道旅客鉄道はどちらも陸運業ですか？\n\n### 応答:\nYES"
    "\n\n### 入力:\n質問：各務原市と飯塚市、岐阜県にあるのは飯塚市ですか？\n\n### 応答:\nNO"
    "\n\n### 入力:\n質問：高松自動車道の坂出支線の起点ICのもう一つの所属路線は？\n\n### 応答:\n瀬戸中央自動車道"
)


def test_jemhopqa(shared_data):
    rows = prompt_rows("jemhopqa", shared_data)
    assert len(rows) == 120
    assert rows[0] == {
        "index": 0,
        "prompt": JEMHOPQA_PREFIX + (
            "\n\n### 入力:\n質問：『ダンガンロンパ 希望の学園と絶望の高校生』と『ファイナルファンタジーXIII』、発売日が早いのはどちらでしょう？\n\n### 応答:\n"
        ),
        "target": "ファイナルファンタジーXIII",
    }
    assert rows[-1] == {
        "index": 119,
        "prompt": JEMHOPQA_PREFIX + (
            "\n\n### 入力:\n質問：永山瑛太の実弟の職業は？\n\n### 応答:\n"
        ),
        "target": "俳優",
    }
    assert digest(rows) == "46e5a46a4a4afddf5d358e11c59b49dfeba9082b79276d45c45335cee5446e8b"


NIILC_PREFIX = (
    HEADER + "\n\n### 指示:\n質問に対する答えを出力してください。回答の他には何も含めないことを厳守してください。答えが複数の場合、コンマ（,）で繋げてください。"
    "\n\n### 入力:\n質問：種にどくが含まれていると言われる果物は？\n\n### 応答:\nモモ"
    "\n\n### 入力:\n質問：タバコに含まれる成分で、脳を覚醒状態にするのは？\n\n### 応答:\nニコチン"
    "\n\n### 入力:\n質問：大正の前は？\n\n### 応答:\n明治"
    "\n\n### 入力:\n質問：一日の正確な時間は何分ですか\n\n### 応答:\n1400分"
)


def test_niilc(shared_data):
    rows = prompt_rows("niilc", shared_data)
    assert len(rows) == 198
    assert rows[0] == {
        "index": 0,
        "prompt": NIILC_PREFIX + (
            "\n\n### 入力:\n質問：初めてノート型パソコンを作ったメーカーは？\n\n### 応答:\n"
        ),
        "target": "東芝",
    }
    assert rows[-1] == {
        "index": 197,
        "prompt": NIILC_PREFIX + (
            "\n\n### 入力:\n質問：スペイン画家のソラーナが亡くなったのはいつ？\n\n### 応答:\n"
        ),
        "target": "1947年06月26日",
    }
    # answer "-" dropped: 2 of 200 test questions; several answers are comma-joined, NFKC-normalised
    assert rows[1]["target"] == "TACS,HiCAP,PDC,cdmaOne,CDMA2001,W-CDMA,LTE,モバイルWiMAX,AXGP,LTE-Advanced,WiMAX 2.1,LTE-?x"
    assert digest(rows) == "df9ae4af9334421690a539d47ddd6f1d138e955718751ff156300f9a2653a329"


JSQUAD_PREFIX = (
    HEADER + "\n\n### 指示:\n質問に対する回答を文章から一言で抽出してください。回答は名詞で答えてください。 それ以外には何も含めないことを厳守してください。"
    "\n\n### 入力:\n文章：新幹線 [SEP] 東海道新幹線は1964年に東京駅と新大阪駅の間で開業した。最初の営業列車には0系電車が使われた。\n質問：東海道新幹線の最初の営業列車に使われた車両は何か。\n\n### 応答:\n0系電車"
    "\n\n### 入力:\n文章：琵琶湖 [SEP] 琵琶湖は滋賀県にある日本最大の湖で、面積は約670平方キロメートルである。湖から流れ出る川は瀬田川のみである。\n質問：日本最大の湖は何か。\n\n### 応答:\n琵琶湖"
    "\n\n### 入力:\n文章：富士山 [SEP] 2013年、富士山は「富士山－信仰の対象と芸術の源泉」として世界文化遺産に登録された。\n質問：富士山が世界文化遺産に登録されたのは何年か。\n\n### 応答:\n2013年"
    "\n\n### 入力:\n文章：新幹線 [SEP] 東海道新幹線は1964年に東京駅と新大阪駅の間で開業した。最初の営業列車には0系電車が使われた。\n質問：開業時の東海道新幹線の終点はどの駅か。\n\n### 応答:\n新大阪駅"
)


def test_jsquad(jsquad_data):
    rows = prompt_rows("jsquad", jsquad_data)
    assert len(rows) == 4442
    assert rows[0] == {
        "index": 0,
        "prompt": JSQUAD_PREFIX + (
            "\n\n### 入力:\n"
            "文章：梅雨 [SEP] 梅雨（つゆ、ばいう）は、北海道と小笠原諸島を除く日本、朝鮮半島南部、中国の南部から長江流域にかけての沿海部、および台湾など、東アジアの広範囲においてみられる特有の気象現象で、5月から7月にかけて来る曇りや雨の多い期間のこと。雨季の一種である。\n"
            "質問：日本で梅雨がないのは北海道とどこか。\n\n### 応答:\n"
        ),
        "target": "小笠原諸島",
    }
    assert rows[-1] == {
        "index": 4441,
        "prompt": JSQUAD_PREFIX + (
            "\n\n### 入力:\n文章：多国籍企業 [SEP] ゼネコンは日本特有の形態。セメントメジャーにラファージュホルシムやイタルチェメンティ。\n質問：ゼネコンはどの国の特有の形態か？\n\n"
            "### 応答:\n"
        ),
        "target": "日本",
    }
    assert digest(rows) == "8781de4942de237a79bc0c349b04b1b2f131475a6767d324e375d863d503f4c3"


JMMLU_PREFIX = (
    HEADER + "\n\n### 指示:\n与えられた質問と選択肢から、最も適切な回答を選択してください。なお、回答には選択肢のアルファベット（例：A）のみを含め、他には何も含めないことを厳守してください。"
    "\n\n### 入力:\n質問：欧州連合（EU）は次のどの組織に取って代わったか？\n選択肢：A.北大西洋条約機構,B.欧州経済共同体,C.国際連合,D.東南アジア諸国連合\n\n### 応答:\nB"
    "\n\n### 入力:\n質問：行動主義者の見解は、多くの理由から他の手法から批判されてきた。倫理学者たちは、行動主義者たちは進化に起因する学習における生得的なビルトイン・バイアスを無視していると主張したが、同時に反対したのは以下どの点か?\n選択肢：A.室内実験での動物の使用,B.室内実験での人間の使用,C.試行錯誤システムの使用,D.オペラント条件づけ原理の使用\n\n### 応答:\nA"
    "\n\n### 入力:\n質問：あなたは、患者に顎下腺唾液腺肥大があると疑っている。あなたは、肥大した唾液腺をどう考えるか？\n選択肢：A.口腔内で触知可能。,B.口腔外で触知可能。,C. 口内と口外の両方で触知可能。,D. X線検査でのみ検出可能。\n\n### 応答:\nC"
    "\n\n### 入力:\n質問：ヒュームは私たちの知覚をどの2つのカテゴリーに分けているか?\n選択肢：A.感覚と感情。,B.印象と観念。,C.静的なものと動的なもの。,D.単純と複雑。\n\n### 応答:\nB"
    "\n\n### 入力:\n質問：ロバート・ノージックは、適切な刑罰を決定するための指針として、r×Hという公式を提唱している。これは何を意味するのか?\n選択肢：A.社会復帰の効果に社会に対する危険を乗じたもの。,B.責任の程度と実際に犯した損害の大きさを乗じたもの。,C.暴力の危険性に犯罪者の謙虚さの程度を乗じたもの。,D.累犯性に被告人の履歴を乗じたもの。\n\n### 応答:\nB"
)


def test_jmmlu(shared_data):
    rows = prompt_rows("jmmlu", shared_data)
    assert len(rows) == 3541
    assert rows[0] == {
        "index": 0,
        "subtask": "high_school_computer_science",
        "prompt": JMMLU_PREFIX + (
            "\n\n### 入力:\n"
            "質問：以下のプロシージャは、特定の名前（targetName）が見つかった一意の名前リスト（nameList）のインデックスを表示するためのものである。targetNameがnameListに見つからなかった場合、コードは0を表示する必要がある。\n"
            " PROCEDURE FindName (nameList, targetName)\n {\n index ← 0\n  FOR EACH name IN nameList\n  {\n"
            "   index ← index + 1\n   IF (name = targetName)\n   {\n   foundIndex ← index\n   }\n   ELSE\n"
            "   {\n   foundIndex ← 0\n   }\n  }\n  DISPLAY (foundIndex)\n }\n"
            " 次のプロシージャ呼び出しのうち、プロシージャが意図したとおりに動作しないことを示すために使用できるものはどれか?\n"
            "選択肢：A.FindName ([\"Andrea\", \"Ben\"], \"Ben\" ),B.FindName ([\"Andrea\", \"Ben\" ], \"Diane\" ),C.FindName ([\"Andrea\", \"Ben\", \"Chris\"], \"Ben\"),D.FindName ([\"アンドレア\", \"クリス\", \"ダイアン\"], \"ベン\")\n"
            "\n### 応答:\n"
        ),
        "target": "C",
    }
    assert rows[-1] == {
        "index": 3540,
        "subtask": "high_school_geography",
        "prompt": JMMLU_PREFIX + (
            "\n\n### 入力:\n質問：先進国の特徴はどれか。\n"
            "選択肢：A. 労働人口の50％以上が農業に従事している ,B. 女性が社会的に劣位に置かれている ,C. 主な疾病が年齢や生活習慣に関連している ,D. 出生率と死亡率が高い\n\n"
            "### 応答:\n"
        ),
        "target": "C",
    }
    assert digest(rows) == "f931e169f8bbf9f9c073a45f978c3b379bd04c59512b3c1fb9d2021914c7dc89"

# Evaluated items per subject and category, ja-tasks.md §3.5 (recomputed there from the raw files).
JMMLU_ITEMS = {
    "stem": {
        "abstract_algebra": 50, "anatomy": 66, "astronomy": 74, "college_biology": 72, "college_chemistry": 50,
        "college_computer_science": 50, "college_mathematics": 50, "college_physics": 49, "computer_security": 50,
        "conceptual_physics": 75, "electrical_engineering": 72, "elementary_mathematics": 75,
        "high_school_biology": 74, "high_school_chemistry": 74, "high_school_computer_science": 49,
        "high_school_mathematics": 75, "high_school_physics": 73, "high_school_statistics": 74,
        "machine_learning": 55,
    },
    "humanities": {
        "formal_logic": 63, "high_school_european_history": 75, "international_law": 60, "japanese_history": 75,
        "jurisprudence": 54, "logical_fallacies": 75, "moral_disputes": 74, "philosophy": 75, "prehistory": 75,
        "world_history": 74, "world_religions": 73,
    },
    "social_sciences": {
        "econometrics": 57, "high_school_geography": 75, "high_school_macroeconomics": 73,
        "high_school_microeconomics": 75, "high_school_psychology": 75, "human_sexuality": 65,
        "professional_psychology": 75, "public_relations": 54, "security_studies": 75, "sociology": 74,
    },
    "other": {
        "business_ethics": 43, "clinical_knowledge": 73, "college_medicine": 75, "global_facts": 48,
        "human_aging": 74, "management": 50, "marketing": 75, "medical_genetics": 50, "miscellaneous": 75,
        "nutrition": 75, "professional_accounting": 75, "professional_medicine": 75, "virology": 75,
    },
}


def test_jmmlu_split_matches_the_reference(shared_data):
    """Subject counts, gold letters and categories of the split: fingerprints of the subject order."""
    from swallow_eval.task import load_registry

    rows = prompt_rows("jmmlu", shared_data)
    assert Counter(r["subtask"] for r in rows) == {s: n for c in JMMLU_ITEMS.values() for s, n in c.items()}
    assert Counter(r["target"] for r in rows) == {"A": 808, "B": 855, "C": 910, "D": 968}
    groups = load_registry()["jmmlu"].groups
    assert {g: set(members) for g, members in groups.items()} == {g: set(c) for g, c in JMMLU_ITEMS.items()}
    assert {g: sum(c.values()) for g, c in JMMLU_ITEMS.items()} == {
        "stem": 1207, "humanities": 773, "social_sciences": 698, "other": 863}
    # Universal newlines, as the reference reads the CSVs: a "\r\n" inside a question becomes "\n".
    assert not any("\r" in r["prompt"] for r in rows)


def test_generation_settings_and_card_columns():
    """max_new_tokens = llm-jp-eval's output_length; llm-jp-eval's 4-decimal strings, JMMLU unrounded."""
    from swallow_eval.task import GenerationSettings, load_registry

    registry = load_registry()
    expected = {"jcommonsenseqa": (1, 4, "exact_match"), "jemhopqa": (15, 4, "char_f1"),
                "niilc": (180, 4, "char_f1"), "jsquad": (25, 4, "char_f1"), "jmmlu": (1, 5, "exact_match")}
    for name, (max_new_tokens, shots, metric) in expected.items():
        task = registry[name]
        assert task.generation == GenerationSettings(max_new_tokens=max_new_tokens, stop=("\n\n",))
        assert (task.shots, task.metrics, task.column.key, task.column.metric) == (shots, (metric,), name, metric)
        assert task.column.value(0.123456789) == (0.123456789 if name == "jmmlu" else 0.1235)
