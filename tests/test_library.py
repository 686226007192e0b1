"""ADDES as a library (addes.estimator): the README example, scikit-learn conventions, graphs
from names and relations, save / load in the no-pickle format, images, and the library's
independence from `baselines` and `bench`."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from addes import ADDESConfig, ADDESEstimator, ClassGraph
from addes.data import Inputs
from addes.graph import prior_links
from addes.train import ADDESGenerator

ROOT = Path(__file__).resolve().parents[1]
TOPICS = {"css": "css div margin flexbox", "django": "django view model queryset",
          "html": "html div table tag", "numpy": "numpy array reshape axis"}
GRAPH = {"targets": ["python"], "relations": {"python": ["django", "numpy"]}}
TINY = dict(embed_dim=8, hidden=8, latent=4, max_len=8, epochs_classifier=1, epochs_vae=1,
            epochs_joint=1, cons_batch=4, cons_top_k=4)


def toy_data(n: int = 40) -> tuple[list[str], list[set[str]]]:
    names = sorted(TOPICS)
    titles, tags = [], []
    for i in range(n):
        a, b = names[i % 4], names[(i // 4) % 4]
        words = f"{TOPICS[a]} {TOPICS[b]}".split()
        titles.append(" ".join(words[(i + k) % len(words)] for k in range(5)))
        tags.append({a, b})
    return titles, tags


@pytest.fixture(scope="module")
def fitted() -> ADDESEstimator:
    titles, tags = toy_data()
    return ADDESEstimator(seed=0, **TINY).fit(titles, tags, GRAPH, unlabeled=titles[::2])


def test_readme_example_runs_verbatim():
    section = (ROOT / "README.md").read_text().split("## ADDES as a library", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    exec(compile(code, "README.md (ADDES as a library)", "exec"), {})


def test_importing_addes_imports_neither_baselines_nor_bench():
    modules = [f"addes.{p.stem}" for p in (ROOT / "addes").glob("*.py") if p.stem != "__init__"]
    code = (f"import sys; import {', '.join(modules)}; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('baselines', 'bench')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         check=True, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert len(modules) >= 10 and out.stdout.strip() == "[]", out.stdout + out.stderr


def test_an_unfitted_estimator_says_so(tmp_path):
    est = ADDESEstimator()
    for call in (lambda: est.sample(2), lambda: est.predict_proba(["a title"]),
                 lambda: est.save(tmp_path / "x.pt")):
        with pytest.raises(NotFittedError, match="not fitted yet: call fit"):
            call()


def test_parameters_follow_scikit_learn():
    est = ADDESEstimator(seed=3, latent=8, label_sampling="prior")
    params = est.get_params()
    assert params["latent"] == 8 and params["seed"] == 3 and params["embed_dim"] == 300
    assert set(params) >= {f for f in ADDESConfig.__dataclass_fields__}
    assert clone(est).get_params() == params  # sklearn rebuilds it from get_params
    assert est.set_params(latent=16).config.latent == 16 and est.seed == 3
    assert "latent=16" in repr(est)
    with pytest.raises(TypeError, match="unknown parameter.*laten"):
        ADDESEstimator(laten=8)
    with pytest.raises(ValueError, match="label_sampling must be one of"):
        ADDESEstimator(label_sampling="nope").fit(*toy_data(), GRAPH)


def test_fitted_attributes_and_graph_from_names(fitted):
    titles, tags = toy_data()
    assert fitted.classes_ == ("css", "django", "html", "numpy", "python")
    assert fitted.modality_ == "text" and fitted.vocab_[:4] == ("<pad>", "<unk>", "<bos>",
                                                                "<eos>")
    assert "django" in fitted.vocab_
    y_s = np.array([[c in row for c in fitted.classes_[:4]] for row in tags], np.float32)
    links, _ = prior_links(fitted.classes_[:4], ["python"], GRAPH["relations"])
    expected = ClassGraph.from_inexact_labels(y_s, fitted.classes_[:4], ["python"], links)
    np.testing.assert_array_equal(fitted.graph_.adjacency, expected.adjacency)  # Eq. 17 + 18
    np.testing.assert_array_equal(fitted.graph_.target_links, [[False, True, False, True]])
    proba = fitted.predict_proba(titles[:3])
    assert proba.shape == (3, 5) and ((proba > 0) & (proba < 1)).all()


@pytest.mark.parametrize("graph,message", [
    ({"targets": []}, "names no target class"),
    ({"targets": ["python"], "relations": {"python": ["django", "flask"]}},
     "absent from the inexact labels: python: flask"),
    ({"targets": ["python"], "relations": {}}, "python have no related inexact class"),
    ({"targets": ["python"], "relations": {"python": ["django"], "go": ["css"]}},
     "names go, not among the targets"),
])
def test_a_bad_graph_is_named(graph, message):
    with pytest.raises(ValueError, match=message):
        ADDESEstimator(**TINY).fit(*toy_data(8), graph)


def test_binary_labels_need_the_inexact_names():
    titles, tags = toy_data(8)
    y_s = np.array([[c in row for c in sorted(TOPICS)] for row in tags], np.float32)
    with pytest.raises(ValueError, match='give "inexact"'):
        ADDESEstimator(**TINY).fit(titles, y_s, GRAPH)
    with pytest.raises(ValueError, match="8 inputs but 7 rows"):
        ADDESEstimator(**TINY).fit(titles, y_s[:7], {**GRAPH, "inexact": sorted(TOPICS)})


def test_sample_takes_labels_as_names_rows_or_a_matrix(fitted):
    texts, labels = fitted.sample(3, labels=["html", "python"])
    assert len(texts) == 3 and all(isinstance(t, str) for t in texts)
    np.testing.assert_array_equal(labels, [[0, 0, 1, 0, 1]] * 3)
    rows = [["css"], ["django", "python"]]
    assert fitted.sample(2, rows, seed=1)[1].tolist() == [[1, 0, 0, 0, 0], [0, 1, 0, 0, 1]]
    same = fitted.sample(2, np.array([[1, 0, 0, 0, 0], [0, 1, 0, 0, 1]]), seed=1)
    assert same[0] == fitted.sample(2, rows, seed=1)[0]
    drawn, y = fitted.sample(5)  # labels from label_sampling ("resample")
    assert len(drawn) == 5 and y.shape == (5, 5)
    with pytest.raises(ValueError, match="names 'go', not among"):
        fitted.sample(1, ["go"])
    with pytest.raises(ValueError, match=r"sample\(3\) got 2 label rows"):
        fitted.sample(3, rows)


def test_save_and_load_give_the_same_estimator_without_pickle(fitted, tmp_path):
    path = tmp_path / "addes.pt"
    fitted.save(path)
    payload = torch.load(path, weights_only=True)  # tensors and containers only
    assert set(payload) == {"npz", "tensors"}
    again = ADDESEstimator.load(path)
    assert again.get_params() == fitted.get_params() and again.classes_ == fitted.classes_
    assert again.sample(4, seed=2)[0] == fitted.sample(4, seed=2)[0]
    titles, _ = toy_data(6)
    np.testing.assert_array_equal(again.predict_proba(titles), fitted.predict_proba(titles))
    with pytest.raises(ValueError, match="saved to a .pt file"):
        fitted.save(tmp_path / "addes.pkl")
    torch.save({"npz": torch.zeros(3, dtype=torch.uint8), "tensors": {}}, tmp_path / "bad.pt")
    with pytest.raises(Exception):  # noqa: B017 - any refusal, as long as nothing is built
        ADDESEstimator.load(tmp_path / "bad.pt")


def test_the_estimator_trains_the_generator_the_harness_always_trained():
    """Encoded Inputs (what the harness passes) train exactly ADDESGenerator.fit's model."""
    titles, tags = toy_data()
    est = ADDESEstimator(seed=0, **TINY).fit(titles, tags, GRAPH, unlabeled=titles[::2])
    labeled = est._inputs(titles)
    y_s = np.array([[c in row for c in est.classes_[:4]] for row in tags], np.float32)
    config = ADDESConfig(**{k: v for k, v in TINY.items() if k != "max_len"})
    direct = ADDESGenerator(config, 0).fit(labeled, y_s, est._inputs(titles[::2]), est.graph_,
                                           val=None)
    for name, tensor in direct.model_.state_dict().items():
        assert torch.equal(tensor, est.generator_.model_.state_dict()[name]), name
    ids, _ = est.sample_inputs(6, seed=5)
    y_s6, y_t6 = direct.sample_labels(6, "resample", seed=5)
    np.testing.assert_array_equal(ids.x, direct.generate(y_s6, y_t6, seed=5).x)


def test_images_fit_and_sample():
    rng = np.random.default_rng(0)
    images = rng.random((24, 1, 32, 100), dtype=np.float32)
    tags = [{"a"} if i % 2 else {"b", "c"} for i in range(24)]
    est = ADDESEstimator(latent=4, width_mult=0.0625, batch_size=16, epochs_classifier=1,
                         epochs_vae=1, epochs_joint=1)
    est.fit(images, tags, {"targets": ["e"], "relations": {"e": ["b"]}})
    assert est.modality_ == "image" and est.vocab_ is None
    x, labels = est.sample(3, labels=["a", "e"])
    assert isinstance(x, np.ndarray) and x.shape == (3, 1, 32, 100) and x.dtype == np.float32
    assert labels.tolist() == [[1, 0, 0, 1]] * 3
    assert isinstance(est._inputs(images[:2]), Inputs)
