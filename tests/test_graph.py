"""Eq. 15, 17, 18, 19 of the paper on hand-computed examples."""

import numpy as np
import pytest

from addes.graph import ClassGraph, conditional_cooccurrence, prior_links

# 4 instances over inexact classes (a, b, c)
Y_S = np.array([[1, 1, 0],
                [1, 0, 0],
                [0, 1, 1],
                [1, 1, 1]], dtype=float)


def test_eq17_conditional_probability_by_hand():
    a = conditional_cooccurrence(Y_S)
    # N = (3, 3, 2); M_ab = 2, M_ac = 1, M_bc = 2
    expected = np.array([[0, 2 / 3, 1 / 2],
                         [2 / 3, 0, 2 / 2],
                         [1 / 3, 2 / 3, 0]])
    np.testing.assert_allclose(a, expected)


def test_eq17_class_that_never_occurs_has_zero_column():
    a = conditional_cooccurrence(np.array([[1, 0], [1, 0]]))
    np.testing.assert_array_equal(a, [[0, 0], [0, 0]])


def test_eq18_links_and_absent_names():
    links, absent = prior_links(("a", "b", "c"), ("t1", "t2"),
                                {"t1": ["a", "zzz"], "t2": ["b", "c"]})
    np.testing.assert_array_equal(links, [[1, 0, 0], [0, 1, 1]])
    assert absent == ["t1: zzz"]


def test_eq18_target_without_link_is_an_error():
    with pytest.raises(ValueError, match="t2"):
        prior_links(("a",), ("t1", "t2"), {"t1": ["a"], "t2": ["nothing"]})


def _graph():
    links, _ = prior_links(("a", "b", "c"), ("t",), {"t": ["b"]})
    return ClassGraph.from_inexact_labels(Y_S, ("a", "b", "c"), ("t",), links)


def test_graph_layout_s_then_t_and_symmetric_links():
    g = _graph()
    assert g.classes == ("a", "b", "c", "t") and g.n_inexact == 3 and g.n_target == 1
    np.testing.assert_array_equal(g.adjacency[3, :3], [0, 1, 0])
    np.testing.assert_array_equal(g.adjacency[:3, 3], [0, 1, 0])
    assert g.adjacency[3, 3] == 0


def test_eq19_target_is_one_iff_a_linked_inexact_label_is_on():
    est = _graph().estimate_targets(Y_S)
    np.testing.assert_array_equal(est[:, 0], [1, 0, 1, 1])


def test_eq15_propagation_rows_sum_to_one_with_self_loop():
    g = _graph()
    p = g.propagation_matrix()
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-6)
    # row t: A_t = (0, 1, 0, 0) + I -> (0, 1/2, 0, 1/2)
    np.testing.assert_allclose(p[3], [0, 0.5, 0, 0.5], rtol=1e-6)


def test_addes_w_reweights_from_true_labels_and_keeps_links():
    g = _graph()
    y_all = np.concatenate([Y_S, [[1], [0], [0], [1]]], axis=1)
    w = g.reweighted_by_true_labels(y_all)
    # P(t | a) = M_ta / N_a = 2/3 ; P(a | t) = 2/2
    assert w.adjacency[3, 0] == pytest.approx(2 / 3)
    assert w.adjacency[0, 3] == pytest.approx(1.0)
    np.testing.assert_array_equal(w.target_links, g.target_links)
