"""Dataset splits shared by every method: D_l, D_u, validation, test, classes and graph.

A `Split` is fixed per (dataset, scale, data source) and cached on disk, so every method and
seed sees the same partition. What a method may see:
  D_l = (labeled, y_s)      inputs with their INEXACT labels only
  D_u = unlabeled           inputs only
  val = (val, val_y_s)      carved from the training side, inexact labels only; methods select
                            models on it against Eq. 19's estimated targets, never on test
  graph                     the class graph G (Eq. 17 on D_l, Eq. 18 links)
The test targets are for evaluation. The true target labels of the training side exist only
behind `oracle_target_labels`, called by evaluation diagnostics and the ADDES-W oracle.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from addes.data import Inputs
from addes.graph import ClassGraph, prior_links
from addes.tokens import build_vocab, encode
from bench.data import stackoverflow
from bench.data.spec import READERS, DataSpec, read_corpus, read_images, shipped_specs
from bench.data.stamps import content_stamp, content_stamps
from bench.data.wordgraph import GRAPH_TYPES, TARGET_ESTIMATES, WordGraph
from bench.errors import UserError
from bench.io import atomic_save, load_cached
from bench.scales import Scale

log = logging.getLogger("bench")

WORD_GRAPH_VERSION = 2  # bump when a cached image split's WordGraph changes shape
SPLIT_SEED = 20210814  # the partition's own seed, separate from the per-job seeds
DEFAULT_RELATIONS = Path(__file__).with_name("stackoverflow_relations.json")


# the paper's datasets: the shipped specs (bench/data/specs/*.toml), read as a user's spec is
DATASETS: dict[str, DataSpec] = {spec.name: spec for spec in shipped_specs()}
# suite -> its datasets: the shipped specs of each built-in reader
SUITES: dict[str, tuple[str, ...]] = {
    reader: tuple(s.name for s in shipped_specs() if s.reader == reader) for reader in READERS}


def register_spec(spec: DataSpec) -> None:
    """Make a user's dataset spec loadable by name in this process (workers call it again:
    the spec travels in the run context)."""
    DATASETS[spec.name] = spec


def modality_of(dataset: str) -> str:
    """"text" or "image" for a known dataset (text for unknown names: they fail later)."""
    spec = DATASETS.get(dataset)
    return spec.modality if spec else "text"


def graph_from_words(dataset: str) -> bool:
    """Whether a known dataset's G comes from the MJSynth word list (not from Eq. 18's
    relations file): its keys then stamp the word list instead of the relations."""
    spec = DATASETS.get(dataset)
    return spec is not None and spec.graph_from_words


def file_stamp(path: Path | None) -> str:
    """The content stamp of a file (a word list), or "default" for None."""
    return "default" if path is None else content_stamp(Path(path))


@dataclass(frozen=True, eq=False)
class Split:
    dataset: str
    scale: str
    source: str  # "synthetic stand-in" or "real: <folder>"
    labeled: Inputs
    y_s: np.ndarray  # float32 [n_l, |S|]
    unlabeled: Inputs
    val: Inputs
    val_y_s: np.ndarray
    test: Inputs
    test_y_t: np.ndarray  # float32 [n_test, |T|]: evaluation only
    graph: ClassGraph
    _hidden_y_t: dict[str, np.ndarray] = field(repr=False)  # true y_t of training-side parts

    @property
    def inexact(self) -> tuple[str, ...]:
        return self.graph.inexact

    @property
    def targets(self) -> tuple[str, ...]:
        return self.graph.targets

    @property
    def modality(self) -> str:
        return self.labeled.modality

    @property
    def sizes(self) -> dict[str, int]:
        return {"n_labeled": len(self.labeled), "n_unlabeled": len(self.unlabeled),
                "n_val": len(self.val), "n_test": len(self.test)}

    def oracle_target_labels(self, part: str) -> np.ndarray:
        """TRUE target labels of a training-side part ("labeled", "unlabeled", "val").

        The ONLY way to the hidden labels. Callers: evaluation diagnostics and the ADDES-W
        oracle variant. Rows of D_u that came without tags are -1.
        """
        return self._hidden_y_t[part]

    def with_scrambled_oracle(self, seed: int, flip: float = 0.3) -> Split:
        """A copy whose hidden training-side target labels are shuffled (rows permuted) and
        then a `flip` share of the known 0/1 entries flipped, so that each target's prevalence
        changes too and a leak of label frequencies alone is visible (for the leak tests).
        Unknown entries (-1) stay unknown."""
        rng = np.random.default_rng(seed)
        scrambled = {}
        for part, labels in self._hidden_y_t.items():
            y = rng.permutation(labels)
            flipped = (rng.random(y.shape) < flip) & (y >= 0)
            scrambled[part] = np.where(flipped, 1 - y, y).astype(labels.dtype)
        return replace(self, _hidden_y_t=scrambled)

    def estimated_targets(self, y_s: np.ndarray, mode: str = "hard") -> np.ndarray:
        """Eq. 19 applied to inexact labels: how D_e gets its target labels. `mode` (the job
        parameter target_estimate) other than "hard" needs a graph with p(y_t | y_s): the
        MJSynth suite's forest (wordgraph.TARGET_ESTIMATES); Eq. 19's links are 0/1 only."""
        if mode == "hard":
            return self.graph.estimate_targets(y_s)
        if not isinstance(self.graph, WordGraph):
            raise UserError(f"target_estimate={mode!r}: {self.dataset}'s Eq. 19 gives 0/1 "
                            f"targets only; soft and prevalence estimates need the MJSynth "
                            f"suite's forest")
        if mode not in TARGET_ESTIMATES:
            raise UserError(f"target_estimate: unknown {mode!r}; choose one of "
                            f"{', '.join(TARGET_ESTIMATES)}")
        return self.graph.estimate_targets(y_s, mode)


SPLIT_TYPES = (Split, Inputs, *GRAPH_TYPES)  # the classes a cached split holds


# ---------------------------------------------------------------------------------------------


def load_relations(path: Path) -> dict[str, list[str]]:
    """The Eq. 18 relations file: JSON {target: [related inexact tag, ...]}
    (keys with _ ignored)."""
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{path}: relations file not found") from None
    except OSError as err:  # a folder, no permission, ...
        raise UserError(f"{path}: relations file cannot be read ({err.strerror})") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise UserError(f"{path}: relations file does not parse ({err})") from None
    if not isinstance(raw, dict):
        raise UserError(f"{path}: relations file must map each target to a list of tags")
    relations = {}
    for key, value in raw.items():
        if key.startswith("_"):
            continue
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise UserError(f"{path}: entry {key!r} must be a list of tag names")
        relations[key.lower()] = [v.lower() for v in value]
    return relations


def split_key(dataset: str, scale: Scale, source_id: str, relations_path: Path) -> str:
    """Hash of everything that determines a split (code changes aside). The MJSynth datasets
    ignore the relations file (their graph comes from the word list, which is in source_id)."""
    modality = modality_of(dataset)
    relations = ("" if graph_from_words(dataset)
                 else Path(relations_path).read_bytes().decode("utf-8", "replace"))
    blob = json.dumps([dataset, scale.identity(modality), source_id, SPLIT_SEED, relations],
                      sort_keys=True, default=str)
    return hashlib.sha1(blob.encode()).hexdigest()[:16]


def load_split(
    dataset: str,
    scale: Scale,
    data_dir: Path | None,
    cache_dir: Path,
    relations_path: Path = DEFAULT_RELATIONS,
    n_labeled: int | None = None,
    word_list: Path | None = None,
) -> Split:
    """The cached split of `dataset` at `scale` (|D_l| overridable), built on first use.
    Image datasets (MJSynth) read `word_list` for their graph; text datasets ignore it."""
    spec = DATASETS.get(dataset)
    if spec is None:
        raise UserError(f"unknown dataset {dataset!r}; known: {', '.join(DATASETS)}")
    relations = {} if spec.graph_from_words else load_relations(relations_path)
    # a file spec is its fingerprint; a reader (the paper's datasets) its data files' contents
    source_id = (f"spec:{spec.fingerprint()}" if spec.reader is None else
                 "data" if data_dir else "synthetic")
    if data_dir is not None and spec.reader is not None:
        source_id += "|" + content_stamps(p for p in sorted(data_dir.iterdir()) if p.is_file())
    if spec.graph_from_words:
        source_id += f"|words={file_stamp(word_list)}|graph={WORD_GRAPH_VERSION}"
    key = split_key(dataset, scale, f"{source_id}|n_labeled={n_labeled}", relations_path)
    path = cache_dir / "splits" / f"{dataset}-{scale.name}-{key}.npz"
    cached = load_cached(path, lambda s: isinstance(s, Split), SPLIT_TYPES)
    if cached is not None:
        return cached
    if spec.graph_from_words:
        from bench.data.image_split import build_image_split

        split = build_image_split(
            dataset, spec.targets,
            n_labeled=scale.mj_n_labeled if n_labeled is None else n_labeled,
            n_unlabeled=scale.mj_n_unlabeled, n_val=scale.mj_n_val, n_test=scale.mj_n_test,
            data_dir=data_dir, word_list=word_list, cache_dir=cache_dir, scale_name=scale.name)
        atomic_save(split, path, SPLIT_TYPES)
        return split
    corpus = read_corpus(spec, scale, data_dir, cache_dir)
    shipped = Path(relations_path).resolve() == DEFAULT_RELATIONS.resolve()
    split = build_corpus_split(corpus, spec, scale, relations, str(relations_path), n_labeled,
                               warn_absent=not shipped)
    atomic_save(split, path, SPLIT_TYPES)
    return split


def requested_sizes(scale: Scale, modality: str, n_labeled: int | None = None
                    ) -> tuple[int, int, int, int]:
    """(n_test, n_val, n_labeled, n_unlabeled) a scale asks of a dataset of `modality`: the
    text suite's sizes, or the image suite's mj_* sizes (|D_l| overridable)."""
    if modality == "image":
        sizes = (scale.mj_n_test, scale.mj_n_val, scale.mj_n_labeled, scale.mj_n_unlabeled)
    else:
        sizes = (scale.n_test, scale.n_val, scale.n_labeled, scale.n_unlabeled)
    return sizes if n_labeled is None else (sizes[0], sizes[1], n_labeled, sizes[3])


def _partition_sizes(n_pool: int, n_extra: int, requested: tuple[int, int, int, int]
                     ) -> tuple[int, int, int, int]:
    """(n_test, n_val, n_labeled, n_unlabeled), capped to the data: test at most 60% of the
    tagged pool, validation at most 10%, D_l what remains up to its size, then D_u."""
    want_test, want_val, want_l, want_u = requested
    n_test = min(want_test, int(0.6 * n_pool))
    n_val = min(want_val, int(0.1 * n_pool))
    n_l = min(want_l, n_pool - n_test - n_val)
    n_u = min(want_u, n_extra + n_pool - n_test - n_val - n_l)
    return n_test, n_val, n_l, n_u


def labeled_training_rows(corpus: stackoverflow.Corpus, scale: Scale,
                          modality: str = "text") -> np.ndarray:
    """Corpus rows of validation and D_l at `scale` (the scale's |D_l|): the part of the
    training side with inexact labels. The same first draw as `build_corpus_split`'s."""
    order = np.random.default_rng(SPLIT_SEED).permutation(len(corpus.titles))
    n_test, n_val, n_l, _ = _partition_sizes(len(order), len(corpus.extra_unlabeled),
                                             requested_sizes(scale, modality))
    return order[n_test : n_test + n_val + n_l]


def build_corpus_split(
    corpus: stackoverflow.Corpus,
    spec: DataSpec,
    scale: Scale,
    relations: dict[str, list[str]],
    relations_name: str,
    n_labeled: int | None = None,
    warn_absent: bool = True,
) -> Split:
    """Partition the corpus of a spec with files (or the stackoverflow reader) and build G
    from Eq. 17 on D_l and Eq. 18's relations. The partition is the same for every dataset
    of the corpus, and test and validation come first, so varying |D_l| (Figure 6) keeps them
    fixed. A text spec's items are titles, encoded over a vocabulary of the training side; an
    image spec's are image paths, read as the image suite's inputs (`read_images`). Relation
    tags outside the corpus's classes are ignored, with a warning when `warn_absent`."""
    missing = [t for t in spec.targets if t not in corpus.tags]
    if missing:
        raise UserError(f"target tag(s) {', '.join(missing)} not among the corpus's "
                        f"{len(corpus.tags)} most frequent tags ({corpus.source})")
    rng = np.random.default_rng(SPLIT_SEED)
    order = rng.permutation(len(corpus.titles))
    requested = requested_sizes(scale, spec.modality, n_labeled)
    sizes = _partition_sizes(len(order), len(corpus.extra_unlabeled), requested)
    n_test, n_val, n_l, n_u = sizes
    if sizes != requested:
        log.warning("%s: data smaller than scale %r asks; sizes capped to test %d, val %d, "
                    "D_l %d, D_u %d (asked %s)", corpus.source, scale.name, n_test, n_val, n_l,
                    n_u, "/".join(map(str, requested)))
    if min(n_l, n_val, n_test) <= 0:
        raise UserError(f"{corpus.source}: only {len(order)} labeled items, too few to split")
    idx_test, idx_val = order[:n_test], order[n_test : n_test + n_val]
    idx_l = order[n_test + n_val : n_test + n_val + n_l]
    idx_rest = order[n_test + n_val + n_l :]
    extra = list(corpus.extra_unlabeled)
    extra_order = rng.permutation(len(extra))
    n_u_extra = min(n_u, len(extra))
    idx_u_tagged = idx_rest[: n_u - n_u_extra]
    unlabeled_titles = ([extra[i] for i in extra_order[:n_u_extra]]
                        + [corpus.titles[i] for i in idx_u_tagged])

    s_names = tuple(t for t in corpus.tags if t not in spec.targets)
    s_cols = [corpus.tags.index(t) for t in s_names]
    t_cols = [corpus.tags.index(t) for t in spec.targets]
    labels = corpus.labels.astype(np.float32)

    def titles(idx):
        return [corpus.titles[i] for i in idx]

    if spec.modality == "image":
        def inputs(names):
            return Inputs(read_images(spec, tuple(names)), tuple(names), None)
    else:
        train_side = titles(idx_l) + titles(idx_val) + unlabeled_titles
        vocab = build_vocab(train_side, scale.vocab_size)

        def inputs(texts):
            return Inputs(encode(texts, vocab, scale.max_len), tuple(texts), vocab)

    try:
        links, absent = prior_links(s_names, spec.targets, relations)
    except ValueError as err:
        raise UserError(f"{relations_name}: {err}") from None
    if absent:  # the shipped file names tags of the paper's full corpus: it does not warn
        log.log(logging.WARNING if warn_absent else logging.DEBUG,
                "%s: relation tags not among the %d classes, ignored: %s",
                relations_name, len(corpus.tags), ", ".join(absent))
    y_s = labels[idx_l][:, s_cols]
    graph = ClassGraph.from_inexact_labels(y_s, s_names, spec.targets, links)
    unknown = -np.ones((n_u_extra, len(t_cols)), np.float32)
    hidden = {
        "labeled": labels[idx_l][:, t_cols],
        "val": labels[idx_val][:, t_cols],
        "unlabeled": np.concatenate([unknown, labels[idx_u_tagged][:, t_cols]]),
    }
    test_y_t = labels[idx_test][:, t_cols]
    empty = [t for t, col in zip(spec.targets, test_y_t.T, strict=True) if col.sum() == 0]
    if empty:
        raise UserError(f"{corpus.source}: target class(es) {', '.join(empty)} have no positive "
                        f"example in the {n_test}-question test set")
    return Split(
        dataset=spec.name, scale=scale.name, source=corpus.source,
        labeled=inputs(titles(idx_l)), y_s=y_s,
        unlabeled=inputs(unlabeled_titles),
        val=inputs(titles(idx_val)), val_y_s=labels[idx_val][:, s_cols],
        test=inputs(titles(idx_test)), test_y_t=test_y_t,
        graph=graph, _hidden_y_t=hidden,
    )
