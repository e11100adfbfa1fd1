"""n_probe="auto": the probe count of the inverted-file graph chosen from sampled exact balls."""

import numpy as np
import pytest

from skal import _ann
from skal._ann import choose_n_probe, ivf_delta_ball_graph
from skal.neighbors import delta_ball_graph, unit_normalize
from skal.strategies import ProbCover


@pytest.fixture
def mixture():
    rng = np.random.default_rng(3)
    centres = rng.normal(size=(6, 8)) * 1.5
    X = centres[rng.integers(0, 6, 240)] + rng.normal(size=(240, 8))
    return unit_normalize(X)


def test_need_of_each_edge_by_hand():
    # Three cells; cell 0 ranks (0, 1, 2), cell 1 ranks (1, 2, 0), cell 2 ranks (2, 1, 0).
    order = np.array([[0, 1, 2], [1, 2, 0], [2, 1, 0]])
    cell = np.array([0, 0, 1, 2])
    rows = np.array([0])
    # Row 0 (cell 0) has edges to itself and point 1 (same cell: 1 probe),
    # point 2 (cell 1: rank_0(1) = 1, so 2 probes) and point 3 (cell 2:
    # rank_0(2) = 2, rank_2(0) = 2, so 3 probes).
    balls = [np.array([0, 1, 2, 3])]
    assert choose_n_probe(order, cell, rows, balls, 0.5) == (1, 0.5)
    assert choose_n_probe(order, cell, rows, balls, 0.75) == (2, 0.75)
    assert choose_n_probe(order, cell, rows, balls, 0.76) == (3, 1.0)
    assert choose_n_probe(order, cell, rows, balls, 1.0) == (3, 1.0)


def test_the_other_cell_probing_counts_too():
    # Cell 0 ranks cell 2 last, but cell 2 ranks cell 0 second: 2 probes suffice.
    order = np.array([[0, 1, 2], [1, 0, 2], [2, 0, 1]])
    cell = np.array([0, 2])
    n_probe, recall = choose_n_probe(order, cell, np.array([0]), [np.array([0, 1])], 1.0)
    assert (n_probe, recall) == (2, 1.0)


def test_lower_confidence_end_by_hand():
    # Two rows of one cell each with 4 edges; row 0 finds all of them with
    # one probe, row 1 needs 2 probes for 2 of its edges. With one probe the
    # sampled recall is 6/8 = 0.75; per-row misses (0, 2) around the ratio
    # 0.25 * (4, 4) = (1, 1) give a standard error of
    # sqrt(((-1)^2 + 1^2) / (2 * 1)) / 4 = 0.25.
    order = np.array([[0, 1], [1, 0]])
    cell = np.array([0, 0, 0, 0, 1, 1])
    balls = [np.array([0, 1, 2, 3]), np.array([0, 1, 4, 5])]
    rows = np.array([0, 1])
    assert choose_n_probe(order, cell, rows, balls, 0.7, z=0.0) == (1, 0.75)
    assert choose_n_probe(order, cell, rows, balls, 0.5, z=1.0) == (1, 0.75)  # 0.75 - 0.25
    assert choose_n_probe(order, cell, rows, balls, 0.51, z=1.0) == (2, 1.0)


def _naive_choice(mixture, delta, n_cells, min_recall, z=1.645):
    """Build the graph with every probe count; per-row recall from the rows themselves."""
    exact = delta_ball_graph(mixture, delta, normalized=True)
    sizes = np.diff(exact.indptr).astype(float)
    m = sizes.size
    recall = {}
    chosen = None
    for p in range(1, n_cells + 1):
        g = ivf_delta_ball_graph(mixture, delta, n_cells=n_cells, n_probe=p, random_state=0,
                                 backend="numpy")
        assert (g > exact).nnz == 0
        missed = sizes - np.diff(g.indptr)
        r = 1.0 - missed.sum() / sizes.sum()
        resid = missed - (1.0 - r) * sizes
        se = np.sqrt(np.sum(resid**2) / (m * (m - 1))) / sizes.mean()
        recall[p] = r
        if chosen is None and r - z * se >= min_recall - 1e-12:
            chosen = p
    return chosen, recall


# 0.7: one probe keeps 0.72 of the edges, enough without the margin, not with it.
@pytest.mark.parametrize("min_recall", [0.3, 0.7, 0.95, 0.99, 1.0])
@pytest.mark.parametrize("z", [0.0, 1.645])
def test_auto_matches_a_naive_choice(mixture, min_recall, z, monkeypatch):
    # With every row sampled, the sampled recall is the recall of the whole graph.
    monkeypatch.setattr(_ann, "_CHOICE_ROWS", mixture.shape[0])
    monkeypatch.setattr(_ann, "_CHOICE_Z", z)
    delta, n_cells = 0.8, 10
    want, recall = _naive_choice(mixture, delta, n_cells, min_recall, z)
    auto, info = ivf_delta_ball_graph(mixture, delta, n_cells=n_cells, n_probe="auto",
                                      min_recall=min_recall, random_state=0, backend="numpy",
                                      return_info=True)
    assert info["n_probe"] == want
    assert recall[want] >= min_recall
    assert info["sampled_recall"] == pytest.approx(recall[want])
    same = ivf_delta_ball_graph(mixture, delta, n_cells=n_cells, n_probe=want, random_state=0,
                                backend="numpy")
    assert (auto != same).nnz == 0


