"""Tables, figures and report.md rendered from fixed synthetic records."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pytest

from bench.report import CaptionFacts, RunInfo, build_reports
from bench.report.figures import ablation_tests, fig3, fig6, fig7, fig8
from bench.report.paper import paper_table
from bench.report.tables import (
    latex_escape,
    paper_comparison_markdown,
    results_grid,
    results_table_latex,
    results_table_markdown,
    table3_latex,
    table3_markdown,
)

DATASETS = ["stackoverflow-1", "stackoverflow-2"]
TABLE2 = ["text-CNN", "GRU", "ML-GCN", "Semi-CNN", "Zero-shot", "AugCNN", "AugGCN",
          "TF-IDF+LR", "AugLR"]
BASE = {"text-CNN": 0.53, "ML-GCN": 0.56, "Semi-CNN": 0.55, "Zero-shot": 0.54,
        "AugCNN": 0.61, "AugGCN": 0.63, "TF-IDF+LR": 0.50, "AugLR": 0.52}  # GRU never run
FACTS = CaptionFacts(source="synthetic stand-in", scale="smoke",
                     sizes={"stackoverflow-1": {"n_labeled": 200, "n_test": 400}})


def _row(experiment, dataset, method, seed, value, status="ok", **params):
    ok = status == "ok"
    row = {"experiment": experiment, "dataset": dataset, "method": method, "seed": seed,
           "status": status, "error": "" if ok else "RuntimeError: boom\ntraceback",
           "mAP": value if ok else np.nan, "AUC": value + 0.25 if ok else np.nan,
           "p_n_synthetic": np.nan, "p_n_labeled": np.nan, "p_variant": None,
           "p_alpha": np.nan, "p_beta": np.nan, "n_labeled": 200, "n_unlabeled": 300,
           "n_val": 100, "n_test": 400, "source": "synthetic stand-in", "scale": "smoke",
           "fit_s": 1.0, "key": f"{experiment}-{dataset}-{method}-{seed}"}
    row.update({f"p_{k}": v for k, v in params.items()})
    return row


def make_records() -> pd.DataFrame:
    """Deterministic records: seed effects shared by all methods (paired design), GRU missing,
    Zero-shot failed on stackoverflow-2, Semi-CNN's seed 4 failed on stackoverflow-1."""
    rng = np.random.default_rng(0)
    seed_effect = rng.normal(0, 0.01, 5)
    rows = []
    for d, dataset in enumerate(DATASETS):
        for method, base in BASE.items():
            for seed in range(5):
                value = base - 0.15 * d + seed_effect[seed] + rng.normal(0, 0.002)
                failed = ((method == "Zero-shot" and d == 1)
                          or (method == "Semi-CNN" and d == 0 and seed == 4))
                rows.append(_row("table2", dataset, method, seed, value,
                                 "failed" if failed else "ok"))
        for n in (0, 100, 200):
            for seed in range(3):
                value = 0.53 + 0.0004 * n - 0.15 * d + seed_effect[seed]
                rows.append(_row("fig3", dataset, "AugCNN", seed, value, n_synthetic=n))
    for n in (100, np.nan):  # NaN: the scale's default |D_l| (realised n_labeled = 200)
        for method, gain in (("text-CNN", 0.0), ("Semi-CNN", 0.02), ("AugCNN", 0.06)):
            for seed in range(3):
                value = 0.45 + gain + (0.05 if np.isnan(n) else 0) + seed_effect[seed]
                rows.append(_row("fig6", "stackoverflow-1", method, seed, value, n_labeled=n))
    for method, base in (("AugCNN", 0.61), ("AugGCN", 0.63)):
        for variant, drop in (("ADDES", 0.0), ("ADDES-CNN", 0.02), ("ADDES-W", 0.01)):
            for seed in range(3):
                value = base - drop + seed_effect[seed] + rng.normal(0, 0.001)
                rows.append(_row("fig7", "stackoverflow-1", method, seed, value, variant=variant))
    for alpha in (0.1, 1.0):
        for beta in (0.1, 1.0, 10.0):
            for seed in range(2):
                value = 0.6 - 0.01 * abs(np.log10(alpha)) - 0.02 * abs(np.log10(beta)) \
                    + seed_effect[seed]
                rows.append(_row("fig8", "stackoverflow-1", "AugCNN", seed, value,
                                 alpha=alpha, beta=beta))
    return pd.DataFrame(rows)


