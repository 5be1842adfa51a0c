"""The playground's JSON API: good answers, consistent numbers, and 422s that name the field."""
from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from overfitlab.app import compute
from overfitlab.engine.train import _run_chunk_compiled
from overfitlab.app.schemas import MAX_NETWORKS, TrainRequest
from overfitlab.app.server import STATIC_DIR, create_app
from overfitlab.data.synthetic import TARGETS

# Small requests: a few hundred iterations keep each compile + run to seconds.
SMALL = {"iterations": 300, "n_train": 10, "hidden_units": 8, "learning_rate": 0.01}


@pytest.fixture(scope="module")
def client():
    with TestClient(create_app()) as c:
        yield c


@pytest.fixture(scope="module")
def two_seeds(client):
    """Two independent networks, no ensemble: the median of two values is their mean."""
    r = client.post("/api/train", json={**SMALL, "seeds": 2, "ensemble": 1})
    assert r.status_code == 200, r.text
    return r.json()


def _ordered(band, tol=1e-9):
    return all(lo - tol <= med <= hi + tol for lo, med, hi in
               zip(band["low"], band["median"], band["high"], strict=True) if med is not None)


def test_defaults_are_the_course_protocol(client):
    d = client.get("/api/defaults").json()
    assert d["config"] == TrainRequest().model_dump()
    assert d["config"]["n_train"] == 10 and d["config"]["hidden_units"] == 20
    assert d["config"]["iterations"] == 20000 and d["config"]["seeds"] == 20
    assert d["targets"] == list(TARGETS)
    assert d["limits"]["n_train"] == {"minimum": 4, "maximum": 500}
    assert d["max_networks"] == MAX_NETWORKS


def test_train_answer_shapes_and_consistency(two_seeds):
    a = two_seeds
    steps = a["curves"]["iterations"]
    assert steps[0] == 1 and steps[-1] == SMALL["iterations"] and steps == sorted(set(steps))
    assert len(a["fit"]["x"]) == len(a["fit"]["truth"]) == len(a["fit"]["prediction"]["median"])
    np.testing.assert_allclose(a["fit"]["truth"], np.square(a["fit"]["x"]), rtol=1e-6, atol=1e-7)
    for band in (a["fit"]["prediction"], a["curves"]["train_mse"], a["curves"]["test_mse"],
                 a["units"]["magnitude"]):
        assert _ordered(band)
    m = a["metrics"]
    assert math.isclose(m["noise_variance"], 0.2**2)
    h = SMALL["hidden_units"]
    assert m["parameters"] == 3 * h + 1 and m["weights"] == 2 * h  # (1+1)h + (h+1)*1
    assert m["best_iteration"] in steps
    assert m["test_mse_best"]["median"] == min(a["curves"]["test_mse"]["median"])
    # The engine's in-loop test MSE at the last iteration and the MSE of the final weights'
    # predictions (a separate forward pass) describe the same networks.
    assert math.isclose(m["test_mse_end"]["median"], a["curves"]["test_mse"]["median"][-1],
                        rel_tol=1e-4)
    assert math.isclose(m["train_mse_end"]["median"], a["curves"]["train_mse"]["median"][-1],
                        rel_tol=1e-4)
    assert len(a["units"]["magnitude"]["median"]) == h
    assert m["stopped_at"] is None and m["zero_weights"]["median"] == 0


