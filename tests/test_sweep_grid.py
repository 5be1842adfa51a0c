"""Sweep grids, the table and the figures without a cluster; bad sweeps at the command line."""
import math

import numpy as np
import pytest
from typer.testing import CliRunner

from _figure_checks import assert_nothing_cut_off
from overfitlab.cli import app
from overfitlab.errors import ConfigError
from overfitlab.experiments.weight_penalty import WeightPenaltyConfig
from overfitlab.sweep.figures import heatmap_figure, lines_figure, numeric_answers
from overfitlab.sweep.grid import MAX_POINTS, parse_axis, plan_sweep, split_items
from overfitlab.sweep.table import arrow_table, table_rows

BASE = WeightPenaltyConfig.preset("quick")


def test_values_ranges_and_types():
    axis = parse_axis("n_train=10, 20,linspace(40,80,3)", WeightPenaltyConfig)
    assert axis.key == "n_train" and axis.values == (10, 20, 40, 60, 80)
    assert all(type(v) is int for v in axis.values)
    alphas = parse_axis("alpha_max=logspace(1e-4,1,9)", WeightPenaltyConfig).values
    assert len(alphas) == 9 and alphas[0] == 1e-4 and alphas[-1] == 1.0
    assert np.allclose(np.diff(np.log10(alphas)), 0.5)  # a half decade apart
    assert parse_axis("activation=tanh,relu", WeightPenaltyConfig).values == ("tanh", "relu")
    assert split_items("0,logspace(1,10,2), (20,20)") == ["0", "logspace(1,10,2)", "(20,20)"]


def test_plan_is_the_product_with_stable_keys():
    plan = plan_sweep("weight-penalty", BASE, ["n_train=10,20", "noise=0.1,0.2,0.4"], "1.0")
    assert len(plan.points) == 6 and plan.keys == ("n_train", "noise")
    assert [p.values for p in plan.points[:2]] == [{"n_train": 10, "noise": 0.1},
                                                   {"n_train": 10, "noise": 0.2}]
    assert plan.points[4].config.n_train == 20 and plan.points[4].config.noise == 0.2
    assert plan.points[4].config.max_iter == BASE.max_iter  # the rest is the base config
    assert len({p.key for p in plan.points}) == 6
    # The key depends on the resolved config, not on the grid it came from ...
    other = plan_sweep("weight-penalty", BASE, ["noise=0.2", "n_train=20"], "1.0")
    assert other.points[0].key == plan.points[4].key
    # ... and changes with the package version.
    assert plan_sweep("weight-penalty", BASE, ["noise=0.2", "n_train=20"], "1.1").points[0].key \
        != plan.points[4].key


@pytest.mark.parametrize("grids, needle", [
    ([], "no --grid given"),
    (["n_trian=10,20"], "unknown parameter 'n_trian' in --grid; did you mean 'n_train'?"),
    (["n_train"], "--grid expects key=v1,v2"),
    (["n_train="], "--grid n_train= has an empty value"),
    (["n_train=10,,20"], "--grid n_train= has an empty value"),
    (["n_train=10,abc"], "bad value in --grid n_train: n_train='abc' is not a valid int"),
    (["n_train=10,1e1"], "--grid n_train repeats the value 10"),
    (["n_train=10", "n_train=20"], "--grid n_train is given twice"),
    (["n_train=1,10"], "grid point n_train=1: "),  # then the Config's own message
    (["noise=logspace(0,1,3)"], "logspace needs positive ends"),
    (["noise=linspace(0,1)"], "expected linspace(a,b,n)"),
    (["noise=linspace(0,1,2.5)"], "expected linspace(a,b,n)"),
    (["noise=linspace(0,1,3"], "unbalanced parentheses"),
    ([f"noise=linspace(0,1,{MAX_POINTS + 1})"], f"more than {MAX_POINTS}; add --yes"),
])
def test_bad_grids_are_refused_with_one_line(grids, needle):
    with pytest.raises(ConfigError) as info:
        plan_sweep("weight-penalty", BASE, grids, "1.0")
    assert needle in str(info.value) and "\n" not in str(info.value)


