"""The real-data formats end to end on small fixtures written here, so that these checks run on
a fresh clone too (the ../shared samples they mirror are optional; their tests skip without
them): Kaggle StackSample (Questions.csv with HTML bodies over several lines, Tags.csv, CRLF
line ends, a UTF-8 BOM or ISO-8859-1 as the full file is) through `load_split`, and a Synth90k
folder in its own layout (`<d>/<d>/<n>_<Word>_<lexicon index>.jpg`, annotation_val.txt,
lexicon.txt, mixed-case words, a corrupt image) through `build_image_split`.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from bench.data.image_split import build_image_split
from bench.data.splits import load_split
from bench.data.stackoverflow import load_corpus
from bench.scales import get_scale

N_QUESTIONS = 400
# 30 tags, so the paper's "25 most frequent" filter has something to drop
TAGS = ["javascript", "c#", "php", "java", "jquery", "python", "html", "css", "c++", "ios",
        "android", "mysql", "sql", "asp.net", "ruby-on-rails", "c", "objective-c", ".net",
        "iphone", "arrays", "json", "ajax", "django", "r", "ruby", "fortran", "cobol", "ada",
        "lisp", "prolog"]


def write_stacksample(folder, encoding: str) -> dict[int, list[str]]:
    """Questions.csv and Tags.csv in Kaggle's layout; returns id -> tags. The last 5 tags are
    rare (below the top 25); question ids are not contiguous."""
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    weights = np.r_[np.full(25, 10.0), np.full(5, 1.0)]
    q_lines = ["Id,OwnerUserId,CreationDate,ClosedDate,Score,Title,Body"]
    t_lines = ["Id,Tag"]
    tags_of = {}
    for i in range(N_QUESTIONS):
        qid = 80 + 7 * i
        tags = sorted(set(rng.choice(TAGS, size=rng.integers(1, 4), p=weights / weights.sum())))
        tags_of[qid] = tags
        title = f'How to use {tags[0]} with "quotes", commas and caf\u00e9 #{i}'
        body = f'"<p>Body of {i},\r\nover two lines</p>\r\n<pre><code>x = 1</code></pre>"'
        owner = "NA" if i % 7 == 0 else str(26 + i)
        q_lines.append(f'{qid},{owner},2008-08-01T13:57:07Z,NA,{i % 5},"'
                       + title.replace('"', '""') + f'",{body}')
        t_lines += [f"{qid},{tag}" for tag in tags]
    bom = "\ufeff" if encoding == "utf-8" else ""
    (folder / "Questions.csv").write_bytes((bom + "\r\n".join(q_lines) + "\r\n").encode(encoding))
    (folder / "Tags.csv").write_bytes((bom + "\r\n".join(t_lines) + "\r\n").encode(encoding))
    return tags_of


@pytest.mark.parametrize("encoding", ["utf-8", "iso-8859-1"])
def test_stacksample_format_through_the_split(tmp_path, encoding):
    data = tmp_path / "stacksample"
    tags_of = write_stacksample(data, encoding)
    corpus = load_corpus(data, tmp_path / "cache")
    assert len(corpus.tags) == 25 and {"javascript", "c#", "php", "java"} <= set(corpus.tags)
    kept = [tags for tags in tags_of.values() if set(tags) & set(corpus.tags)]
    assert len(corpus.titles) == len(kept) < N_QUESTIONS  # questions with no kept tag dropped
    assert corpus.titles[0].startswith("How to use") and "caf\u00e9" in corpus.titles[0]
    assert '"quotes", commas' in corpus.titles[0]
    first = [t for t in tags_of[80] if t in corpus.tags]
    assert sorted(c for c, v in zip(corpus.tags, corpus.labels[0], strict=True) if v) == first
    split = load_split("stackoverflow-1", get_scale("smoke"), data, tmp_path / "cache")
    assert split.source.startswith("real") and split.targets == ("javascript",)
    assert sum(split.sizes.values()) <= len(kept)  # capped to the data
    assert 0 < split.test_y_t.mean() < 1 and split.y_s.shape[1] == 24


def _jpeg(seed: int) -> bytes:
    buffer = io.BytesIO()
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (31, 40 + seed % 60, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(buffer, format="JPEG")
    return buffer.getvalue()


WORDS = ("apple", "house", "river", "stone", "tiger", "candle", "bread", "music", "lamp", "cloud",
         "paint", "grass", "shirt", "sugar", "world", "Hello", "PARIS", "Queen")


def write_synth90k(root, n: int = 120):
    """n images in the official layout, words cycling through WORDS (three not lowercase), the
    10th image corrupt; annotation_val.txt and lexicon.txt as in the dataset."""
    folder = root / "mnt" / "ramdisk" / "max" / "90kDICT32px"
    lines = []
    for i in range(n):
        word = WORDS[i % len(WORDS)]
        shard = folder / str(1 + i % 3) / str(1 + i % 5)
        shard.mkdir(parents=True, exist_ok=True)
        name = f"{i}_{word}_{WORDS.index(word)}.jpg"
        (shard / name).write_bytes(b"not a jpeg" if i == 9 else _jpeg(i))
        lines.append(f"./{1 + i % 3}/{1 + i % 5}/{name} {WORDS.index(word)}")
    (folder / "annotation_val.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / "lexicon.txt").write_text("\n".join(WORDS) + "\n", encoding="utf-8")
    return root


def test_synth90k_layout_through_the_split(tmp_path):
    data = write_synth90k(tmp_path / "mjsynth")
    split = build_image_split("mjsynth-1", ("e",), n_labeled=30, n_unlabeled=30, n_val=10,
                              n_test=30, data_dir=data, word_list=None, cache_dir=tmp_path,
                              scale_name="smoke")
    assert split.source == "real: mjsynth"
    usable = sum(WORDS[i % len(WORDS)].islower() for i in range(120)) - 1  # less the corrupt
    assert split.sizes == {"n_labeled": 30, "n_unlabeled": 30, "n_val": 10, "n_test": 30}
    assert sum(split.sizes.values()) <= usable
    assert split.labeled.x.shape[1:] == (1, 32, 100) and split.labeled.x.dtype == np.float32
    assert split.y_s.shape[1] == 25 and 0 < split.test_y_t.mean() < 1
