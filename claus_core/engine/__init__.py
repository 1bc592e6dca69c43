"""The round engine: what runs an active-learning round, in the study and in a labeling project.

::

    sources.make_sources ──> frames of the train pool and the test split
    training.train_round ──> the detector trained on the annotations (Section 7.3, STeW, clusters)
    round_step.select_step ──> scores, clusters and the next selection, in memory (Algorithm 1)
    experiment.Experiment ──> rounds of one run persisted in the run store, resumed, shared round 0;
                              experiment.run_study: every run of a study

A labeling project (:mod:`claus_core.labeling.rounds`) uses ``train_round`` and ``select_step``
with a person as the oracle; the detector comes from :mod:`claus_core.model.factory`.
"""
