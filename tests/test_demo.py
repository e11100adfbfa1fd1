import numpy as np
import pytest
from sklearn.model_selection import train_test_split

from skal import DeltaSchedule
from skal.datasets import load_digits_embeddings
from skal.demo import DEMO_FILTERS, format_demo_table, recommended_learner, run_demo
from skal.filters import CentroidFilter, GraphFilter
from skal.noise import NoisyOracle
from skal.strategies import ProbCover


@pytest.fixture(scope="module")
def small():
    return run_demo(n_seeds=1, n_rounds=2, budget=20, progress=False)


def test_recommended_learner_is_the_documented_default():
    learner = recommended_learner(random_state=3)
    assert isinstance(learner.strategy, ProbCover) and learner.strategy.delta == "auto"
    assert isinstance(learner.noise_filter, CentroidFilter)
    assert learner.noise_aware is True
    assert learner.train_on == "relabel" and learner.noise_dropout == 0.0
    assert learner.random_state == 3
    assert isinstance(learner.delta_schedule, DeltaSchedule)
    assert learner.delta_schedule.policy == "max_support_size_take_min"
    other = recommended_learner(GraphFilter(), budget=7)
    assert isinstance(other.noise_filter, GraphFilter) and other.budget == 7
    # Each learner gets its own schedule; None gives the constant δ.
    assert other.delta_schedule is not learner.delta_schedule
    assert recommended_learner(delta_schedule=None).delta_schedule is None


def test_columns_and_shapes(small):
    assert list(small["accuracy"]) == ["Random", "ProbCover", "ProbCover+Centroid",
                                       "NAS(Centroid)"]
    assert small["n_labeled"] == [20, 40]
    for acc in small["accuracy"].values():
        assert acc.shape == (1, 2) and np.all((acc >= 0) & (acc <= 1))
    assert small["config"]["n_pool"] == 1257 and small["config"]["n_test"] == 540


def test_nas_column_equals_the_recommended_learner_run_by_hand(small):
    # A naive re-run of the NAS column for seed 0: same split, same annotator.
    X, y = load_digits_embeddings(return_X_y=True)
    Xp, Xt, yp, yt = train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)
    oracle = NoisyOracle(yp, noise_rate=0.5, random_state=0)
    learner = recommended_learner(random_state=0, budget=20)
    got = []
    for _ in range(2):
        learner.fit_round(Xp, oracle)
        got.append(learner.score(Xt, yt))
    assert np.allclose(small["accuracy"]["NAS(Centroid)"][0], got)
    # Filter precision is a share of flagged labels; NaN only when none was flagged.
    p = small["filter_precision"]
    assert np.all(np.isnan(p) | ((p >= 0) & (p <= 1)))


def test_table_has_the_mean_over_rounds(small):
    text = format_demo_table(small)
    mean_line = next(line for line in text.splitlines() if line.strip().startswith("mean"))
    per_seed = small["accuracy"]["ProbCover"].mean(axis=1)
    assert f"{per_seed.mean():.3f} ± {per_seed.std():.3f}" in mean_line
    assert "NAS(Centroid)" in text.splitlines()[1]


def test_bad_filter_name():
    with pytest.raises(ValueError, match="noise_filter must be one of"):
        run_demo(noise_filter="nope", progress=False)


def test_cli_filter_choices_match_the_demo(capsys):
    from skal.__main__ import build_parser

    demo = build_parser()._subparsers._group_actions[0].choices["demo"]
    action = next(a for a in demo._actions if a.dest == "filter")
    assert sorted(action.choices) == sorted(DEMO_FILTERS) and action.default == "centroid"
    args = build_parser().parse_args(["demo"])
    assert (args.rounds, args.budget, args.noise_rate) == (5, 20, 0.5)