def info(source: str = "synthetic stand-in") -> RunInfo:
    return RunInfo(command="python run_all.py --scale smoke", suite="stackoverflow",
                   scale="smoke", seeds=5, source=source, git_commit="abc123", git_dirty=True,
                   date="2026-01-01T00:00:00", torch_version="2.4.0", device="cpu", threads=1,
                   sizes={"stackoverflow-1": {"n_labeled": 200, "n_test": 400}})


def _table2_latex(records: pd.DataFrame) -> str:
    return results_table_latex(records, "table2", DATASETS, TABLE2, caption_facts=FACTS)


def _row_of(tex: str, metric: str, nth: int = 0) -> list[str]:
    """Cells of the nth row of `metric` (rows follow the datasets' order)."""
    lines = [ln for ln in tex.splitlines() if ln.startswith(f"{metric} &")]
    return [c.strip() for c in lines[nth].removesuffix(r"\\").split("&")]


def test_grid_bold_dagger_missing_failed():
    grid = results_grid(make_records(), "table2", DATASETS, TABLE2)
    best = grid.cells[("stackoverflow-1", "mAP", "AugGCN")]
    assert best.best and best.significant
    assert grid.cells[("stackoverflow-1", "mAP", "GRU")].state == "missing"
    assert grid.cells[("stackoverflow-2", "AUC", "Zero-shot")].state == "failed"
    semi = grid.cells[("stackoverflow-1", "mAP", "Semi-CNN")]
    assert len(semi.values) == 4 and semi.n_total == 5
    assert len(grid.tests) == 4 and all(t.runner_up == "AugCNN" for t in grid.tests)
    assert not grid.cells[("stackoverflow-1", "mAP", "AugCNN")].best


def test_latex_table_cells():
    records = make_records()
    tex = _table2_latex(records)
    assert r"\multicolumn{10}{l}{\textit{StackOverflow-1}} \\" in tex
    cells = _row_of(tex, "mAP")
    assert cells[0] == "mAP"
    by_method = dict(zip(TABLE2, cells[1:], strict=True))
    assert by_method["GRU"] == "--"
    assert re.fullmatch(r"\\textbf\{0\.\d{3}\$\\pm\$0\.\d{3}\}\$\^\{\\dagger\}\$",
                        by_method["AugGCN"])
    assert by_method["Semi-CNN"].endswith("$^{(4/5)}$")
    mean = records.query("experiment == 'table2' and dataset == 'stackoverflow-1' "
                         "and method == 'AugCNN'")["mAP"]
    assert by_method["AugCNN"] == f"{mean.mean():.3f}$\\pm${mean.std(ddof=1):.3f}"
    so2 = dict(zip(TABLE2, _row_of(tex, "AUC", nth=1)[1:], strict=True))
    assert so2["Zero-shot"] == "failed"
    assert r"TF-IDF+LR$^{*}$" in tex and "not in the paper" in tex
    for fact in ("synthetic stand-in", "smoke", "5 seeds", "ddof=1", "labeled 200", "Holm"):
        assert fact in tex
    assert tex.count(r"\begin{tabular}") == 1 and r"\toprule" in tex and r"\bottomrule" in tex


def test_no_dagger_without_significance():
    records = make_records()
    records = records[records["seed"] < 2]  # two seeds: the tests have little power
    tex = _table2_latex(records)
    assert r"\dagger}$" not in tex.split(r"\midrule", 1)[1]
    assert r"\textbf{" in tex


