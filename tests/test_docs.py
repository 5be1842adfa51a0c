"""The documentation site builds offline with warnings as errors and reads without a network."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

for module in ("mkdocs", "mkdocstrings", "mkdocstrings_handlers.python", "material",
               "mkdocs_jupyter"):
    pytest.importorskip(module, reason="the docs tools are dev extras: pip install -e '.[dev]'")


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    build = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet",
         "--config-file", str(ROOT / "mkdocs.yml"), "--site-dir", str(out)],
        cwd=tmp_path_factory.mktemp("cwd"), env=env, capture_output=True, text=True,
        timeout=300)
    assert build.returncode == 0, build.stdout + build.stderr
    return out


def test_every_page_is_there(site):
    from overfitlab.experiments.registry import experiments

    for name in experiments():
        page = (site / "experiments" / f"{name}.html").read_text()
        assert "Answers" in page and "Parameters" in page
    estimators = (site / "reference" / "overfitlab.estimators.html").read_text()
    assert "RegularizedMLPRegressor" in estimators and ":class:" not in estimators
    assert "plot_learning_curve" in (site / "reference" /
                                     "overfitlab.plots.estimator.html").read_text()
    assert "train_grid" in (site / "reference" / "overfitlab.engine.train.html").read_text()
    assert "USES_SEEDS" in (site / "reference" / "overfitlab.experiments.base.html").read_text()
    cli = (site / "cli.html").read_text()
    assert all(f"overfitlab {c}" in cli for c in ("list", "run", "report", "serve", "bench"))
    api = (site / "playground-api.html").read_text()
    assert "/api/train" in api and "TrainRequest" in api
    assert (site / "openapi.json").is_file()
    tutorial = (site / "tutorial.html").read_text()
    assert "Vanishing gradients" in tutorial and "data:image/png;base64" in tutorial


def test_the_site_loads_nothing_from_the_network(site):
    pages = list(site.rglob("*.html"))
    assert len(pages) > 20
    remote = re.compile(r"<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)=[\"'](?:https?:)?//",
                        re.I)
    for page in pages:
        text = page.read_text()
        assert not remote.search(text), f"{page.relative_to(site)} loads a remote resource"
        assert "fonts.googleapis" not in text
