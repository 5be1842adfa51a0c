"""Sweeps: grids of experiment runs on a Dask ``distributed`` cluster.

A sweep is the cartesian product of ``--grid key=v1,v2,...`` axes over the fields of one
experiment's Config. Each grid point is one Dask task that runs the experiment's own ``run``
(vectorized over seeds inside) and writes its own results folder; the client collects one tidy
table (Parquet and CSV), figures and an HTML page.

Modules, in the order data flows through them:

* :mod:`.grid` parses the axes and builds the :class:`~.grid.SweepPlan` (every point's resolved
  Config and its key, a hash of that Config and the package version);
* :mod:`.cluster` opens a ``LocalCluster`` or connects to a scheduler and checks the workers;
* :mod:`.task` is what a worker runs for one point;
* :mod:`.runner` submits the points not yet done and gathers their outcomes;
* :mod:`.table`, :mod:`.figures` and :mod:`.page` turn the outcomes into the table, the figures
  and the HTML page; :mod:`.display` shows progress and the summary in the terminal.
"""
