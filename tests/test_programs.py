"""Training programs kept on disk (engine/programs.py): a new process loads the lowered program
instead of tracing the engine, and gets exactly the same networks."""
import jax
import numpy as np
import pytest

import overfitlab.engine.programs as programs
import overfitlab.engine.train as engine
from overfitlab.engine.train import TrainSpec, make_hyper, stack_networks, train_grid


@pytest.fixture
def program_dir(tmp_path, monkeypatch):
    """A fresh folder of programs, and a process that has not loaded any yet."""
    monkeypatch.setattr(programs, "_directory", lambda: tmp_path)
    monkeypatch.setattr(programs, "_programs", {})
    return tmp_path


@pytest.fixture
def traces(monkeypatch):
    """How many times the engine's chunk program is traced (run as Python)."""
    count = []
    run_chunk = engine._run_chunk

    def counting(*args, **kwargs):
        count.append(1)
        return run_chunk(*args, **kwargs)

    counting.__qualname__ = run_chunk.__qualname__  # the key names the function
    monkeypatch.setattr(engine, "_run_chunk", counting)
    return count


def _fit(course_data, max_iter=300):
    spec = TrainSpec((1, 6, 1), "tanh", max_iter=max_iter, tol=1e-4, n_iter_no_change=5,
                     chunk=100)
    hyper = stack_networks([make_hyper(alpha=a) for a in (1e-4, 1e-2, 1.0)])
    return train_grid(spec, jax.random.PRNGKey(0), 2, hyper, course_data.X_train,
                      course_data.y_train, course_data.X_test, course_data.y_test)


def _assert_same(a, b):
    for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def test_a_new_process_loads_the_program_instead_of_tracing(course_data, program_dir, traces,
                                                           monkeypatch):
    """The first fit traces the chunk program once (3 chunks, one program) and writes it; a
    process that has loaded nothing yet (emptied in-process table) finds the file, traces
    nothing, and trains bit for bit the same networks, curves included."""
    first = _fit(course_data)
    assert len(traces) == 1 and len(list(program_dir.glob("*.jaxexport"))) == 1
    assert not list(program_dir.glob("*.tmp"))  # the temporary file was renamed into place
    monkeypatch.setattr(programs, "_programs", {})
    second = _fit(course_data)
    assert len(traces) == 1
    _assert_same(first, second)


def test_another_spec_or_engine_source_is_another_program(course_data, program_dir, traces,
                                                         monkeypatch):
    """The key covers the static spec and the engine's source: changing either traces anew."""
    _fit(course_data)
    _fit(course_data, max_iter=200)
    assert len(traces) == 2 and len(list(program_dir.glob("*.jaxexport"))) == 2
    monkeypatch.setattr(programs, "_source_digest", lambda: "edited engine")
    monkeypatch.setattr(programs, "_programs", {})
    _fit(course_data)
    assert len(traces) == 3 and len(list(program_dir.glob("*.jaxexport"))) == 3


def test_a_damaged_file_is_traced_again_and_replaced(course_data, program_dir, traces,
                                                     monkeypatch):
    first = _fit(course_data)
    (path,) = program_dir.glob("*.jaxexport")
    path.write_bytes(b"not a program")
    monkeypatch.setattr(programs, "_programs", {})
    again = _fit(course_data)
    assert len(traces) == 2
    _assert_same(first, again)
    monkeypatch.setattr(programs, "_programs", {})
    _fit(course_data)  # the replacement is a whole program: loaded, not traced
    assert len(traces) == 2


def test_without_a_cache_directory_the_plain_program_runs(course_data, traces, monkeypatch):
    """No compilation cache configured: the engine's own jax.jit program runs (it was compiled
    from the engine function itself, not through an export), and nothing is kept."""
    monkeypatch.setattr(programs, "_directory", lambda: None)
    monkeypatch.setattr(programs, "_programs", {})
    _fit(course_data)
    assert not traces and programs._programs == {}
