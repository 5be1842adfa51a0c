"""Shared fixtures: the course data and a non-interactive matplotlib backend."""
import matplotlib
import pytest

matplotlib.use("Agg")


@pytest.fixture(scope="session")
def course_data():
    from overfitlab.data.synthetic import noisy_function

    return noisy_function(seed=0)
