"""Golden prompts of the JP harness tasks (ja-tasks.md §4-7): MGSM and WMT20 on the real data, XL-Sum on
the hand-written fixture (the real mkshing/xlsum_ja files are not in ../shared/data)."""

import shutil
import tarfile

import pytest

from conftest import FIXTURES, cli, jsonl
from golden import digest, prompt_rows
from swallow_eval.data import DataRoot
from swallow_eval.errors import UserError
from swallow_eval.families import jpharness
from swallow_eval.pipeline import prepare
from swallow_eval.task import BuildContext, load_registry
from tasks.mgsm_ja import exemplars

MGSM_JA_FIRST = {
    "index": 0,
    "prompt": (
        "問題：ジェイソンは20個の飴を持っています。彼はデニーに飴をいくつかあげました。今、ジェイソンには12個の飴があります。ジェイソンはデニーにいくつ飴をあげましたか？\nステップごとの答え：ジェイソンには最初20個の飴がありましたが、今彼は12個しか持っていません、なので彼はデニーに、20-12=8個の飴をあげました。答えは8です。\n\n"
        "問題：サーバールームには9台のコンピューターがありました。月曜日から木曜日まで毎日5台のコンピューターをインストールしました。今サーバールームには難題のコンピューターがありますか？\nステップごとの答え：月曜から木曜まで4日あります。毎日5台のコンピューターが追加されます。つまり、全部で4*5=20台のコンピューターが追加されました。最初に9台のコンピューターがあったので、今は9+20=29台のコンピューターとなります。答えは29です。\n\n"
        "問題：ロジャーは5個のテニスボールがあります。テニスボールの缶を2つ追加で買います。それぞれの缶には3つのテニスボールが入っています。彼は今いくつのテニスボールがありますか？\nステップごとの答え：ロジャーは最初5個のボールがありました。テニスボール3個入りの缶が2つあれば、テニスボールは6個あります。5+6=11。答えは11です。\n\n"
        "問題：オリビアには$23あります。彼女はそれぞれ$3のベーグルを5つ買いました。彼女にはいくらのお金が残っていますか？\nステップごとの答え：$3のベーグルは5個で、5*3=15ドルになるはずです。オリビアは最初$23あったので、今彼女には23-15=8ドル残っています。答えは8です。\n\n"
        "問題：チャーリーは蜜蝋を売りたいです。蜜蝋1ポンドあたり、彼は10本のテイパー型キャンドルを作れます。備品の蜜蝋と芯1ポンドあたり、$10.00のコストがかかります。彼は各キャンドルをそれぞれ$2.00で売るとしたら、20本のキャンドルを作って売った場合の純利益はいくらになりますか？\nステップごとの答え："
    ),
    "target": 20,
}

MGSM_JA_LAST = {
    "index": 249,
    "prompt": (
        "問題：リアは32個のチョコレートを持っていました、彼女の妹は42個持っていました。彼女達が35個食べたとしたら、全部で何個残っていますか？\nステップごとの答え：リアは32個のチョコレートを持っており、リアの妹は42個持っていた。つまり、元々32+42=74個のチョコレートがあった。35個が食べられた。だから全部で、彼女たちには74-35=39個のチョコレートが残っている。答えは39個。\n\n"
        "問題：サーバールームには9台のコンピューターがありました。月曜日から木曜日まで毎日5台のコンピューターをインストールしました。今サーバールームには難題のコンピューターがありますか？\nステップごとの答え：月曜から木曜まで4日あります。毎日5台のコンピューターが追加されます。つまり、全部で4*5=20台のコンピューターが追加されました。最初に9台のコンピューターがあったので、今は9+20=29台のコンピューターとなります。答えは29です。\n\n"
        "問題：ジェイソンは20個の飴を持っています。彼はデニーに飴をいくつかあげました。今、ジェイソンには12個の飴があります。ジェイソンはデニーにいくつ飴をあげましたか？\nステップごとの答え：ジェイソンには最初20個の飴がありましたが、今彼は12個しか持っていません、なので彼はデニーに、20-12=8個の飴をあげました。答えは8です。\n\n"
        "問題：マイケルは58個のゴルフボールを持っています。火曜日、彼は\n23個のゴルフボールを失くしました。水曜日、さらに2個失くしました。水曜日の終わりには、彼は何このゴルフボールを持っていましたか？\nステップごとの答え：マイケルは最初58個のゴルフボールがあり、23個なくしました、だから彼は58-23=35個残っています。彼があと2個なくした後、彼は今35-2=33個残っています。答えは33個です。\n\n"
        "問題：部屋に、様々なおもちゃがある：5個の赤い車、3個のアクションフィギュア、1つの人形。人形は3つのアクションフィギュアと同じ値段で、1つの赤い車は4ドルする。アクションフィギュアが5ドルだとすると、すべてのおもちゃはいくらの価値がある？\nステップごとの答え："
    ),
    "target": 50,
}