def test_the_margin_matters_on_this_data(mixture):
    # Else the z=1.645 cases above could not tell the margin from none.
    assert _naive_choice(mixture, 0.8, 10, 0.7, 0.0)[0] < _naive_choice(mixture, 0.8, 10, 0.7)[0]


def test_the_recall_targets_are_not_trivial(mixture, monkeypatch):
    # The parametrised test above would pass with any count if one probe
    # already found everything: make sure the counts differ on this data.
    monkeypatch.setattr(_ann, "_CHOICE_ROWS", mixture.shape[0])
    chosen = {r: ivf_delta_ball_graph(mixture, 0.8, n_cells=10, min_recall=r, random_state=0,
                                      backend="numpy", return_info=True)[1]["n_probe"]
              for r in (0.3, 1.0)}
    assert chosen[0.3] < chosen[1.0]


def test_compared_pairs_counts_each_point_pair_once(mixture):
    n = mixture.shape[0]
    _, info = ivf_delta_ball_graph(mixture, 0.8, n_cells=10, n_probe=10, random_state=0,
                                   backend="numpy", return_info=True)
    assert info["compared_pairs"] == n * (n + 1) / 2  # every pair, diagonal included
    assert info["sampled_recall"] is None and info["n_probe"] == 10


def test_bad_probe_arguments(mixture):
    with pytest.raises(ValueError, match="n_probe"):
        ivf_delta_ball_graph(mixture, 0.8, n_probe="many")
    with pytest.raises(ValueError, match="min_recall"):
        ivf_delta_ball_graph(mixture, 0.8, min_recall=0.0)
    with pytest.raises(ValueError, match="min_recall"):
        ProbCover(delta=0.8, approximate=True, min_recall=1.5).select(mixture, 2)


def test_strategy_reports_the_count_it_used(mixture):
    s = ProbCover(delta=0.8, approximate=True, random_state=0)
    s.select(mixture, 3)
    assert isinstance(s.n_probe_, int) and s.n_probe_ >= 1
    assert s.missed_edges_["recall"] >= 0.9
    fixed = ProbCover(delta=0.8, approximate=True, n_probe=2, random_state=0)
    fixed.select(mixture, 3)
    assert fixed.n_probe_ == 2
    exact = ProbCover(delta=0.8, random_state=0)
    exact.select(mixture, 3)
    assert exact.n_probe_ is None


def test_saved_graph_of_another_recall_target_is_not_reused(mixture):
    a = ProbCover(delta=0.8, approximate=True, random_state=0)
    a.select(mixture, 2)
    cache = a.get_pool_cache()
    b = ProbCover(delta=0.8, approximate=True, min_recall=0.5, random_state=0)
    assert not b.set_pool_cache(mixture, cache)
    c = ProbCover(delta=0.8, approximate=True, random_state=0)
    assert c.set_pool_cache(mixture, cache)
    assert c.n_probe_ is None  # the count "auto" chose is not saved with the graph


def test_stratified_weighted_estimate_by_hand():
    # Stratum 0 (rows 0, 1) stands for 5 points per row, stratum 1 (rows 2, 3)
    # for 1. Only row 0 misses an edge with one probe (point 4 is in cell 1).
    order = np.array([[0, 1], [1, 0]])
    cell = np.array([0, 0, 0, 0, 1])
    balls = [np.array([0, 4]), np.array([1, 2]), np.array([2, 3]), np.array([3, 0])]
    rows = np.arange(4)
    kw = {"weights": np.array([5.0, 5.0, 1.0, 1.0]), "strata": np.array([0, 0, 1, 1])}
    # Weighted recall 1 - 5 / 24; stratum 0's residuals (7/12, -5/12) have
    # variance 0.5, so se = sqrt(10^2 * 0.5 / 2) / 24 = 5/24.
    n_probe, recall = choose_n_probe(order, cell, rows, balls, 0.79, z=0.0, **kw)
    assert n_probe == 1 and recall == pytest.approx(19 / 24)
    assert choose_n_probe(order, cell, rows, balls, 0.8, z=0.0, **kw) == (2, 1.0)
    assert choose_n_probe(order, cell, rows, balls, 0.58, z=1.0, **kw)[0] == 1  # 14/24 = 0.583
    assert choose_n_probe(order, cell, rows, balls, 0.59, z=1.0, **kw)[0] == 2


def test_choice_sample_takes_half_from_the_far_tenth():
    rng = np.random.default_rng(0)
    own_sim = rng.random(1000)
    rows, weights, strata = _ann._choice_sample(own_sim, 200, np.random.default_rng(1))
    assert np.all(np.diff(rows) > 0)
    far = set(np.argsort(own_sim)[:100].tolist())
    assert {int(r) in far for r in rows[strata == 0]} == {True}
    assert not any(int(r) in far for r in rows[strata == 1])
    assert (strata == 0).sum() == 100 and (strata == 1).sum() == 100
    assert weights.sum() == pytest.approx(1000)  # every pool point stood for once
    assert np.all(weights[strata == 0] == 1.0) and np.all(weights[strata == 1] == 9.0)
    all_rows, w, h = _ann._choice_sample(own_sim, 5000, np.random.default_rng(1))
    assert np.array_equal(all_rows, np.arange(1000)) and np.all(w == 1) and np.all(h == 0)