def test_more_points_with_yes():
    grids = [f"noise=linspace(0,1,{MAX_POINTS + 1})"]
    assert len(plan_sweep("weight-penalty", BASE, grids, "1.0", allow_more=True).points) == \
        MAX_POINTS + 1


def _record(key, best, low, high, edge, status="ok"):
    """A point record as run_point writes it, with one numeric and one text answer."""
    answers = [{"id": "best_alpha", "question": "Which alpha?", "value": best, "low": low,
                "high": high, "at_edge": edge, "explanation": ""},
               {"id": "idea", "question": "Why?", "value": "text", "low": None, "high": None,
                "at_edge": False, "explanation": ""}]
    return {"key": key, "status": status, "error": None if status == "ok" else "boom",
            "worker": "tcp://w:1", "elapsed_s": 1.5,
            "metrics": {"n_weights": 40, "gain": 0.5} if status == "ok" else {},
            "answers": answers if status == "ok" else []}


@pytest.fixture(scope="module")
def small_sweep():
    plan = plan_sweep("weight-penalty", BASE, ["n_train=10,20,40", "noise=0.1,0.4"], "1.0")
    records = {p.key: _record(p.key, 0.01 * (i + 1), 0.005 * (i + 1), 0.02 * (i + 1), i == 0)
               for i, p in enumerate(plan.points)}
    failed = plan.points[3]
    records[failed.key] = _record(failed.key, None, None, None, False, status="failed")
    return plan, records


def test_table_has_one_typed_row_per_point(small_sweep):
    plan, records = small_sweep
    rows = table_rows(plan, records)
    assert [r["point"] for r in rows] == [p.key for p in plan.points]
    table = arrow_table(plan, rows)
    assert table.num_rows == 6
    names = table.column_names
    assert names[:10] == ["n_train", "noise", "seed", "seeds", "status", "error", "elapsed_s",
                          "worker", "point", "folder"]
    assert {"answer_best_alpha", "answer_best_alpha_low", "answer_best_alpha_high",
            "answer_best_alpha_at_edge", "answer_idea", "metric_n_weights"} <= set(names)
    schema = table.schema
    assert str(schema.field("n_train").type) == "int64"
    assert str(schema.field("answer_best_alpha").type) == "double"
    assert str(schema.field("answer_best_alpha_at_edge").type) == "bool"
    assert str(schema.field("metric_n_weights").type) == "int64"
    assert str(schema.field("answer_idea").type) == "string"
    data = table.to_pylist()
    assert data[3]["status"] == "failed" and data[3]["error"] == "boom"
    assert data[3]["answer_best_alpha"] is None and data[3]["folder"] is None
    assert data[0]["folder"] == f"points/{plan.points[0].key}/weight-penalty"
    assert math.isclose(data[5]["answer_best_alpha"], 0.06)


def test_figures_draw_every_point_and_flag_edges(small_sweep):
    plan, records = small_sweep
    assert numeric_answers(plan, records) == {"best_alpha": "Which alpha?"}
    fig = lines_figure(plan, records, "best_alpha", "Which alpha?")
    ax = fig.axes[0]
    lines = [line for line in ax.get_lines() if line.get_label().startswith("noise")]
    assert [line.get_label() for line in lines] == ["noise = 0.1", "noise = 0.4"]
    # x = n_train (doubling: log axis), one line per noise level, the failed point a gap.
    assert ax.get_xscale() == "log"
    np.testing.assert_allclose(lines[0].get_ydata(), [0.01, 0.03, 0.05])
    assert np.isnan(lines[1].get_ydata()[1]) and lines[1].get_ydata()[0] == 0.02
    edge = [line for line in ax.get_lines() if "end of the searched range" in line.get_label()]
    assert len(edge) == 1 and list(edge[0].get_xdata()) == [10.0]
    heat = heatmap_figure(plan, records, "best_alpha", "Which alpha?")
    grid = heat.axes[0].get_images()[0].get_array()
    assert grid.shape == (2, 3) and not np.isfinite(np.ma.filled(grid, np.nan)[1, 1])
    texts = {t.get_text() for t in heat.axes[0].texts}
    assert "0.01*" in texts and "0.06" in texts
    assert_nothing_cut_off({"lines": fig, "heatmap": heat})


