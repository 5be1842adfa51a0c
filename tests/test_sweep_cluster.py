"""Sweeps on a real Dask LocalCluster (2 worker processes x 1 thread): the command, resumption,
a failing point, scikit-learn's GridSearchCV under joblib's dask backend, and a worker killed in
the middle of a sweep.

The points are es-l2-equivalence's quick preset made smaller (2 seeds, 500 steps: a few
seconds each once a worker has imported the experiment, with 10-90 % bands over seeds), or
convolution's on a 64-pixel image where only the mechanics matter (about a second).
"""
import json
import logging
import os
import re
import signal
import threading

import numpy as np
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from overfitlab import __version__
from overfitlab.cli import app, build_config
from overfitlab.sweep.grid import plan_sweep
from overfitlab.sweep.runner import (done_records, point_directory, run_points, sweep_directory,
                                     task_key)

distributed = pytest.importorskip("distributed")

NAME = "es-l2-equivalence"


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=":0", silence_logs=logging.ERROR)
    with cluster, distributed.Client(cluster) as c:
        yield c


def invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def small_plan(grids):
    base = build_config(NAME, True, None, 2, ["n_steps=500", "fit_points=5"], None)
    return plan_sweep(NAME, base, grids, __version__)


def read_rows(directory):
    return pq.read_table(directory / "table.parquet").to_pylist()


def test_command_on_a_new_local_cluster_of_two_workers(tmp_path):
    result = invoke("sweep", "convolution", "--quick", "--set", "max_side=64", "--grid",
                    "blur_sizes=(3,5),(3,7)", "--workers", 2, "--out", tmp_path)
    assert result.exit_code == 0, result.output
    assert "Dask dashboard: http://" in result.output
    assert "2 to run on 2 worker(s)" in result.output
    directory = sweep_directory(tmp_path, "convolution")
    rows = read_rows(directory)
    assert [(r["blur_sizes"], r["status"]) for r in rows] == [("(3,5)", "ok"), ("(3,7)", "ok")]
    for row, sizes in zip(rows, ([3, 5], [3, 7])):
        payload = json.loads((directory / row["folder"] / "results.json").read_text())
        assert payload["config"]["blur_sizes"] == sizes and payload["config"]["max_side"] == 64
        assert row["worker"].startswith("tcp://127.0.0.1:") and row["elapsed_s"] > 0


def test_sweep_fails_a_point_continues_then_resumes_and_retries(tmp_path, client):
    address = client.scheduler.address
    grids = ["mode=reflect,constant", "max_side=48,64"]
    args = ["sweep", "convolution", "--quick", "--grid", grids[0], "--grid", grids[1],
            "--scheduler", address, "--out", tmp_path]
    base = build_config("convolution", True, None, None, [], None)
    plan = plan_sweep("convolution", base, grids, __version__)
    directory = sweep_directory(tmp_path, "convolution")
    blocked = point_directory(directory, plan.points[2])
    blocked.parent.mkdir(parents=True)
    blocked.write_text("a file where the point's folder should be")

    first = invoke(*args)
    assert first.exit_code == 1, first.output  # a point failed; the others ran
    assert "1 point(s) failed" in first.output and "Traceback" not in first.output
    rows = read_rows(directory)
    assert [r["point"] for r in rows] == [p.key for p in plan.points]
    assert [(r["mode"], r["max_side"]) for r in rows] == [
        ("reflect", 48), ("reflect", 64), ("constant", 48), ("constant", 64)]
    assert [r["status"] for r in rows] == ["ok", "ok", "failed", "ok"]
    assert "FileExistsError" in rows[2]["error"] and rows[2]["answer_ones_kernel_gain"] is None
    workers = set(client.scheduler_info()["workers"])
    assert {r["worker"] for r in rows} <= workers
    ok = rows[0]
    assert np.isfinite(ok["answer_ones_kernel_gain"]) and np.isfinite(ok["metric_hf_fraction_gray"])
    assert "answer_ones_kernel_gain_low" in ok and ok["answer_ones_kernel_gain_at_edge"] is False
    payload = json.loads((directory / ok["folder"] / "results.json").read_text())
    assert payload["metrics"]["hf_fraction_gray"] == ok["metric_hf_fraction_gray"]
    csv = (directory / "table.csv").read_text().splitlines()
    assert len(csv) == 5 and csv[0].startswith('"mode","max_side","seed","seeds","status"')
    page = (directory / "sweep.html").read_text()
    assert page.count("data:image/png;base64,") >= 2 and "FileExistsError" in page
    assert not re.search(r'(src|href)="(https?:)?//', page)  # self-contained: nothing fetched
    assert (directory / "ones_kernel_gain.png").read_bytes()[:4] == b"\x89PNG"
    assert (directory / "ones_kernel_gain_heatmap.png").exists()
    done_before = {p: (directory / "points" / p / "point.json").stat().st_mtime_ns
                   for p in (r["point"] for r in rows if r["status"] == "ok")}

    blocked.unlink()
    second = invoke(*args)  # retries the failed point only
    assert second.exit_code == 0, second.output
    assert "3 already done" in second.output and "1 to run" in second.output
    rows = read_rows(directory)
    assert [r["status"] for r in rows] == ["ok"] * 4
    assert {p: (directory / "points" / p / "point.json").stat().st_mtime_ns
            for p in done_before} == done_before

    third = invoke(*args)  # nothing left: no task, same table
    assert third.exit_code == 0 and "all 4 points already done" in third.output
    assert read_rows(directory) == rows
    assert sorted(os.listdir(directory / "points")) == sorted(p.key for p in plan.points)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_gridsearchcv_runs_on_the_cluster_through_joblib(client):
    import joblib
    from sklearn.model_selection import GridSearchCV

    from overfitlab import RegularizedMLPRegressor
    from overfitlab.data.synthetic import noisy_function

    data = noisy_function(n_train=40, seed=1)
    estimator = RegularizedMLPRegressor((8,), "tanh", max_iter=60, random_state=0)
    grid = {"alpha": [1e-4, 1e-1]}  # 2 candidates x 2 folds
    search = GridSearchCV(estimator, grid, cv=2, n_jobs=-1)
    with distributed.get_task_stream(client) as stream, \
            joblib.parallel_backend("dask", client=client):
        search.fit(data.X_train, data.y_train)
    ran_on = {task["worker"] for task in stream.data}
    assert ran_on and ran_on <= set(client.scheduler_info()["workers"])
    reference = GridSearchCV(estimator, grid, cv=2, n_jobs=1).fit(data.X_train, data.y_train)
    assert search.best_params_ == reference.best_params_
    np.testing.assert_allclose(search.cv_results_["mean_test_score"],
                               reference.cv_results_["mean_test_score"], rtol=1e-5)


