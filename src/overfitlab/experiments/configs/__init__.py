"""Experiment configurations, importable without JAX, matplotlib, scikit-learn or SciPy.

Experiment ``a-b`` (module ``overfitlab.experiments.a_b``) keeps its Config subclass, the one
defined in ``configs/a_b.py``, here, with the constants its validation and memory footprint need,
so that a configuration is built and checked (``overfitlab run NAME --seeds 100000`` refused,
``overfitlab params NAME`` listed) in a fraction of a second, before the experiment and its
engine are imported (:func:`overfitlab.experiments.registry.config_class`). The shared bases of
the course's experiments live in :mod:`.course`, :mod:`.cross_validation` and
:mod:`.penalty_sweep`.
"""