WMT20_EN_JA_FIRST = {
    "index": 0,
    "prompt": (
        "English phrase: Ford Motor and Volkswagen have said they will spend billions of dollars to jointly develop electric and self-driving vehicles.\nJapanese phrase: フォード・モーターとフォルクスワーゲンは、電気自動車と自動運転車の共同開発に数十億ドルを投資する予定だと発表している。\n\n"
        "English phrase: North Korea slams US \"inaction\" on lifting sanctions after nuclear talks\nJapanese phrase: 北朝鮮 核問題協議後の制裁解除「不履行」で米国を厳しく非難\n\n"
        "English phrase: He has appeared eight times since then, impressing on each occasion, including a delightful performance on being introduced in the second half of Ireland's demolition of Scotland on Sunday.\nJapanese phrase: カーティはそれ以来８回出場しているが、日曜日にアイルランドがスコットランドを完敗させた試合の後半で起用されたときの素晴らしいパフォーマンスなど、毎回強い印象を残していた。\n\n"
        "English phrase: That you have to be true to who you are.\nJapanese phrase: 自分が誰であるかについて、ありのままでなければいけない。\n\n"
        "English phrase: Dozens of fundraising coffee mornings are taking place across Scotland on Friday.\nJapanese phrase:"
    ),
    "target": "金曜日にはスコットランド全土で、何十ものコーヒーモーニング募金イベントが開催されている。",
}

WMT20_EN_JA_LAST = {
    "index": 999,
    "prompt": (
        "English phrase: He said he recalled that Indorewala brought up her Muslim faith, but he did not specifically recall her request for five-minute prayer breaks during the day.\nJapanese phrase: ガビロンド氏は、インドレワラさんは自分のイスラム信仰を話題にしたが、勤務中の５分間の祈り休憩のリクエストについては特に覚えていないとした。\n\n"
        "English phrase: The big game and halftime show will air live on Fox and broadcast in 180 countries.\nJapanese phrase: 世紀の試合とハーフタイムショーはFoxで生中継され、180か国で放送される予定。\n\n"
        "English phrase: \"Shaq is not ready yet, he's doing rehab stuff,\" said Klopp.\nJapanese phrase: 「シャチはまだだ、現在リハビリ中」と述べた。\n\n"
        "English phrase: Representatives for both Toyota and Subaru said the news was not something that had been announced by their companies.\nJapanese phrase: トヨタとスバルの各広報担当は、このニュースは、両社から正式に発表されたものではないとした。\n\n"
        "English phrase: India and France have a strategic partnership, initiated in January 1998 during Jacques Chirac's first visit to India.\nJapanese phrase:"
    ),
    "target": "インドとフランスは、1998年のジャック・シラク大統領の初訪印の際に開始された戦略的協調関係にある。",
}

WMT20_JA_EN_FIRST = {
    "index": 0,
    "prompt": (
        "Japanese phrase: 環境少女「安全な未来へ闘う」 世界中で抗議、２週連続｜静岡新聞アットエス\nEnglish phrase: The environmental girl \"fighting for a safe future\" inspires protests around the world for the second consecutive week | Shizuoka Newspaper @S\n\n"
        "Japanese phrase: 福井新聞は情報発信、福井銀行は経営サポートで協力している。\nEnglish phrase: Fukui Shimbun is providing an information outlet and Fukui Bank is assisting with management support.\n\n"
        "Japanese phrase: 「マンチェスター・ユナイテッドが負傷者続出の危機の中で掴む可能性のある5人のFW」と題された記事の中では、現在獲得が可能な無所属の選手たちが5人ピックアップされた。\nEnglish phrase: In the article entitled \"Five Free Forwards Manchester United Could Sign Amid Injury Crisis\", it lists five players who are free agents and currently available to sign.\n\n"
        "Japanese phrase: 桑名三重信用金庫と北伊勢上野信用金庫は10月１日、紀北信用金庫は11月１日から引き下げを実施する。\nEnglish phrase: Kuwana Mie Shinyo Kinko and Kita Ise Ueno Shinyo Kinko Banks will implement the reduction on October 1st, Kihoku Shinyo Kinko on November 1st.\n\n"
        "Japanese phrase: 後半戦これから続きますけど、1勝以上しないと賞金王を狙う為にはいけないのでもう1勝挙げたいですし、間近ではZOZO選手権もあるのでそこまでの大会で上位に入って出場資格を獲れるように頑張ります。\nEnglish phrase:"
    ),
    "target": "The second half will start, but I can't aim for the top prize if I don't win one or more so I want to get one more win, and the ZOZO Championship is also coming up so to qualify I also want to do my best to get in the top ranks in the tournaments leading up to it.",
}

