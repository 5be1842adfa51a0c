"""Training programs kept on disk (engine/programs.py): the first process of a key runs the plain
program and marks the key, the second exports and keeps the program, later ones load it instead
of tracing the engine, and all of them train exactly the same networks."""
import jax
import numpy as np
import pytest

import overfitlab.engine.programs as programs
import overfitlab.engine.train as engine
from overfitlab.engine.train import TrainSpec, make_hyper, stack_networks, train_grid


@pytest.fixture
def program_dir(tmp_path, monkeypatch):
    """A fresh folder of programs, and a process that has not prepared any yet."""
    monkeypatch.setattr(programs, "_directory", lambda: tmp_path)
    monkeypatch.setattr(programs, "_programs", {})
    return tmp_path


@pytest.fixture
def traces(monkeypatch):
    """How many times the engine's chunk program is traced, for jax.jit or for an export."""
    count = []
    run_chunk = engine._run_chunk

    def counting(*args, **kwargs):
        count.append(1)
        return run_chunk(*args, **kwargs)

    counting.__qualname__ = run_chunk.__qualname__  # the key names the function
    monkeypatch.setattr(engine, "_run_chunk", counting)
    monkeypatch.setattr(engine, "_run_chunk_compiled", jax.jit(
        counting, static_argnames=("spec",), compiler_options=engine.COMPILER_OPTIONS))
    return count


def _fit(course_data, max_iter=300):
    spec = TrainSpec((1, 6, 1), "tanh", max_iter=max_iter, tol=1e-4, n_iter_no_change=5,
                     chunk=100)
    hyper = stack_networks([make_hyper(alpha=a) for a in (1e-4, 1e-2, 1.0)])
    return train_grid(spec, jax.random.PRNGKey(0), 2, hyper, course_data.X_train,
                      course_data.y_train, course_data.X_test, course_data.y_test)


def _new_process(monkeypatch):
    monkeypatch.setattr(programs, "_programs", {})


def _assert_same(a, b):
    for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def _files(folder, suffix):
    return list(folder.glob(f"*{suffix}"))


def test_a_program_is_kept_by_its_second_process_and_loaded_by_the_third(
        course_data, program_dir, traces, monkeypatch):
    """First process: the plain program, traced once for its 3 chunks, and a mark. Second:
    exported (traced once more) and kept. Third: loaded, nothing traced. The three train bit
    for bit the same networks, curves included."""
    plain = _fit(course_data)
    assert len(traces) == 1 and len(_files(program_dir, ".seen")) == 1
    assert not _files(program_dir, ".jaxexport")
    _new_process(monkeypatch)
    exported = _fit(course_data)
    assert len(traces) == 2 and len(_files(program_dir, ".jaxexport")) == 1
    _new_process(monkeypatch)
    loaded = _fit(course_data)
    assert len(traces) == 2
    assert not _files(program_dir, ".tmp")  # every file was renamed into place
    _assert_same(plain, exported)
    _assert_same(plain, loaded)


def test_another_spec_or_engine_source_is_another_program(course_data, program_dir, traces,
                                                         monkeypatch):
    """The key covers the static spec and the engine's source: changing either is a new key."""
    _fit(course_data)
    _fit(course_data, max_iter=200)
    assert len(_files(program_dir, ".seen")) == 2
    monkeypatch.setattr(programs, "_source_digest", lambda: "edited engine")
    _new_process(monkeypatch)
    _fit(course_data)
    assert len(_files(program_dir, ".seen")) == 3


def test_a_damaged_program_is_exported_again(course_data, program_dir, traces, monkeypatch):
    first = _fit(course_data)
    _new_process(monkeypatch)
    _fit(course_data)
    (path,) = _files(program_dir, ".jaxexport")
    path.write_bytes(b"not a program")
    _new_process(monkeypatch)
    again = _fit(course_data)
    assert len(traces) == 3  # plain, exported, exported again
    _assert_same(first, again)
    _new_process(monkeypatch)
    _fit(course_data)  # the replacement is a whole program: loaded, not traced
    assert len(traces) == 3


def test_without_a_cache_directory_nothing_is_kept(course_data, traces, monkeypatch):
    monkeypatch.setattr(programs, "_directory", lambda: None)
    monkeypatch.setattr(programs, "_programs", {})
    _fit(course_data)
    assert len(traces) == 1 and programs._programs == {}