def test_markdown_and_paper_comparison():
    records = make_records()
    md = results_table_markdown(records, "table2", DATASETS, TABLE2)
    assert "| GRU" in md and "--" in md and "failed" in md and "†" in md and "**" in md
    cmp_md = paper_comparison_markdown(records, "table2", paper_table("table2"))
    assert "0.629 ± 0.003" in cmp_md  # the paper's AugGCN mAP on StackOverflow-1
    row = next(ln for ln in cmp_md.splitlines()
               if [c.strip() for c in ln.split("|")][1:4] == ["StackOverflow-1", "mAP", "AugGCN"])
    ours = records.query("experiment == 'table2' and dataset == 'stackoverflow-1' "
                         "and method == 'AugGCN'")["mAP"].mean()
    assert f"{ours - 0.629:+.3f}" in row


def test_paper_results_transcribed():
    t2, t4 = paper_table("table2"), paper_table("table4")
    assert t2.cell("stackoverflow-2", "AUC", "AugGCN") == (0.703, 0.003)
    assert t4.cell("mjsynth-1", "mAP", "SDANN") == (0.767, 0.004)
    assert t4.cell("mjsynth-2", "AUC", "Zero-shot") == (0.567, 0.005)
    assert "Table 2" in t2.source and "Table 4" in t4.source
    for table in (t2, t4):
        assert all(len(table.results[d][m]) == len(table.methods)
                   for d in table.datasets for m in ("mAP", "AUC"))


def test_latex_escape():
    text = r"c# & $.ajax 100% a_b {x} ~y ^z \n"
    assert latex_escape(text) == (r"c\# \& \$.ajax 100\% a\_b \{x\} \textasciitilde{}y "
                                  r"\textasciicircum{}z \textbackslash{}n")
    tex = table3_latex([{"inputs_labels": ["c#", "jquery"], "text": "$.ajax call & 50% ~done",
                         "target_on": True}], FACTS)
    assert r"c\#, jquery & \$.ajax call \& 50\% \textasciitilde{}done & yes \\" in tex
    scored = table3_latex([{"target": "c#", "pair": 0, "target_on": False,
                            "inputs_labels": ["jquery"], "text": "a_b", "judge": 0.25}], FACTS)
    assert r"Target & Input labels & Generated text & y\_t & Judge p(target) \\" in scored
    assert r"c\# & jquery & a\_b & 0 & 0.250 \\" in scored


def test_table3_markdown_shows_each_titles_judge_score_when_it_has_one():
    md = table3_markdown([{"target": "c#", "pair": 0, "target_on": True,
                           "inputs_labels": ["c#", "x|y"], "text": "t", "judge": 0.8125}])
    assert "Judge p(target)" in md and "0.812" in md and r"x\|y" in md
    assert "Judge" not in table3_markdown([{"inputs_labels": [], "text": "t",
                                            "target_on": True}])


def _doc(body: str) -> str:
    return ("\\documentclass{article}\n\\usepackage{booktabs}\n\\begin{document}\n"
            + body + "\n\\end{document}\n")


# LaTeX that compiles with the article class and booktabs: what the tables may use
KNOWN_COMMANDS = {"begin", "end", "centering", "scriptsize", "small", "footnotesize", "caption",
                  "label", "setlength", "tabcolsep", "toprule", "midrule", "bottomrule",
                  "multicolumn", "textbf", "textit", "textasciitilde", "textasciicircum",
                  "textbackslash", "linewidth", "pm", "dagger", "ddagger", "cmidrule",
                  "documentclass", "usepackage", "input", "times", "ldots", "dots", "emph"}
COLUMN = re.compile(r"[lcr]|[pmb]\{[^{}]*\}")


