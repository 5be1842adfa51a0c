"""The command line on good and bad input (contract of DESIGN.md)."""
import json

import pytest
from typer.testing import CliRunner

from overfitlab.cli import app

runner = CliRunner()
SMALL = ["--set", "max_iter=300", "--set", "patience=50", "--seeds", "3"]


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_list_names_every_experiment():
    result = invoke("list")
    assert result.exit_code == 0
    assert "early-stopping" in result.output


def test_run_writes_the_results_contract(tmp_path):
    result = invoke("run", "early-stopping", "--quick", "--seed", 5, "--out", tmp_path, *SMALL)
    assert result.exit_code == 0, result.output
    folder = tmp_path / "early-stopping"
    payload = json.loads((folder / "results.json").read_text())
    assert {"experiment", "config", "seed", "seeds", "metrics", "answers", "figures",
            "elapsed_s", "versions"} <= set(payload)
    assert payload["seed"] == 5 and payload["seeds"] == 3
    assert payload["config"]["max_iter"] == 300
    ids = {a["id"] for a in payload["answers"]}
    assert {"bayes_error", "train_mse_300", "test_mse_300", "best_iteration",
            "test_mse_at_best_iteration", "convergence_warning",
            "early_stopping_validation"} <= ids
    for name in payload["figures"]:
        assert (folder / name).read_bytes()[:4] == b"\x89PNG"
    assert (folder / "arrays.npz").exists()
    assert all(isinstance(v, (int, float)) or v is None for v in payload["metrics"].values())
    assert "best_iteration" in result.output  # the summary table


def test_same_seed_same_numbers(tmp_path):
    for sub in ("a", "b"):
        assert invoke("run", "early-stopping", "--out", tmp_path / sub, *SMALL).exit_code == 0
    a, b = (json.loads((tmp_path / s / "early-stopping" / "results.json").read_text())
            for s in ("a", "b"))
    assert a["metrics"] == b["metrics"]


@pytest.mark.parametrize("args, needle", [
    (["run", "no-such-thing"], "unknown experiment 'no-such-thing'"),
    (["run", "early-stopping", "--seeds", "0"], "seeds must be >= 1"),
    (["run", "early-stopping", "--set", "n_train=-3"],
     "n_train=-3: n_train must be in [2, 100000]"),
    (["run", "early-stopping", "--set", "foo=1"], "unknown parameter 'foo'"),
    (["run", "early-stopping", "--set", "alpha=abc"], "alpha='abc' is not a valid float"),
    (["run", "early-stopping", "--set", "alpha"], "expects key=value"),
    (["report", "--only", "nope"], "unknown experiment 'nope'"),
])
def test_bad_input_one_line_exit_2_nothing_written(tmp_path, args, needle):
    out = tmp_path / "out"
    result = invoke(*args, "--out", out)
    assert result.exit_code == 2
    text = result.output.strip()
    assert needle in text
    assert "Traceback" not in text and len(text.splitlines()) <= 2
    assert not out.exists()


def test_unwritable_output_directory(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    result = invoke("run", "early-stopping", "--out", blocker / "sub", *SMALL)
    assert result.exit_code == 2
    assert "not a directory" in result.output and "Traceback" not in result.output
    assert blocker.read_text() == "not a directory"


def test_serve_rejects_a_bad_port():
    result = invoke("serve", "--port", 70000)
    assert result.exit_code == 2
    assert "--port must be in 1..65535" in result.output and "Traceback" not in result.output


def test_registry_finds_every_experiment_by_name_alone():
    from overfitlab.experiments.registry import experiments, get

    for name, experiment in experiments().items():
        assert get(name) is experiment
