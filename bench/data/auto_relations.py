"""`relations = "auto"`: propose the Eq. 18 links R_t from texts and inexact labels only.

A target class t is "mentioned" by a text when one of its tokens (`addes.tokens.tokenize`)
is t's name or one of its aliases (`classes.aliases` in the spec). Source class s is linked
to t when the texts tagged s mention t at a rate well above the base rate of all texts:

    lift(s, t) = P(mention t | s) / P(mention t) >= MIN_LIFT, with at least MIN_MENTIONS
    mentions, and a one-sided binomial test of P(mention t | s) > P(mention t) significant
    at ALPHA / |S| (Bonferroni over the source classes).

A target with no link that passes keeps its single best-lift source class (marked "weak"),
since Eq. 19 needs at least one link per target (`addes.graph.prior_links`); a target never
mentioned at all is a user error. No target label is read: only texts and y_s.

`oracle_links` (analysis only, never used to choose links) counts the links the TRUE target
labels imply on the same texts: s -> t when P(t | s) >= ORACLE_MIN_LIFT x P(t), with at least
MIN_MENTIONS texts tagged both: the same "well above the base rate" with labels in place of
mentions.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from scipy.stats import binomtest

from addes.tokens import tokenize
from bench.errors import UserError
from bench.io import atomic_write_text, check_writable

MIN_LIFT = 3.0
MIN_MENTIONS = 3
ALPHA = 0.01
ORACLE_MIN_LIFT = 2.0


@dataclass(frozen=True)
class Link:
    """A proposed link source -> target with its evidence."""

    source: str
    target: str
    n_source: int  # texts tagged source
    mentions: int  # of those, texts mentioning the target
    rate: float  # mentions / n_source
    base_rate: float  # share of all texts mentioning the target
    lift: float
    p_value: float
    weak: bool = False  # kept only because the target had no link passing the thresholds

    def line(self) -> str:
        flag = " (weak: best below the thresholds)" if self.weak else ""
        return (f"  {self.source:>16} -> {self.target:<12} {self.mentions}/{self.n_source} "
                f"texts mention it ({self.rate:.1%} vs {self.base_rate:.1%} overall, lift "
                f"{self.lift:.1f}, p = {self.p_value:.1e}){flag}")


def mentions(texts: Sequence[str], names: Sequence[str]) -> np.ndarray:
    """bool [n]: the texts with a token among `names`."""
    wanted = set(names)
    return np.array([not wanted.isdisjoint(tokenize(t)) for t in texts], dtype=bool)


def propose(texts: Sequence[str], y_s: np.ndarray, s_names: Sequence[str],
            targets: Sequence[str], aliases: Mapping[str, Sequence[str]],
            where: str = "relations") -> list[Link]:
    """The links of every target (see the module docstring), best lift first per target."""
    y_s = np.asarray(y_s, bool)
    links: list[Link] = []
    for t in targets:
        hit = mentions(texts, (t, *aliases.get(t, ())))
        base = float(hit.mean()) if len(hit) else 0.0
        if base == 0.0:
            raise UserError(f"{where}: auto: no text mentions target {t!r}; add "
                            f"classes.aliases.{t} or give the relations")
        candidates = []
        for j, s in enumerate(s_names):
            n = int(y_s[:, j].sum())
            if n == 0:
                continue
            k = int(hit[y_s[:, j]].sum())
            p = binomtest(k, n, base, alternative="greater").pvalue if k else 1.0
            candidates.append(Link(s, t, n, k, k / n, base, (k / n) / base, float(p)))
        strong = [c for c in candidates if c.lift >= MIN_LIFT and c.mentions >= MIN_MENTIONS
                  and c.p_value < ALPHA / max(1, len(s_names))]
        if not strong:
            best = max(candidates, key=lambda c: (c.lift, c.mentions), default=None)
            if best is None or best.mentions == 0:
                raise UserError(f"{where}: auto: no source class's texts mention target {t!r}; "
                                f"add classes.aliases.{t} or give the relations")
            strong = [Link(**{**asdict(best), "weak": True})]
        links += sorted(strong, key=lambda c: (-c.lift, c.source))
    return links


def as_relations(links: Sequence[Link]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for link in links:
        out.setdefault(link.target, []).append(link.source)
    return out


def save(path: Path, links: Sequence[Link], note: str) -> None:
    """A relations file (`bench.data.splits.load_relations` format) the user can edit; the
    evidence rides along under keys starting with "_", which the reader ignores."""
    blob = {"_source": note, **as_relations(links),
            "_evidence": [asdict(link) for link in links]}
    atomic_write_text(path, json.dumps(blob, indent=1) + "\n")


def oracle_links(y_s: np.ndarray, y_t: np.ndarray, s_names: Sequence[str],
                 targets: Sequence[str]) -> set[tuple[str, str]]:
    """ANALYSIS ONLY: (source, target) pairs with P(t | s) >= ORACLE_MIN_LIFT x P(t) and at
    least MIN_MENTIONS texts tagged both, under the true target labels."""
    y_s, y_t = np.asarray(y_s, bool), np.asarray(y_t, bool)
    pairs = set()
    for i, t in enumerate(targets):
        base = y_t[:, i].mean()
        for j, s in enumerate(s_names):
            both = int((y_s[:, j] & y_t[:, i]).sum())
            if both >= MIN_MENTIONS and both / y_s[:, j].sum() >= ORACLE_MIN_LIFT * base:
                pairs.add((s, t))
    return pairs


def precision_recall(links: Sequence[Link], oracle: set[tuple[str, str]]) -> tuple[float, float]:
    """Of the proposed links, the share in `oracle`; of `oracle`, the share proposed (nan when
    a set is empty)."""
    proposed = {(link.source, link.target) for link in links}
    both = len(proposed & oracle)
    precision = both / len(proposed) if proposed else float("nan")
    recall = both / len(oracle) if oracle else float("nan")
    return precision, recall


def resolve(spec, corpus, scale, run_dir: Path) -> Path:
    """The relations file a spec's run uses: its own file; an inline table written to
    `<run_dir>/relations.json`; or for "auto" the proposal (printed with its evidence, and
    with its precision and recall against `oracle_links` as analysis) written to
    `<run_dir>/relations-auto.json`, from the texts and inexact labels of D_l and validation.
    Nothing is written when it fails."""
    if isinstance(spec.relations, Path):
        return spec.relations
    if isinstance(spec.relations, dict):
        check_writable(run_dir)
        path = run_dir / "relations.json"
        atomic_write_text(path, json.dumps({"_source": f"inline in {spec.path}",
                                            **spec.relations}, indent=1) + "\n")
        return path
    from bench.data.splits import labeled_training_rows

    rows = labeled_training_rows(corpus, scale)
    s_names = [t for t in corpus.tags if t not in spec.targets]
    labels = corpus.labels[rows]
    y_s = labels[:, [corpus.tags.index(s) for s in s_names]]
    texts = [corpus.titles[i] for i in rows]
    links = propose(texts, y_s, s_names, spec.targets, spec.aliases,
                    where=f"{spec.path}: classes.relations")
    oracle = oracle_links(y_s, labels[:, [corpus.tags.index(t) for t in spec.targets]],
                          s_names, spec.targets)
    precision, recall = precision_recall(links, oracle)
    check_writable(run_dir)
    path = run_dir / "relations-auto.json"
    save(path, links, f"relations = \"auto\" of {spec.path} at scale {scale.name}: "
         f"{len(texts)} texts of D_l and validation (no target label read)")
    analysis = {"_note": "ANALYSIS ONLY (true target labels of D_l and validation; never used "
                f"to choose links): oracle link s -> t when P(t | s) >= {ORACLE_MIN_LIFT} x P(t)",
                "precision": precision, "recall": recall,
                "proposed": sorted(map(list, {(k.source, k.target) for k in links})),
                "oracle": sorted(map(list, oracle))}
    atomic_write_text(run_dir / "relations-auto-oracle.json", json.dumps(analysis, indent=1) + "\n")
    lines = [f"bench: auto relations ({len(texts)} texts of D_l and validation; edit {path} "
             f"and set classes.relations to it to change them):", *(k.line() for k in links),
             f"bench: oracle analysis (true labels, P(t|s) >= {ORACLE_MIN_LIFT} x P(t)): "
             f"precision {precision:.2f}, recall {recall:.2f} over {len(oracle)} oracle links"]
    print("\n".join(lines), file=sys.stderr)
    return path


REPORT_TITLE = "## Relations (auto)"


def report_section(run_dir: Path) -> str:
    """report.md's section on the auto relations: links, evidence, oracle precision/recall."""
    proposed = json.loads((run_dir / "relations-auto.json").read_text())
    oracle = json.loads((run_dir / "relations-auto-oracle.json").read_text())
    rows = [f"| {e['source']} | {e['target']} | {e['mentions']}/{e['n_source']} | "
            f"{e['rate']:.1%} | {e['base_rate']:.1%} | {e['lift']:.1f} | {e['p_value']:.1e} | "
            f"{'yes' if e['weak'] else 'no'} |" for e in proposed["_evidence"]]
    return "\n".join([
        REPORT_TITLE, "", f"Eq. 18 links proposed without target labels ({proposed['_source']}); "
        "file: `relations-auto.json`.", "",
        "| source | target | texts mentioning target | rate | base rate | lift | p | weak |",
        "|---|---|---|---|---|---|---|---|", *rows, "",
        f"Oracle analysis (true target labels, never used to choose links; oracle link when "
        f"P(t | s) >= {ORACLE_MIN_LIFT} x P(t)): precision {_share(oracle['precision'])}, recall "
        f"{_share(oracle['recall'])}; oracle links: "
        f"{', '.join(f'{s} -> {t}' for s, t in oracle['oracle']) or 'none'}.", ""])


def _share(value: float | None) -> str:
    """A precision or recall; "n/a" when undefined (no proposed or no oracle links)."""
    return "n/a" if value is None or value != value else f"{value:.2f}"