def test_ensemble_averages_its_members(client, two_seeds):
    """seeds=1 x ensemble=2 trains the same two networks as seeds=2 x ensemble=1.

    The ensemble's prediction is the members' mean, which equals the median of two seeds;
    its test MSE is at most the members' mean MSE (convexity of the squared error).
    """
    r = client.post("/api/train", json={**SMALL, "seeds": 1, "ensemble": 2})
    assert r.status_code == 200, r.text
    ens = r.json()
    np.testing.assert_allclose(ens["fit"]["prediction"]["median"],
                               two_seeds["fit"]["prediction"]["median"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ens["curves"]["test_mse"]["median"],
                               two_seeds["curves"]["test_mse"]["median"], rtol=1e-5)
    assert ens["metrics"]["test_mse_end"]["median"] <= \
        two_seeds["metrics"]["test_mse_end"]["median"] + 1e-7
    assert ens["metrics"]["total_parameters"] == 2 * ens["metrics"]["parameters"]


def test_alpha_is_traced_and_shrinks_weights(client, two_seeds):
    programs = compute._summarize._cache_size() + _run_chunk_compiled._cache_size()
    r = client.post("/api/train", json={**SMALL, "seeds": 2, "alpha": 3.0, "seed": 7})
    assert r.status_code == 200
    strong = r.json()
    # Same shape as two_seeds: neither JAX nor the server's bookkeeping saw a new program.
    assert compute._summarize._cache_size() + _run_chunk_compiled._cache_size() == programs
    assert strong["compiled"] is False
    assert strong["units"]["magnitude"]["median"][0] < two_seeds["units"]["magnitude"]["median"][0]
    # Same request again: answered from the cache, identical.
    again = client.post("/api/train", json={**SMALL, "seeds": 2, "alpha": 3.0, "seed": 7}).json()
    assert again == strong


def test_l1_gives_exact_zeros(client):
    r = client.post("/api/train", json={**SMALL, "seeds": 2, "l1": 1.0, "alpha": 0.0})
    assert r.status_code == 200, r.text
    m = r.json()["metrics"]
    assert m["zero_weights"]["low"] > 0 and m["zero_weights"]["high"] <= m["weights"]


def test_early_stopping_split_and_restore(client):
    body = {**SMALL, "seeds": 3, "early_stopping": True, "validation_fraction": 0.3,
            "patience": 20, "iterations": 2000}
    r = client.post("/api/train", json=body)
    assert r.status_code == 200, r.text
    a = r.json()
    assert sum(a["data"]["is_validation"]) == 3  # floor(0.3 * 10)
    m = a["metrics"]
    assert 1 <= m["restored_from"]["low"] and m["restored_from"]["high"] <= m["stopped_at"]["high"]
    assert m["stopped_at"]["high"] <= body["iterations"]


def test_validation_split_sizes():
    """floor(fraction * n) held-out points, never fewer than 2 (R^2 needs two), none without ES."""
    split = lambda **kw: compute.validation_mask(TrainRequest(**kw))  # noqa: E731
    assert split(early_stopping=False).sum() == 0
    assert split(early_stopping=True, validation_fraction=0.1).sum() == 2
    assert split(early_stopping=True, n_train=100, validation_fraction=0.25).sum() == 25
    assert split(early_stopping=True, n_train=4, validation_fraction=0.5).sum() == 2
    a, b = split(early_stopping=True, seed=1), split(early_stopping=True, seed=1)
    assert (a == b).all() and a.dtype == bool


@pytest.mark.parametrize("body, field, words", [
    ({"n_train": 1}, "n_train", "greater than or equal to 4"),
    ({"n_train": 10**6}, "n_train", "less than or equal to 500"),
    ({"n_train": "ten"}, "n_train", "valid integer"),
    ({"alpha": -1}, "alpha", "greater than or equal to 0"),
    ({"alpha": "strong"}, "alpha", "valid number"),
    ({"dropout": 0.95}, "dropout", "less than or equal to 0.9"),
    ({"target": "x^3"}, "target", "'x^2'"),
    ({"activation": "gelu"}, "activation", "'tanh'"),
    ({"seeds": 50, "ensemble": 3}, "ensemble", "seeds x ensemble"),
    ({"colour": "red"}, "colour", "Extra inputs are not permitted"),
])
def test_bad_input_is_422_naming_the_field(client, body, field, words):
    r = client.post("/api/train", json=body)
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert any(e["loc"][-1] == field and words in e["msg"] for e in detail), detail


def test_work_limit_names_the_fields(client):
    r = client.post("/api/train", json={"depth": 4, "hidden_units": 256})
    assert r.status_code == 422
    msg = r.json()["detail"][0]["msg"]
    assert "iterations" in msg and "hidden_units" in msg and "exceeds" in msg


def test_malformed_json_and_nan_are_rejected(client):
    headers = {"Content-Type": "application/json"}
    r = client.post("/api/train", content=b'{"alpha": 0.1,', headers=headers)
    assert r.status_code == 422 and r.json()["detail"][0]["type"] == "json_invalid"
    r = client.post("/api/train", content=b'{"alpha": NaN}', headers=headers)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "alpha"


def test_page_and_plotly_are_served_locally(client):
    page = client.get("/")
    assert page.status_code == 200 and "/vendor/plotly.min.js" in page.text
    js = client.get("/vendor/plotly.min.js")
    assert js.status_code == 200 and len(js.content) > 1_000_000
    assert b"plotly.js" in js.content[:2000]
    assert client.get("/static/app.js").status_code == 200
    # No file of the page names an off-localhost address (no CDN, no web fonts).
    for path in Path(STATIC_DIR).iterdir():
        assert not re.search(r"https?://", path.read_text()), path.name
    spec = client.get("/openapi.json").json()
    assert "/api/train" in spec["paths"] and "/api/defaults" in spec["paths"]


def test_parallel_parts_do_not_change_the_answer(monkeypatch):
    """3 networks as 2 concurrent parts (the last network repeated to fill) or as 1 part."""
    req = TrainRequest(**SMALL, seeds=3, seed=11)
    monkeypatch.setattr(compute, "PARTS", 2)
    split = compute.run(req)
    monkeypatch.setattr(compute, "PARTS", 1)
    whole = compute.run(req)
    for a, b in [(split.fit.prediction, whole.fit.prediction),
                 (split.curves.test_mse, whole.curves.test_mse),
                 (split.units.magnitude, whole.units.magnitude)]:
        for field in ("median", "low", "high"):
            np.testing.assert_allclose(getattr(a, field), getattr(b, field), rtol=1e-5, atol=1e-6)
