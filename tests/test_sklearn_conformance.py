"""scikit-learn's ``check_estimator`` on every public estimator, with default parameters.

The estimators are enumerated from ``skal.__all__``: a new public estimator
class that is not listed here fails :func:`test_every_public_estimator_is_checked`,
so none can escape the checks. Every instance is built with its defaults (a
conformance claim holds for the defaults a user gets); a check an estimator
cannot pass is declared in the estimator's own tags, with its reason, not here.

``NoiseAwareActiveLearner`` is checked around every query strategy, alone and
with a filter, NAS on and off. The default run checks every strategy alone and
the coverage strategies (and random) with a filter; the rest of the grid
(model-based strategies with a filter: each NAS share refits nothing but
reselects, so a 300-point check pool costs ~100 selections) runs with
``-m slow``.
"""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from sklearn.base import BaseEstimator
from sklearn.utils.estimator_checks import parametrize_with_checks

import skal
from skal import filters as skal_filters
from skal import strategies as skal_strategies
from skal.filters import CentroidFilter
from skal.learner import NoiseAwareActiveLearner

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _public_classes(module, base):
    return sorted({obj for name in module.__all__ if inspect.isclass(obj := getattr(module, name))
                   and issubclass(obj, base) and not inspect.isabstract(obj)},
                  key=lambda c: c.__name__)


STRATEGIES = _public_classes(skal_strategies, skal_strategies.QueryStrategy)
FILTERS = _public_classes(skal_filters, skal_filters.NoiseFilter)
FAST_WITH_FILTER = {"RandomSampling", "ProbCover", "MaxHerding", "Coreset"}


def _learners():
    fast, slow = [NoiseAwareActiveLearner()], []
    for cls in STRATEGIES:
        fast.append(NoiseAwareActiveLearner(cls()))
        with_filter = [NoiseAwareActiveLearner(cls(), CentroidFilter()),
                       NoiseAwareActiveLearner(cls(), CentroidFilter(), noise_aware=False)]
        (fast if cls.__name__ in FAST_WITH_FILTER else slow).extend(with_filter)
    return fast, slow


def _coteaching():
    from skal.coteaching import CoTeachingClassifier
    return [CoTeachingClassifier()]


FAST_LEARNERS, SLOW_LEARNERS = _learners()
# Parameters without a default: the ideal filter must be told the truth.
REQUIRED = {"IdealFilter": lambda: {"is_noisy": np.zeros(10_000, dtype=bool)}}
FILTER_INSTANCES = [cls(**REQUIRED.get(cls.__name__, dict)()) for cls in FILTERS]
CHECKED = FAST_LEARNERS + SLOW_LEARNERS + FILTER_INSTANCES + _coteaching()


def test_every_public_estimator_is_checked():
    public = {obj for name in skal.__all__ if inspect.isclass(obj := getattr(skal, name))
              and issubclass(obj, BaseEstimator) and hasattr(obj, "fit")
              and not inspect.isabstract(obj)}
    public |= set(FILTERS)
    assert public <= {type(est) for est in CHECKED}
    checked_strategies = {type(est.strategy) for est in FAST_LEARNERS if est.strategy is not None}
    assert checked_strategies == set(STRATEGIES)


@parametrize_with_checks(FAST_LEARNERS + FILTER_INSTANCES + _coteaching())
def test_check_estimator_with_defaults(estimator, check):
    check(estimator)


@pytest.mark.slow
@parametrize_with_checks(SLOW_LEARNERS)
def test_check_estimator_with_defaults_slow_grid(estimator, check):
    check(estimator)
