"""Random ``--set key=value`` pairs for every experiment: a valid configuration or one clear
ConfigError (the CLI's exit code 2), never another exception (a traceback)."""
import dataclasses

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from overfitlab.cli import build_config
from overfitlab.errors import ConfigError
from overfitlab.experiments.registry import experiments

NAMES = sorted(experiments())

numbers = st.one_of(st.integers(-10**25, 10**25), st.floats(allow_nan=True, allow_infinity=True))
values = st.one_of(
    numbers.map(str), st.text(max_size=12),
    st.lists(numbers.map(str), max_size=4).map(",".join),
    st.sampled_from(["true", "false", "none", "", "tanh", "x^2", "1e-3", "(1,2)", "nan", "-0"]))


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_random_assignments_give_a_config_or_one_clear_error(name, data):
    fields = [f.name for f in dataclasses.fields(experiments()[name].config_class)]
    keys = st.one_of(st.sampled_from(fields), st.text(min_size=1, max_size=10))
    pairs = data.draw(st.lists(st.tuples(keys, values), max_size=3))
    assignments = [f"{k}={v}" for k, v in pairs]
    quick = data.draw(st.booleans())
    try:
        config = build_config(name, quick, None, None, assignments, None)
    except ConfigError as exc:
        message = str(exc)
        assert message and "\n" not in message and "Traceback" not in message
    else:
        assert dataclasses.is_dataclass(config)


@pytest.mark.parametrize("name", NAMES)
def test_a_value_of_the_wrong_type_is_refused_with_an_example_that_parses(name):
    """``--set key=abc`` on a numeric or boolean field names the type and a valid value (its
    default, declared example or bound), and that example is accepted by the same parser."""
    cls = experiments()[name].config_class
    for field in dataclasses.fields(cls):
        try:
            cls.parse_assignments([f"{field.name}=abc"])
        except ConfigError as exc:
            assert "is not a valid" in str(exc), str(exc)
            example = str(exc).split(f"e.g. --set {field.name}=")[1]
            cls.parse_assignments([f"{field.name}={example}"])
