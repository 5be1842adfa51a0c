"""The program's processes compile each training loop as one function (overfitlab.xla_loops)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np

from overfitlab.xla_loops import flag

# In a fresh process, with or without the option: whether XLA compiled a small scan as one call,
# and the bytes of 20 course networks trained with L2, dropout and a recorded test curve.
CHILD = """
import hashlib, json, sys
if sys.argv[1] == "whole":
    from overfitlab.xla_loops import compile_loops_whole
    assert compile_loops_whole()
import jax, jax.numpy as jnp, numpy as np
from overfitlab.engine.train import (TrainSpec, init_many, make_hyper, seed_keys,
                                     stack_networks, train)

step = lambda c, _: (jnp.tanh(c) * 0.5 + 0.1, None)
scan = jax.jit(lambda x: jax.lax.scan(step, x, None, length=50)[0])
hlo = scan.lower(np.ones((20, 20), np.float32)).compile().as_text()
rng = np.random.default_rng(0)
X, X_eval = rng.uniform(-1, 1, (10, 1)), rng.uniform(-1, 1, (100, 1))
y, y_eval = X[:, 0] ** 2 + 0.1 * rng.normal(size=10), X_eval[:, 0] ** 2
spec = TrainSpec((1, 20, 1), "tanh", "adam", 400, tol=None, chunk=200)
hyper = stack_networks([make_hyper(alpha=a, dropout=d) for a in (1e-4, 1e-2) for d in
                        (0.0, 0.1)] * 5)
out = train(spec, init_many(jax.random.PRNGKey(0), 20, (1, 20, 1), "tanh"), seed_keys(0, 20),
            hyper, X, y, X_eval, y_eval, record=8)
arrays = jax.tree_util.tree_leaves(out.params) + [out.loss_curve]
print(json.dumps({"small_call": "xla_cpu_small_call" in hlo,
                  "digest": hashlib.sha256(b"".join(np.asarray(a).tobytes()
                                                    for a in arrays)).hexdigest(),
                  "test_curve": np.asarray(out.eval_loss, float).tolist()}))
"""


def _environment_without_xla_flags() -> dict[str, str]:
    """This process's environment for a child, less any XLA_FLAGS of the caller's."""
    return {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}


def _child(mode: str) -> dict:
    done = subprocess.run([sys.executable, "-c", CHILD, mode], capture_output=True, text=True,
                          timeout=120,
                          env={**_environment_without_xla_flags(), "OVERFITLAB_CACHE": "off"})
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_loops_compiled_whole_train_the_same_networks():
    """With the option XLA compiles the loop as one call (the setting is live in this jaxlib),
    and the training arithmetic is unchanged: every weight and the loss curve are the same bytes
    (on the AVX2 and the AVX-512 hosts measured). The recorded test curve, a mean of 100 squared
    errors, may be summed in another order (on AVX-512 it differed by one unit in the last
    place): for n positive terms reordering moves a float32 sum by at most (n - 1) 2**-24
    relative, 6e-6 here."""
    whole, default = _child("whole"), _child("default")
    assert whole["small_call"] and not default["small_call"]
    assert whole["digest"] == default["digest"]
    np.testing.assert_allclose(whole["test_curve"], default["test_curve"], rtol=99 * 2.0**-24)


PROBE = """
import json, os, sys
program, preset = sys.argv[1], sys.argv[2]
if preset != "-":
    os.environ["XLA_FLAGS"] = preset
if program == "jax-first":
    import jax
sys.argv = ["notebook" if program == "notebook" else "overfitlab", "list"]
from overfitlab import cli
from overfitlab.xla_loops import compile_loops_whole
try:
    cli.app()
except SystemExit:
    pass
print(json.dumps([compile_loops_whole.cache_info().currsize and compile_loops_whole(),
                  os.environ.get("XLA_FLAGS", "")]), file=sys.stderr)
"""


def _after(program: str, preset: str = "-") -> tuple[bool, str]:
    """Whether ``compile_loops_whole`` ran and set the option (0: not called), and XLA_FLAGS
    after ``overfitlab list`` in a fresh process (``notebook``: only imports the CLI;
    ``jax-first``: imports JAX first), XLA_FLAGS first set to ``preset``."""
    done = subprocess.run([sys.executable, "-c", PROBE, program, preset], capture_output=True,
                          text=True, timeout=60, env=_environment_without_xla_flags())
    assert done.returncode == 0, done.stderr
    return tuple(json.loads(done.stderr.strip().splitlines()[-1]))


def test_the_program_sets_the_option_and_an_importer_does_not():
    assert _after("overfitlab") == (True, flag())
    fast_math = "--xla_cpu_enable_fast_math=false"
    assert _after("overfitlab", fast_math) == (True, f"{fast_math} {flag()}")  # theirs kept
    assert _after("notebook") == (0, "")


def test_the_users_backend_options_and_a_started_jax_are_left_alone():
    own = "--xla_backend_extra_options=xla_cpu_small_while_loop_byte_threshold=10"
    assert _after("overfitlab", own) == (False, own)
    assert _after("jax-first") == (False, "")