def latex_problems(tex: str) -> list[str]:
    """Structural faults that stop pdflatex: unbalanced braces, math shifts or environments,
    an unescaped # % _ ^ & outside their place, an unknown command, or a tabular row whose
    cells do not fill the declared columns (\\multicolumn counted). Checked where pdflatex is
    missing; where it is present the document is also compiled."""
    problems = []
    body = re.sub(r"\\[{}%&#$_\\ ]", "", tex.replace("\\\\", "\n\\rowend "))
    depth = 0
    for ch in body:
        depth += {"{": 1, "}": -1}.get(ch, 0)
        if depth < 0:
            problems.append("a } closes nothing")
            depth = 0
    if depth:
        problems.append(f"{depth} unclosed {{")
    math = re.split(r"\$", body)
    if len(math) % 2 == 0:
        problems.append("unbalanced $")
    text = "".join(math[::2])  # outside math mode
    for ch in "#%_^":
        if ch in text:
            problems.append(f"unescaped {ch!r} in text")
    for name in set(re.findall(r"\\([A-Za-z]+)", body)) - KNOWN_COMMANDS - {"rowend"}:
        problems.append(f"unknown command \\{name}")
    stack = []
    for kind, env in re.findall(r"\\(begin|end)\{([^}]*)\}", body):
        if kind == "begin":
            stack.append(env)
        elif not stack or stack.pop() != env:
            problems.append(f"\\end{{{env}}} does not match")
    problems += [f"\\begin{{{env}}} not closed" for env in stack]
    for spec, rows in re.findall(r"\\begin\{tabular\}\{((?:[^{}]|\{[^{}]*\})*)\}(.*?)"
                                 r"\\end\{tabular\}", body, re.S):
        n_cols = len(COLUMN.findall(spec))
        *rows, last = (re.sub(r"\\(toprule|midrule|bottomrule)", "", row).strip()
                       for row in rows.split("\\rowend"))
        if last:
            problems.append(f"a tabular row without its \\\\: {last[:60]}")
        for row in rows:
            spans = [int(k) for k in re.findall(r"\\multicolumn\{(\d+)\}", row)]
            cells = row.count("&") + 1 - len(spans) + sum(spans)
            if cells != n_cols:
                problems.append(f"row of {cells} cells in a {n_cols}-column tabular: {row[:60]}")
    stray = re.sub(r"\\begin\{tabular\}.*?\\end\{tabular\}", "", text, flags=re.S)
    if "&" in stray:
        problems.append("unescaped '&' outside a tabular")
    return problems


def test_latex_checker_finds_each_fault():
    good = _doc("\\begin{tabular}{lc}\n\\toprule\nA & \\textbf{b}$\\pm$ \\\\\n"
                "\\multicolumn{2}{l}{x\\_y \\% \\#} \\\\\n\\bottomrule\n\\end{tabular}")
    assert latex_problems(good) == []
    for fault in ("{", "}", "$", "#", "%", "a_b", "x^2", "\\textbff{x}", "\\begin{center}",
                  "\\end{table}", "A & B & C \\\\", "a & b"):
        broken = good.replace("\\bottomrule", fault + "\n\\bottomrule") if "&" in fault \
            else good.replace("\\end{document}", fault + "\n\\end{document}")
        assert latex_problems(broken), fault


def test_latex_is_well_formed_and_compiles(tmp_path):
    records = make_records()
    tables = {"table2.tex": _table2_latex(records), "table3.tex": table3_latex(
        [{"inputs_labels": ["c#", "c++"], "text": r"$.ajax {x} ~ ^ \ 100% a_b & #1",
          "target_on": False}], FACTS),
              "table3s.tex": table3_latex([{"target": "c#", "pair": 0, "target_on": True,
                                            "inputs_labels": ["c#"], "text": "x_y & 1%",
                                            "judge": 0.5}], FACTS)}
    for name, tex in tables.items():
        assert latex_problems(_doc(tex)) == [], name
        (tmp_path / name).write_text(tex)
    if shutil.which("pdflatex") is None:
        return  # the structural check above is what runs here
    (tmp_path / "doc.tex").write_text(_doc("\n".join(f"\\input{{{name}}}" for name in tables)))
    run = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "doc.tex"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout[-2000:]
    assert (tmp_path / "doc.pdf").stat().st_size > 1000


def _check_png(path: Path) -> None:
    assert path.stat().st_size > 20_000
    pixels = mpimg.imread(path)
    assert pixels.ndim == 3 and pixels.std() > 0.01


@pytest.mark.parametrize("draw", [fig3, fig6, fig7, fig8])
def test_figures(draw, tmp_path):
    paths = draw(make_records(), tmp_path, FACTS)
    assert [p.suffix for p in paths] == [".png", ".pdf"]
    _check_png(paths[0])
    assert paths[1].stat().st_size > 5_000
    assert draw(make_records().iloc[0:0], tmp_path / "empty", FACTS) == []


