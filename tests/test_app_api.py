"""The playground's JSON API: good answers, consistent numbers, 422s that name the field(s),
local assets."""
from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sklearn.model_selection import train_test_split

from overfitlab.app import compute
from overfitlab.engine.train import _run_chunk_compiled
from overfitlab.app.schemas import MAX_NETWORKS, TrainRequest
from overfitlab.app.server import STATIC_DIR, create_app
from overfitlab.data.synthetic import TARGETS
from overfitlab.engine.mlp import init_stack
from overfitlab.engine.train import derived_stream, host_keys

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
    assert d["min_validation"] == 2 and d["x_range"] == [-1, 1]
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


def test_ensemble_averages_its_members(client):
    """An ensemble's error at the end is at most its average member's (convexity of the squared
    error): the curves show the average member, test_mse_end the averaged prediction."""
    r = client.post("/api/train", json={**SMALL, "seeds": 2, "ensemble": 3})
    assert r.status_code == 200, r.text
    a = r.json()
    m = a["metrics"]
    assert len(m["test_mse_end_per_seed"]) == 2
    assert m["test_mse_end"]["median"] <= a["curves"]["test_mse"]["median"][-1] + 1e-7
    assert m["total_parameters"] == 3 * m["parameters"]


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
    assert sum(a["data"]["is_validation"]) == 3  # scikit-learn's ceil(0.3 * 10)
    m = a["metrics"]
    assert 1 <= m["restored_from"]["low"] and m["restored_from"]["high"] <= m["stopped_at"]["high"]
    assert m["stopped_at"]["high"] <= body["iterations"]


def test_draws_are_the_estimators():
    """Repetition s starts from RegularizedMLPRegressor(random_state=seed + s)'s draws: the
    members' Glorot weights, then (early stopping) scikit-learn's split, then the dropout keys
    from the stream derived from that state; every repetition holds out repetition 0's split."""
    req = TrainRequest(seeds=3, ensemble=2, seed=5, early_stopping=True, n_train=12,
                       validation_fraction=0.25)
    params, keys, fit, val = compute.draws(req, compute.spec_for(req))
    assert len(keys) == 6 and len(val) == 3 and sorted([*fit, *val]) == list(range(12))
    for s in range(3):
        rng = np.random.RandomState(5 + s)
        members = init_stack(rng, 2, req.layer_sizes, "tanh")
        split = train_test_split(np.arange(12), random_state=rng, test_size=0.25)
        np.testing.assert_array_equal(keys[2 * s:2 * s + 2], host_keys(derived_stream(rng), 2))
        np.testing.assert_array_equal(params["coefs"][0][2 * s:2 * s + 2], members["coefs"][0])
        if s == 0:
            np.testing.assert_array_equal(val, split[1])
            np.testing.assert_array_equal(fit, split[0])


def test_own_points_replace_the_generated_ones(client):
    x = [-0.9, -0.4, 0.1, 0.5, 0.8]
    y = [0.7, 0.2, 0.0, 0.3, 0.6]
    r = client.post("/api/train", json={**SMALL, "seeds": 2, "n_train": 30,
                                        "x_train": x, "y_train": y})
    assert r.status_code == 200, r.text
    a = r.json()
    assert a["config"]["n_train"] == 5  # the points' count, whatever was sent
    np.testing.assert_allclose(a["data"]["x_train"], x, rtol=1e-6)
    np.testing.assert_allclose(a["data"]["y_train"], y, rtol=1e-6)
    assert len(a["data"]["x_test"]) == compute.N_TEST


# The playground's rows of the bad-input catalogue: body -> 422 naming these fields, with these
# words in its one-line message.
BAD_INPUT = [
    ({"n_train": 1}, ["n_train"], "greater than or equal to 4"),
    ({"n_train": 10**6}, ["n_train"], "less than or equal to 500"),
    ({"n_train": "ten"}, ["n_train"], "valid integer"),
    ({"alpha": -1}, ["alpha"], "greater than or equal to 0"),
    ({"alpha": "strong"}, ["alpha"], "valid number"),
    ({"seed": True}, ["seed"], "valid integer"),
    ({"n_train": "10"}, ["n_train"], "valid integer"),
    ({"dropout": 0.95}, ["dropout"], "less than or equal to 0.9"),
    ({"target": "x^3"}, ["target"], "'x^2'"),
    ({"activation": "gelu"}, ["activation"], "'tanh'"),
    ({"seeds": 50, "ensemble": 3}, ["datasets", "seeds", "ensemble"],
     "datasets x seeds x ensemble = 1 x 50 x 3 = 150"),
    ({"depth": 4, "hidden_units": 256},
     ["datasets", "seeds", "ensemble", "iterations", "n_train", "hidden_units", "depth"],
     "lower iterations"),
    ({"early_stopping": True, "validation_fraction": 0.1},
     ["validation_fraction", "n_train"], "ceil(0.1 x 10) = 1 point(s) but needs 2"),
    ({"colour": "red"}, ["colour"], "Extra inputs are not permitted; remove it"),
    ({"x_train": [0, 0.5, 1.5, 0.2], "y_train": [0, 0, 0, 0]}, ["x_train[2]"],
     "less than or equal to 1"),
    ({"x_train": [0, 0.5, 0.7, 0.2], "y_train": [0, 0, "a", 0]}, ["y_train[2]"], "valid number"),
    ({"x_train": [0, 0.5, 0.7, 0.2, 0.1], "y_train": [0, 0, 0, 0]}, ["x_train", "y_train"],
     "5 x values but 4 y values"),
    ({"x_train": [0, 0.5, 0.7, 0.2]}, ["x_train", "y_train"], "together"),
    ({"x_train": [0, 0.5], "y_train": [0, 0]}, ["x_train"], "at least 4 items"),
]


