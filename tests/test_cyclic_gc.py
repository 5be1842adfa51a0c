"""The cycle collector of overfitlab's own processes runs rarely but still frees cycles."""
import subprocess
import sys
import textwrap

from _cli_subprocess import checkout_environment

CHILD = textwrap.dedent("""
    import gc, weakref
    from overfitlab.cyclic_gc import YOUNGEST_THRESHOLD, collect_rarely

    class Node:
        pass

    def cycle():
        a, b = Node(), Node()
        a.other, b.other = b, a
        return weakref.ref(a)

    left_before = cycle()  # garbage of earlier work: the call collects it before freezing
    collect_rarely()
    assert left_before() is None
    assert gc.get_threshold()[0] == YOUNGEST_THRESHOLD and gc.get_freeze_count() > 0
    made_after = cycle()
    assert made_after() is not None  # fewer allocations than the threshold so far
    keep = [[] for _ in range(2 * YOUNGEST_THRESHOLD)]  # net allocations past the threshold
    assert made_after() is None  # collected without being asked
    print("ok")
""")


def test_cycles_are_collected_before_the_freeze_and_after_the_threshold():
    """Run in a fresh interpreter: the settings are for the whole process."""
    done = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True,
                          timeout=60, env=checkout_environment())
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
