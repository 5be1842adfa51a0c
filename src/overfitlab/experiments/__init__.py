"""Named, reproducible experiments; see :func:`overfitlab.experiments.registry.experiments`."""
