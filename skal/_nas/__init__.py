"""The machinery behind :class:`~skal.NoiseAwareActiveLearner` (private).

One job per module:

* :mod:`._ledger`: the labeled-set ledger (what was bought, what the annotator
  said, what the filter believes, which labels a person corrected);
* :mod:`._steps`: the NAS steps (which labels may cover, judging labels with
  the filter, selecting a share, choosing the training set);
* :mod:`._engine`: the round engine that ``query``/``teach`` and ``fit_round``
  share, with the open round as a typed record;
* :mod:`._persistence`: saving and loading the whole state without pickle.
"""
