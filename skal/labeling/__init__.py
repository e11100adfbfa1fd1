"""Labeling with people: a session kept in one state file, pool readers, Label Studio formats.

:class:`LabelingSession` wraps a :class:`~skal.NoiseAwareActiveLearner` with
its pool file and item ids, so that annotators can be asked for labels in
one process (``skal query``) and answer hours later in another (``skal
teach``); every change is written atomically.
"""

from ._answers import Answers, parse_classes, read_answers_csv
from ._pool import POOL_FORMATS, LabelingError, Pool, read_pool
from ._session import Batch, LabelingSession, TeachResult

__all__ = ["LabelingSession", "Batch", "TeachResult", "Pool", "read_pool", "POOL_FORMATS",
           "LabelingError", "Answers", "read_answers_csv", "parse_classes"]