WMT20_JA_EN_LAST = {
    "index": 992,
    "prompt": (
        "Japanese phrase: 行進が行われたのはバンクーバー市役所からキャンビーブリッジを渡り、ダウンタウンの図書館まで。\nEnglish phrase: The march started at Vancouver City Hall, then travelled across Cambie Bridge before finishing at the downtown library.\n\n"
        "Japanese phrase: また、ステッチの色は明度の異なるライトブラウンとダークブラウンの2色を活用し、こだわり抜いた質感と合わせ、上質で深みのある空間を表現している。\nEnglish phrase: What's more, the stitching is two-toned, employing different shades of light and dark brown, which, when combined with the carefully selected textures, lends to the creation of a fine quality space with a sense of depth.\n\n"
        "Japanese phrase: なかでも、1969年から「週刊少年サンデー」で連載された『おろち』の主役である「おろち」は、楳図作品の代表格といえる美少女キャラなのですが、永遠の命と永遠の若さを保つために百年ごとに深い眠りにつくことや、不思議な力を持つ部分などが、どこか「蛇」を連想させます。\nEnglish phrase: Among them, Orochi, the main character of \"Orochi\", a story serialized in Weekly Shonen Sunday from 1969 onwards, is a beautiful female character who can be said to be representative of Umezu's work, but the fact that she goes into a deep sleep for 100 years at a time to maintain eternal life and eternal youth, and that she possesses other mysterious powers, somehow reminds one of a snake.\n\n"
        "Japanese phrase: 飲み会についての話では、西島の意外な素顔も明らかとなった。\nEnglish phrase: When the conversation turned to drinking parties, Nishijima let slip a surprising truth.\n\n"
        "Japanese phrase: 医療費は団塊世代全員が７５歳以上となる２５年に急増する。\nEnglish phrase:"
    ),
    "target": "In 2025 medical expenses will sharply rise as all baby boomers reach ages over 75.",
}


def test_mgsm_ja(shared_data):
    rows = prompt_rows("mgsm_ja", shared_data)
    assert len(rows) == 250
    assert rows[0] == MGSM_JA_FIRST
    assert rows[-1] == MGSM_JA_LAST
    assert digest(rows) == "c6423579563603c85f634147d97ce8663fd0d2ce1b5a192102493403e266dd9e"


def test_mgsm_ja_matches_the_spec_self_check(shared_data):
    """ja-tasks.md §6: shuffled positions 0-4 are test rows 44, 98, 184, 123, 121 with these exemplars
    (MGSM_JA_FIRST is the context the spec prints for position 0)."""
    items = prepare(load_registry()["mgsm_ja"], shared_data, 5, BuildContext()).items
    assert [item.meta["row"] for item in items] == [44, 98, 184, 123, 121]
    assert [item.target for item in items] == [20, 5, 25, 50, 27]
    key_of = {e["question"]: key for key, e in enumerate(exemplars(DataRoot(shared_data, "data-dir")), 1)}
    shots = [[next(key for question, key in key_of.items() if shot.startswith(question + "\nステップごとの答え："))
              for shot in item.prompt.split("\n\n")[:-1]] for item in items]
    assert shots == [[7, 2, 1, 6], [7, 3, 4, 6], [8, 7, 6, 1], [2, 1, 4, 3], [2, 8, 7, 6]]


def test_wmt20_en_ja(shared_data):
    rows = prompt_rows("wmt20_en_ja", shared_data)
    assert len(rows) == 1000
    assert rows[0] == WMT20_EN_JA_FIRST
    assert rows[-1] == WMT20_EN_JA_LAST
    assert digest(rows) == "f1c753474a6a55d67bbb763440051cddc6b6ffc4b0fdb6511e2729b009357384"