def test_ablation_tests_paired():
    tests = ablation_tests(make_records())
    assert len(tests) == 8 and set(tests["test"]) == {"paired"}
    assert (tests["delta"] > 0).all() and (tests["p_holm"] >= tests["p_value"]).all()


def _links(md: str) -> list[str]:
    return re.findall(r"\]\(([^)]+)\)", md)


def test_build_reports(tmp_path):
    records = make_records()
    examples = [{"inputs_labels": ["javascript"], "text": "$.ajax in c# | x", "target_on": True}]
    paths = build_reports(tmp_path, records, info(), examples)
    md = (tmp_path / "report.md").read_text()
    assert {p.name for p in paths} >= {"table2.tex", "table3.tex", "report.md", "fig3.png",
                                       "fig8.pdf"}
    assert not (tmp_path / "tables" / "table4.tex").exists()
    links = _links(md)
    assert len(links) == 10 and all((tmp_path / link).is_file() for link in links)
    assert "not meaningful" in md and "abc123" in md and "uncommitted" in md
    assert "AugCNN vs text-CNN" in md and "AugGCN vs ML-GCN" in md and "AugLR vs TF-IDF+LR" in md
    assert "RuntimeError: boom" in md and "traceback" not in md  # first line of errors only
    assert "0.629 ± 0.003" in md  # the paper's Table 2 beside ours
    assert "MJSynth-1" not in md and "over 0 seeds" not in md  # no Table 4 in a text-only run
    assert not list(tmp_path.rglob("*.tmp"))


def test_build_reports_table4_and_real_source(tmp_path):
    records = make_records()
    t4 = records[records["experiment"] == "table2"].copy()
    t4["experiment"] = "table4"
    t4["dataset"] = t4["dataset"].str.replace("stackoverflow", "mjsynth")
    t4["method"] = t4["method"].replace({"text-CNN": "SDANN"})
    t4 = t4[~t4["method"].isin(["TF-IDF+LR", "AugLR"])]
    both = pd.concat([records, t4], ignore_index=True)
    both["source"] = "real: so-data"
    estimate = {"dataset": "mjsynth-1", "target": "e", "estimate": "soft", "AUC": 0.7241,
                "AP": 0.86, "predicted prevalence": 0.7, "true prevalence": 0.69}
    build_reports(tmp_path, both, info("real: so-data"), label_estimates=[estimate])
    md = (tmp_path / "report.md").read_text()
    assert "ceiling the inexact supervision leaves" in md and "oracle analysis" in md
    assert "| mjsynth-1 | e | soft | 0.724 |" in md
    tex = (tmp_path / "tables" / "table4.tex").read_text()
    assert "MJSynth-1" in tex and "SDANN" in tex and "real: so-data" in tex
    md = (tmp_path / "report.md").read_text()
    assert "not meaningful" not in md and "AugCNN vs SDANN" in md
    assert "over 0 seeds" not in md and md.count("Ours - paper") == 2  # Tables 2 and 4
    assert not (tmp_path / "tables" / "table3.tex").exists()


def test_report_comparisons_and_ablations_are_holm_corrected():
    """Guards "Holm across the comparisons" in report.md's comparison and ablation tables
    (page.comparisons_frame, figures.ablation_tests): their p_holm must be Holm's adjustment
    of their p-values over the whole frame, which is above the raw p for some comparison. A
    frame that copied the raw p-values into p_holm passed every other report test."""
    from bench.report.page import comparisons_frame
    from bench.stats import holm

    records = make_records()
    frames = [comparisons_frame(records, "table2", DATASETS,
                                [("AugCNN", "text-CNN"), ("AugGCN", "ML-GCN")]),
              ablation_tests(records)]
    for frame in frames:
        assert len(frame) >= 4
        assert frame["p_holm"].tolist() == pytest.approx(holm(frame["p_value"].tolist()))
        assert (frame["p_holm"] > frame["p_value"]).any()
