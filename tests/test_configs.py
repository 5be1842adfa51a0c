"""Configurations load without the experiments: no JAX, matplotlib, scikit-learn or SciPy.

Building and checking a configuration (``overfitlab run NAME`` refusing a bad one, ``overfitlab
params NAME``) must not pay for the experiment's imports, which cost seconds. These are regression
guards on what gets imported, instead of timed tests.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.metadata import version

import pytest
from _cli_subprocess import SRC

from overfitlab.experiments.registry import catalog, config_class, get

HEAVY = ("jax", "matplotlib", "sklearn", "scipy")
NAMES = [e.name for e in catalog()]


def python(*args: str, cwd=None) -> subprocess.CompletedProcess:
    """``python ARGS`` in a fresh interpreter (in ``cwd``), this checkout's sources first."""
    path = [str(SRC), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(path), "OVERFITLAB_MEMORY_LIMIT": "8G"}
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=120)


@pytest.mark.parametrize("name", NAMES)
def test_a_config_class_and_its_presets_import_no_heavy_library(name):
    code = (f"import sys; from overfitlab.experiments.registry import config_class; "
            f"cls = config_class({name!r}); cls.preset('full'); cls.preset('quick'); "
            f"assert cls.__module__.startswith('overfitlab.experiments.configs.'), cls; "
            f"heavy = [m for m in {HEAVY!r} if m in sys.modules]; assert not heavy, heavy")
    proc = python("-c", code)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("name", NAMES)
def test_the_registry_gives_the_experiments_own_config_class(name):
    assert config_class(name) is get(name).config_class


def test_an_unknown_experiment_is_the_registrys_one_line_error():
    from overfitlab.errors import ConfigError

    with pytest.raises(ConfigError, match="did you mean 'early-stopping'"):
        config_class("early-stoping")
    for not_an_experiment in ("course", "configs", "registry"):
        with pytest.raises(ConfigError, match="unknown experiment"):
            config_class(not_an_experiment)


# The program, recording the modules it imported when it exits (sys.modules: importtime misses
# those that importlib.import_module loads, as the registry does).
_LAUNCH = ("import atexit, runpy, sys; out = sys.argv.pop(1); "
           "atexit.register(lambda: open(out, 'w').write('\\n'.join(sorted(sys.modules)))); "
           "sys.argv[0] = 'overfitlab'; runpy.run_module('overfitlab.cli', run_name='__main__')")


def run_recording_imports(tmp_path, *cli_args: str) -> tuple[subprocess.CompletedProcess,
                                                               set[str]]:
    """Run ``overfitlab CLI_ARGS``: the finished process and the modules it had imported."""
    record = tmp_path / "modules.txt"
    proc = python("-c", _LAUNCH, str(record), *cli_args, cwd=tmp_path)
    return proc, set(record.read_text().split())


def heavy_among(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in HEAVY)


def test_too_many_seeds_are_refused_before_jax_is_imported(tmp_path):
    proc, modules = run_recording_imports(tmp_path, "run", "early-stopping", "--seeds", "100000")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "memory" in lines[0], lines
    assert "overfitlab.experiments.configs.early_stopping" in modules
    assert not heavy_among(modules)
    assert "overfitlab.experiments.early_stopping" not in modules
    assert not (tmp_path / "results").exists()


def test_params_lists_a_configuration_without_the_experiment(tmp_path):
    proc, modules = run_recording_imports(tmp_path, "params", "early-stopping")
    assert proc.returncode == 0, proc.stderr
    assert "patience" in proc.stdout
    assert not heavy_among(modules)
    assert "overfitlab.experiments.early_stopping" not in modules


def test_the_report_leaves_jax_to_its_workers(tmp_path):
    """The report's own process writes what its workers computed, with the versions they
    computed it with: importing JAX there too cost 1.2 s of CPU beside two busy workers."""
    proc, modules = run_recording_imports(tmp_path, "report", "--quick", "--jobs", "2",
                                          "--only", "early-stopping", "--only", "convolution")
    assert proc.returncode == 0, proc.stderr
    assert "jax" not in modules
    written = json.loads((tmp_path / "results" / "convolution" / "results.json").read_text())
    assert written["versions"]["jax_backend"] == "cpu"
    assert written["versions"]["jax"] == version("jax")
    page = (tmp_path / "results" / "report.html").read_text()
    assert f"JAX {version('jax')} (cpu)" in page


def test_the_engine_keys_its_functions_by_the_names_configurations_offer():
    from overfitlab.engine import cnn, mlp
    from overfitlab.engine.names import CNN_ARCHITECTURES, MLP_ACTIVATIONS

    assert tuple(mlp.ACTIVATIONS) == tuple(mlp.NUMPY_ACTIVATIONS) == MLP_ACTIVATIONS
    assert tuple(cnn.ARCHITECTURES) == CNN_ARCHITECTURES
    with pytest.raises(ValueError,
                       match="architecture must be one of simple, lenet5, vgg, compact,"):
        cnn.build("resnet", 10, (8, 8, 1))