def test_wmt20_ja_en(shared_data):
    rows = prompt_rows("wmt20_ja_en", shared_data)
    assert len(rows) == 993
    assert rows[0] == WMT20_JA_EN_FIRST
    assert rows[-1] == WMT20_JA_EN_LAST
    assert digest(rows) == "aaa5f4fa6a8338241339916cfa740b75eb64fb4fc2c9426ecf837a05f8cb8964"
    assert jsonl(cli("prompts", "wmt20_ja_en", "--data-dir", str(shared_data), "--limit", "2").stdout) == rows[:2]


# ---- WMT20: the statmt SGML release and the OPUS plain-text copies give the same documents -------------


def sgml_tgz(path, pairs: dict[str, tuple[list[str], list[str]]]) -> None:
    """A test.tgz laid out like statmt's, one SGML file per side, from given segments."""
    with tarfile.open(path, "w:gz") as tar:
        for code, sides in pairs.items():
            for kind, segments, lang in (("src", sides[0], code[:2]), ("ref", sides[1], code[2:])):
                body = "".join(f'<seg id="{i}">{s}</seg>\n' for i, s in enumerate(segments, 1))
                text = f'<{kind}set setid="newstest2020">\n<doc docid="d1" genre="news">\n<p>\n{body}</p>\n</doc>\n</{kind}set>\n'
                member = tarfile.TarInfo(f"sgm/newstest2020-{code}-{kind}.{lang}.sgm")
                data = text.encode("utf-8")
                member.size = len(data)
                tar.addfile(member, __import__("io").BytesIO(data))


def test_wmt20_reads_the_sgml_release_like_sacrebleu_1_5(shared_data, tmp_path, monkeypatch):
    task = load_registry()["wmt20_en_ja"]
    (file,) = task.files
    plain = jpharness.wmt20_docs(DataRoot(shared_data, "data-dir"), file, "en", "ja")
    assert "\u3000" not in "".join(doc["ref"] for doc in plain)  # sacrebleu's `\s+` -> " " collapses U+3000
    root = tmp_path / "data"
    (root / "wmt20").mkdir(parents=True)
    raw = [(d["src"] + "  ", d["ref"].replace(" ", "\u3000")) for d in plain]  # as the SGML may hold them
    sgml_tgz(root / "wmt20" / "test.tgz", {"enja": ([s for s, _ in raw], [r for _, r in raw])})
    data = DataRoot(root, "data-dir")
    assert data.present(file) == (file,)
    with pytest.raises(UserError, match=r"test.tgz: md5 [0-9a-f]{32} is not that of the WMT20 test.tgz"):
        jpharness.wmt20_docs(data, file, "en", "ja")
    monkeypatch.setattr(jpharness, "WMT20_MD5", __import__("hashlib").md5((root / "wmt20/test.tgz").read_bytes()).hexdigest())
    assert jpharness.wmt20_docs(data, file, "en", "ja") == plain
    with pytest.raises(UserError, match="no sgm/newstest2020-jaen-src.ja.sgm in the archive"):
        jpharness.wmt20_docs(data, load_registry()["wmt20_ja_en"].files[0], "ja", "en")


def test_wmt20_missing_data_names_the_release_and_its_copies(tmp_path):
    (file,) = load_registry()["wmt20_ja_en"].files
    with pytest.raises(UserError, match=r"missing data file .*wmt20/test.tgz or its copies "
                                        r"wmt20/newstest2020/ja-en/newstest2020.ja, wmt20/newstest2020/ja-en/newstest2020.en"):
        jpharness.wmt20_docs(DataRoot(tmp_path, "data-dir"), file, "ja", "en")


# ---- XL-Sum: hand-written fixture in mkshing/xlsum_ja's CSV format, the proxy model's tokenizer -------