def test_a_seed_key_is_summarised_as_replicates():
    plan = plan_sweep("weight-penalty", BASE, ["n_train=10,20", "seed=0,1,2,3,4"], "1.0")
    values = {10: [0.1, 0.2, 0.3, 0.4, 0.5], 20: [1.0, 1.0, 2.0, 2.0, 3.0]}
    records = {p.key: _record(p.key, values[p.values["n_train"]][p.values["seed"]], None, None,
                              p.values["n_train"] == 20 and p.values["seed"] < 2)
               for p in plan.points}
    fig = lines_figure(plan, records, "best_alpha", "Which alpha?")
    ax = fig.axes[0]
    (line,) = [line for line in ax.get_lines() if line.get_label() == "best_alpha"]
    np.testing.assert_allclose(line.get_ydata(), [0.3, 2.0])  # medians over the 5 seeds
    band = ax.collections[0].get_paths()[0].vertices[:, 1]
    assert np.isclose(band.min(), np.percentile(values[10], 10))
    assert np.isclose(band.max(), np.percentile(values[20], 90))
    assert not [line for line in ax.get_lines() if "end of" in line.get_label()]  # 2 of 5
    assert "Median over the 5 values of seed" in fig.texts[0].get_text()
    assert heatmap_figure(plan, records, "best_alpha", "Which alpha?") is None  # one key left


def _invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.mark.parametrize("args, needle", [
    (["--grid", "n_trian=10,20"], "did you mean 'n_train'?"),
    (["--grid", "n_train=10,x"], "is not a valid int"),
    ([], "no --grid given"),
    (["--grid", f"noise=linspace(0.1,1,{MAX_POINTS + 1})"], "add --yes"),
    (["--grid", "noise=0.1,0.2", "--scheduler", "tcp://127.0.0.1:8786", "--workers", "2"],
     "not both"),
    (["--grid", "noise=0.1,0.2", "--workers", "0"], "--workers must be >= 1"),
    (["--grid", "noise=0.1,0.2", "--scheduler", "tcp://nohost:notaport"], "is not an address"),
])
def test_bad_sweeps_exit_2_before_any_work(tmp_path, args, needle):
    out = tmp_path / "out"
    result = _invoke("sweep", "weight-penalty", "--quick", "--out", out, *args)
    assert result.exit_code == 2, result.output
    assert needle in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) <= 2
    assert not out.exists()


def test_unwritable_output_exit_2(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    result = _invoke("sweep", "weight-penalty", "--quick", "--grid", "noise=0.1,0.2", "--out",
                     blocker / "sub")
    assert result.exit_code == 2 and "is a file, not a directory" in result.output
    assert "Traceback" not in result.output and blocker.read_text() == "not a directory"


def test_unreachable_scheduler_exit_2_quickly(tmp_path, monkeypatch):
    import socket

    from overfitlab.sweep import cluster

    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT_S", 1.0)
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = tmp_path / "out"
    result = _invoke("sweep", "weight-penalty", "--quick", "--out", out, "--grid",
                     "noise=0.1,0.2", "--scheduler", f"tcp://127.0.0.1:{port}")
    assert result.exit_code == 2, result.output
    assert f"cannot reach the Dask scheduler at tcp://127.0.0.1:{port} within 1 s" \
        in result.output
    assert "Traceback" not in result.output
    assert not out.exists()