@pytest.mark.parametrize("body, fields, words", BAD_INPUT)
def test_bad_input_is_422_naming_the_fields(client, body, fields, words):
    r = client.post("/api/train", json=body)
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert any(e["fields"] == fields and words in e["msg"] for e in detail), detail
    assert all("\n" not in e["msg"] and not e["msg"].startswith("Value error") for e in detail)
    # The export endpoint takes the same request and refuses it the same way.
    assert client.post("/api/export", json=body).json()["detail"] == detail


def test_app_work_limit_below_the_schemas():
    """create_app(max_work=...) lowers the work limit; the refusal names the same fields."""
    with TestClient(create_app(max_work=1e6)) as small:
        assert small.get("/api/defaults").json()["max_work"] == 1e6
        r = small.post("/api/train", json={})  # the course defaults: 2.4e8
        assert r.status_code == 422
        (error,) = r.json()["detail"]
        assert error["fields"][:3] == ["datasets", "seeds", "ensemble"]
        assert "exceeds 1e+06" in error["msg"]


def test_malformed_json_and_nan_are_rejected(client):
    headers = {"Content-Type": "application/json"}
    r = client.post("/api/train", content=b'{"alpha": 0.1,', headers=headers)
    (error,) = r.json()["detail"]
    assert r.status_code == 422 and error["type"] == "json_invalid" and error["fields"] == ["body"]
    assert "send one JSON object" in error["msg"]
    r = client.post("/api/train", content=b'{"alpha": NaN}', headers=headers)
    assert r.status_code == 422 and r.json()["detail"][0]["fields"] == ["alpha"]
    r = client.post("/api/train", json=[1, 2])
    assert r.status_code == 422 and r.json()["detail"][0]["fields"] == ["body"]
    r = client.post("/api/train", content=b'{"alpha": "\xc3\x28"}', headers=headers)  # not UTF-8
    (error,) = r.json()["detail"]
    assert r.status_code == 422 and error["fields"] == ["body"] and "UTF-8" in error["msg"]
    assert client.get("/no/such/page").status_code == 404  # other HTTP errors as before


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


def test_docs_work_offline(client):
    """/docs is Swagger UI on files of an installed package: every asset it names is local."""
    page = client.get("/docs")
    assert page.status_code == 200 and "SwaggerUIBundle" in page.text
    urls = re.findall(r'(?:src|href)="([^"]+)"', page.text) + \
        re.findall(r"url: '([^']+)'", page.text)
    assert len(urls) >= 4
    for url in urls:
        assert url.startswith("/"), url
        assert client.get(url).status_code == 200, url
    assert '"validatorUrl": null' in page.text  # no request to the online validator
    assert len(client.get("/vendor/swagger-ui/swagger-ui-bundle.js").content) > 500_000
    assert client.get("/redoc").status_code == 404  # ReDoc would need a CDN


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


def test_data_sets_decompose_the_test_error(client):
    """With several data sets (noise draws) the response splits the expected test error on the
    grid into noise + bias^2 + data variance + initialisation variance, which add up to the
    directly measured error (theory.bias_variance.decompose: exact up to rounding)."""
    r = client.post("/api/train", json={**SMALL, "datasets": 3, "seeds": 2})
    assert r.status_code == 200, r.text
    d = r.json()["decomposition"]
    assert d["noise"] == pytest.approx(0.2 ** 2)  # the default noise level
    total = d["noise"] + d["bias2"] + d["data_variance"] + d["init_variance"]
    assert total == pytest.approx(d["expected_mse"], rel=1e-9)
    assert r.json()["metrics"]["networks"] == 6
    one_seed = client.post("/api/train", json={**SMALL, "datasets": 3, "seeds": 1}).json()
    assert one_seed["decomposition"]["init_variance"] is None  # folded into the data variance
    assert client.post("/api/train", json=SMALL).json()["decomposition"] is None


@pytest.mark.parametrize("body, fields", [
    ({"datasets": 2, "x_train": [0, 0.1, 0.2, 0.3], "y_train": [0, 0, 0, 1]},
     ["datasets", "x_train"]),
    ({"datasets": 10, "seeds": 20}, ["datasets", "seeds", "ensemble"]),
])
def test_data_sets_limits_name_the_fields(client, body, fields):
    r = client.post("/api/train", json=body)
    assert r.status_code == 422
    assert r.json()["detail"][0]["fields"] == fields