PARAGRAPH = "第{}の段落では、地域の商店街が週末に開いた催しについて、参加した住民{}人の声を紹介している"
XLSUM_FIRST = {  # test.csv row 3: 160 sentences, cut after the 67th
    "index": 0,
    "prompt": (
        "与えられたニュース記事を要約してください。\n\n"
        "ニュース記事:市議会は20日、駅前の空き地に新しい図書館を建設する計画を賛成多数で承認した。総事業費は約30億円で、"
        "2027年の開館を目指す。市長は「子どもから高齢者まで使える場所にしたい」と述べた。\n"
        "要約:市議会は、駅前に新しい図書館を建設する計画を賛成多数で承認した。\n\n"
        "ニュース記事:" + "。".join(PARAGRAPH.format(i, 3 * i) for i in range(1, 68)) + "。\n要約:"
    ),
    "target": "商店街の催しに多くの住民が参加した。",
}
XLSUM_LAST = {
    "index": 3,
    "prompt": (
        "与えられたニュース記事を要約してください。\n\n"
        "ニュース記事:民間の調査会社が1000社を対象に行った調査によると、約半数の企業が業務で\"AI翻訳\"を使っていると答えた。"
        "一方で、誤訳への不安を挙げる企業も多かった。\n"
        "要約:調査によると、国内企業の約半数が業務で\"AI翻訳\"を使っている。\n\n"
        "ニュース記事:川の両岸を結ぶ新しい橋が1日、開通した。これまで車で30分かかっていた移動が10分ほどになる見込みだ。"
        "開通式には多くの住民が集まった。\n要約:"
    ),
    "target": "川の両岸を結ぶ新しい橋が開通し、通勤時間が短くなると期待されている。",
}


@pytest.fixture(scope="module")
def xlsum_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    shutil.copytree(FIXTURES / "xlsum_ja", root / "xlsum_ja", ignore=shutil.ignore_patterns("README.md"))
    return root


def test_xlsum_ja_fixture(xlsum_data, proxy_tokenizer):
    rows = prompt_rows("xlsum_ja", xlsum_data, proxy_tokenizer)
    assert len(rows) == 4
    assert rows[0] == XLSUM_FIRST
    assert rows[-1] == XLSUM_LAST
    assert digest(rows) == "a0d12ccfd300dbc2b67dec919ebb738ebc8477615c0b26a93dbdd4947eeaf778"


def test_xlsum_ja_cuts_long_articles_to_whole_sentences(xlsum_data, proxy_tokenizer):
    """preprocess_ctx: over budget = 4096 - (gold tokens + 10), each article keeps the sentences that fit in
    budget // 2 tokens and ends in "。\\n"; an article whose first sentence alone overflows is token-cut."""
    encode = lambda text: proxy_tokenizer.encode(text, add_special_tokens=False)  # noqa: E731
    items = prepare(load_registry()["xlsum_ja"], xlsum_data, None, BuildContext(tokenizer=proxy_tokenizer)).items
    by_row = {item.meta["row"]: item for item in items}
    for row, first_words in ((2, "第1の段落では"), (3, "句点のない長い記事")):
        item = by_row[row]
        per_piece = (4096 - (len(encode(item.target)) + 10)) // 2
        kept = item.prompt.rsplit("ニュース記事:", 1)[1].removesuffix("要約:")
        assert kept.startswith(first_words) and kept.endswith("\n")
        if row == 2:  # whole sentences while they fit, the last one closed with "。\n"
            sentences = kept.removesuffix("。\n").split("。")
            assert len(encode("ニュース記事:" + "。".join(sentences))) <= per_piece
            following = PARAGRAPH.format(len(sentences) + 1, 3 * len(sentences) + 3)
            assert len(encode("ニュース記事:" + "。".join(sentences + [following]))) > per_piece
        else:  # no "。": the first "sentence" is the whole article, cut to per_piece tokens and closed with "\n"
            assert "。" not in kept
            assert len(encode("ニュース記事:" + kept.removesuffix("\n"))) == per_piece  # the prefix is in the sentence
    assert len(encode(by_row[0].prompt)) < 300  # short contexts are left alone
    assert by_row[0].prompt == XLSUM_LAST["prompt"]


def test_xlsum_ja_prompts_need_the_models_tokenizer(xlsum_data):
    result = cli("prompts", "xlsum_ja", "--data-dir", str(xlsum_data), check=False)
    assert result.returncode == 2
    assert "error: xlsum_ja: prompts are cut to the evaluated model's context in its tokens; pass --tokenizer MODEL" in result.stderr


def test_mgsm_ja_embedded_sample(tmp_path, shared_data):
    from swallow_eval.data import SAMPLE_ROOT

    assert (SAMPLE_ROOT / "mgsm" / "exemplars.py").read_bytes() == (shared_data / "mgsm" / "exemplars.py").read_bytes()
    env = {"SWALLOW_EVAL_CACHE_DIR": str(tmp_path), "SWALLOW_EVAL_DATA_DIR": ""}
    rows = jsonl(cli("prompts", "mgsm_ja", env=env).stdout)
    assert [row["target"] for row in rows] == [3, 18]  # the first 2 problems, in Random(42) order
    assert all(row["prompt"].count("問題：") == 5 for row in rows)
