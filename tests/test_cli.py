"""The command line on good and bad input (contract of DESIGN.md)."""
import json

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
    result = invoke("run", "early-stopping", "--quick", "--seed", 5, "--out", tmp_path, *SMALL,
                    "--explain")
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
    assert "best_iteration" in result.stdout  # the summary table
    for answer in payload["answers"]:  # --explain: every explanation, in full
        assert " ".join(answer["explanation"].split()) in " ".join(result.stdout.split())
    progress = result.stderr.strip().splitlines()  # piped: a log, from start to done
    assert progress[0].startswith("early-stopping ") and progress[-1].startswith(
        "early-stopping  100%")
    assert not list(tmp_path.glob(".*"))  # no staging folder left


def test_same_seed_same_numbers(tmp_path):
    for sub in ("a", "b"):
        assert invoke("run", "early-stopping", "--out", tmp_path / sub, *SMALL).exit_code == 0
    a, b = (json.loads((tmp_path / s / "early-stopping" / "results.json").read_text())
            for s in ("a", "b"))
    assert a["metrics"] == b["metrics"]


# Bad input (one line, exit code 2, nothing written): every case is a row of docs/bad-input.md,
# run by test_bad_input.py.


def test_version_names_overfitlab_and_the_libraries_behind_its_numbers():
    from importlib.metadata import version

    result = invoke("--version")
    assert result.exit_code == 0
    lines = result.output.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("overfitlab ")
    assert f"jax {version('jax')}" in lines[1] and f"jaxlib {version('jaxlib')}" in lines[1]
    assert "python 3." in lines[1]


def test_registry_finds_every_experiment_by_name_alone():
    from overfitlab.experiments.registry import experiments, get

    for name, experiment in experiments().items():
        assert get(name) is experiment


def test_help_and_list_import_neither_jax_nor_the_experiments():
    """Start-up stays light: --help and list read the experiments' names and descriptions from
    their source (registry.catalog) and import neither JAX, matplotlib nor an experiment module
    (a regression guard instead of a timed test: those imports cost seconds). Nor pydantic:
    Typer coerces a parameter value that is not already of its type through pydantic (0.22 s
    to import), which the help flag's None was until it defaulted to False."""
    import subprocess
    import sys

    code = ("import sys; from typer.testing import CliRunner; from overfitlab.cli import app; "
            "r = CliRunner(); assert r.invoke(app, ['--help']).exit_code == 0; "
            "out = r.invoke(app, ['list']); assert 'double-descent' in out.output, out.output; "
            "heavy = [m for m in ('jax', 'matplotlib', 'sklearn', 'pydantic', "
            "'overfitlab.experiments.base') "
            "if m in sys.modules]; assert not heavy, heavy")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_help_pages_read_as_prose_and_give_flags_no_value_type():
    """Every command's help: a flag such as --quick shows no value type (Typer prints
    ``<bool>``, as if it took one), repeatable options and the experiment name are named as the
    text names them (NAME, KEY=VALUE), and a docstring paragraph flows as one paragraph at the
    terminal's width (no line break kept from the source's 100-column wrap)."""
    wide = CliRunner(env={"COLUMNS": "200", "TERMINAL_WIDTH": "200"})
    for command in ([], ["run"], ["report"], ["sweep"], ["params"], ["serve"], ["bench"],
                    ["list"]):
        page = wide.invoke(app, [*command, "--help"])
        assert page.exit_code == 0, page.output
        assert "<bool>" not in page.output and "list[" not in page.output, page.output
    report = wide.invoke(app, ["report", "--help"]).output
    assert "OUT that this report does not write" in report  # one line at 200 columns
    assert "NAME" in report and "KEY=VALUE" in wide.invoke(app, ["run", "--help"]).output
    assert "KEY=V1,V2,..." in wide.invoke(app, ["sweep", "--help"]).output
    for command in ("run", "params", "sweep"):  # the positional argument named as in the prose
        assert f" {command} [OPTIONS] {{NAME}}" in wide.invoke(
            app, [command, "--help"]).output


def test_catalog_reads_every_experiment_without_importing_it():
    """The source-read catalogue lists exactly the experiments the imports define, in order,
    with the same descriptions."""
    from overfitlab.experiments.registry import catalog, experiments

    assert [(e.name, e.description) for e in catalog()] == [
        (e.name, e.description) for e in experiments().values()]
    # `list` and the report show them as sentences, one under the other
    assert all(not e.description[0].islower() and e.description.endswith(".") for e in catalog())
