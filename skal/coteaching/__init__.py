"""Co-Teaching (Han et al., NeurIPS 2018) as a skorch / scikit-learn estimator.

Two networks train side by side. On every mini-batch each network ranks the
samples by its own cross-entropy and hands the ``k = floor((1 - r) n)``
smallest-loss ones to the *other* network, which is updated on them only.
Because the two networks start from different random weights they make
different mistakes, so each filters label noise that the other would have
memorised. ``r``, the forget rate, ramps up over the first epochs (networks fit
clean patterns before noisy ones, so early on there is little to forget).

Public names:

- :func:`forget_rate_scheduler` -- the per-epoch forget-rate schedule;
- :func:`loss_coteaching` -- the small-loss exchange on one mini-batch, with
  the Co-Teaching+ variant (Yu et al., 2019) as an option;
- :func:`learning_rate_plan` -- the per-epoch learning-rate factor and Adam
  beta1 of the paper;
- :class:`CoTeachingSchedule` -- the callback that applies both plans;
- :class:`CoTeachingClassifier` -- the estimator.

The package has one module per job: ``_schedules`` (the plans), ``_loss``
(the exchange), ``_callbacks``, ``_data`` (batch loading), ``_pair`` (the
two networks), ``_runtime`` (device and seeding), ``_targets`` (inputs and
labels) and ``_classifier``.

Compared with the cleanlab port (``cleanlab/experimental/coteaching.py``) this
module divides each loss by the kept samples once (the port divides the
already averaged loss by ``k`` again), switches Adam's beta1 to 0.1 at
``epoch_decay_start`` (the port sets 0.9 twice), never builds a schedule longer
than the number of epochs, and ends the forget-rate ramp at the target rate so
the schedule has no jump.
"""

from ._callbacks import CoTeachingSchedule, _accuracy_on_codes, _QuietPrintLog
from ._classifier import CoTeachingClassifier
from ._loss import loss_coteaching
from ._schedules import forget_rate_scheduler, learning_rate_plan

__all__ = [
    "forget_rate_scheduler",
    "loss_coteaching",
    "learning_rate_plan",
    "CoTeachingSchedule",
    "CoTeachingClassifier",
]

# The public objects report this package as their module, so that pickles,
# saved states and the API reference use the stable path
# ``skal.coteaching.<name>`` whatever private module defines them.
# The two private names are here because fitted estimators pickled before the
# package split refer to them as skal.coteaching._QuietPrintLog / ._accuracy_on_codes.
for _obj in (forget_rate_scheduler, loss_coteaching, learning_rate_plan, CoTeachingSchedule,
             CoTeachingClassifier, _QuietPrintLog, _accuracy_on_codes):
    _obj.__module__ = __name__
del _obj