def test_points_run_in_this_process_without_a_cluster(tmp_path):
    base = build_config("convolution", True, None, None, ["max_side=64"], None)
    plan = plan_sweep("convolution", base, ["mode=reflect"], __version__)
    records = run_points(plan, tmp_path, list(plan.points))
    assert [r["status"] for r in records.values()] == ["ok"]
    assert list(records.values())[0]["worker"] == "this process"
    assert set(done_records(plan, tmp_path)) == {plan.points[0].key}


def test_a_worker_killed_mid_sweep_loses_nothing_and_duplicates_nothing(tmp_path, client):
    """Kill the process of a worker that is running a point: Dask runs the point again, and
    every point ends complete, once."""
    plan = small_plan(["dim=3,4", "condition=50,100"])
    points_by_task = {task_key(plan, p, tmp_path): p.key for p in plan.points}
    starts, finishes, killed = [], [], []
    lock = threading.Lock()

    def on_start(point, worker):
        with lock:
            starts.append((point.key, worker))

    def on_finish(point, record):
        finishes.append(point.key)
        if killed:
            return
        # The other worker has been running its point for a while (announced, not finished).
        executing = client.run(lambda dask_worker: [t.key for t in dask_worker.state.executing])
        busy = [(w, keys[0]) for w, keys in executing.items()
                if keys and w != record["worker"]]
        if busy:
            victim, task = busy[0]
            os.kill(client.run(os.getpid, workers=[victim])[victim], signal.SIGKILL)
            killed.append((victim, points_by_task[task]))

    records = run_points(plan, tmp_path, list(plan.points), client, on_start, on_finish)
    assert killed, "no worker was busy to kill"
    victim, interrupted = killed[0]
    with lock:
        attempts = [k for k, _ in starts]
        assert (interrupted, victim) in starts  # it was running on the victim ...
    assert attempts.count(interrupted) == 2  # ... and ran again elsewhere
    assert sorted(finishes) == sorted(p.key for p in plan.points)  # each finished once
    assert all(records[p.key]["status"] == "ok" for p in plan.points)
    assert records[interrupted]["worker"] != victim
    band = {a["id"]: a for a in records[interrupted]["answers"]}["alpha_times_n_lambda"]
    assert band["low"] <= band["value"] <= band["high"]  # its 10-90 % band over 2 seeds
    assert set(done_records(plan, tmp_path)) == {p.key for p in plan.points}
    for point in plan.points:  # one complete folder, no debris of the killed attempt
        folder = point_directory(tmp_path, point)
        assert sorted(os.listdir(folder)) == [NAME, "point.json"]
        assert (folder / NAME / "results.json").is_file()
