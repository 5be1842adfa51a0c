"""Issue 9's reproductions, each a regression test: off the defaults an answer is correct or the
run refuses in one line; nothing a diverged or cut-short run shows is explained as the course's
story."""
import json

import pytest

from _figure_checks import assert_nothing_cut_off
from overfitlab.errors import DivergedError
from overfitlab.experiments.registry import get


def _run(name, **overrides):
    experiment = get(name)
    return experiment.run(experiment.config_class.preset("quick", **overrides))


def _titles(figure) -> str:
    return " ".join([ax.get_title() for ax in figure.axes]
                    + [figure._suptitle.get_text() if figure._suptitle else ""]).lower()


def test_an_exploding_learning_rate_is_never_called_overfitting():
    """`run early-stopping --quick --set learning_rate=100` once exited 0 with "train MSE 0.0830,
    far below the noise variance 0.04" and an "Underfitting, then overfitting" title over curves
    that oscillated up to 1e6. Now the networks whose objective exploded are left out and
    counted, and what survives is called unstable, not overfitting (or, if none survives, the run
    refuses in one line)."""
    try:
        result = _run("early-stopping", learning_rate=100.0)
    except DivergedError:
        return
    assert result.metrics["diverged"] > 0
    texts = " ".join(a.explanation for a in result.answers)
    assert "diverged" in texts and "unstable" in texts
    assert "the network overfits" not in texts and "far below the noise" not in texts
    for figure in result.figures.values():
        assert "then overfitting" not in _titles(figure)


def test_a_best_iteration_at_max_iter_is_at_the_edge_and_an_integer():
    """300 Adam steps at 1e-3 cannot reach the minimum of the test error (it lies near 1,200
    in the full preset): the answer is max_iter, said to be at the edge, with the fix, and is a
    JSON integer (it was array(4000.))."""
    result = _run("early-stopping", max_iter=300, seeds=4)
    best = result.answer("best_iteration")
    assert best.value == 300 and type(best.value) is int
    assert best.at_edge
    assert "--set max_iter" in best.explanation
    assert isinstance(json.loads(json.dumps(best.value)), int)
    assert "then overfitting" not in _titles(result.figures["learning_curves.png"])
    assert_nothing_cut_off(result.figures)


def test_an_l1_optimum_at_the_end_of_the_grid_says_where_to_widen():
    """best_l1 once came out as the largest value tried with no word that the optimum may lie
    beyond. With L1 coefficients below the useful range (0.1 to 1; on the course data the test
    error falls until about 2-5, the full preset's best_l1 and its band), the best one is the
    largest tried: at_edge, and the explanation names the parameter that widens the search."""
    result = _run("weight-penalty", l1_min=0.1, l1_max=1.0, n_l1=3, seeds=4)
    for answer_id in ("best_l1", "cv_l1"):
        answer = result.answer(answer_id)
        assert answer.value == pytest.approx(1.0), answer_id
        assert answer.at_edge, answer_id
        assert "--set l1_max" in answer.explanation, answer.explanation
