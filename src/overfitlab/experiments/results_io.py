"""Writes a Result to DIR/NAME/{results.json, *.png, arrays.npz}, all or nothing."""
from __future__ import annotations

import json
import os
import platform
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from overfitlab.experiments.base import Result


def versions() -> dict[str, str]:
    """Versions of overfitlab and the libraries that shape its numbers."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for dist in ("overfitlab", "jax", "jaxlib", "optax", "numpy", "scikit-learn", "matplotlib"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = "not installed"
    import jax

    out["jax_backend"] = jax.default_backend()
    return out


def result_payload(result: Result) -> dict[str, Any]:
    """The results.json document for ``result`` (DESIGN.md contract)."""
    metrics = {k: _number(v) for k, v in result.metrics.items()}
    return {
        "experiment": result.experiment,
        "config": result.config.to_dict(),
        "seed": result.config.seed,
        "seeds": result.config.seeds,
        "metrics": metrics,
        "answers": [a.to_dict() for a in result.answers],
        "figures": sorted(result.figures),
        "notes": list(result.notes),
        "elapsed_s": round(float(result.elapsed_s), 3),
        "versions": versions(),
    }


def _number(value: Any) -> float | int | None:
    value = np.asarray(value).item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def check_writable(out_dir: Path) -> None:
    """Raise OSError with a clear message if ``out_dir`` cannot be created or written."""
    out_dir = Path(out_dir)
    probe_parent = out_dir
    while not probe_parent.exists():
        probe_parent = probe_parent.parent
    if not probe_parent.is_dir():
        raise OSError(f"output path {out_dir} is not a directory ({probe_parent} is a file)")
    if not os.access(probe_parent, os.W_OK | os.X_OK):
        raise OSError(f"cannot write to {probe_parent}; choose another --out directory")


def current_umask() -> int:
    """The process umask (read without changing it for long)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomic(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary sibling file and a rename, so that readers
    see the old file or the new one, never a part; permissions follow the umask."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=path.suffix, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o666 & ~current_umask())  # mkstemp makes it private
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def figure_pngs(result: Result) -> dict[str, bytes]:
    """Render every figure of ``result`` to PNG bytes."""
    return render_pngs(result.figures)


def render_pngs(figures: dict[str, Any]) -> dict[str, bytes]:
    """Render matplotlib figures {file name: Figure} to PNG bytes."""
    import io

    pngs = {}
    for name, fig in figures.items():
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=110)  # constrained layout: no tight-bbox pass
        pngs[name] = buffer.getvalue()
    return pngs


def write_result(result: Result, out_dir: Path, pngs: dict[str, bytes] | None = None) -> Path:
    """Write ``result`` under ``out_dir/<experiment>/`` atomically; return that directory.

    ``pngs`` are the rendered figures (rendered here when not given). Everything is first
    written to a temporary sibling directory, then swapped in, so an interrupted run never
    leaves a half-written result behind.
    """
    pngs = figure_pngs(result) if pngs is None else pngs
    out_dir = Path(out_dir)
    check_writable(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    final = out_dir / result.experiment
    tmp = Path(tempfile.mkdtemp(prefix=f".{result.experiment}-", dir=out_dir))
    tmp.chmod(0o777 & ~current_umask())  # mkdtemp makes it private; results are not
    try:
        for name, png in pngs.items():
            (tmp / name).write_bytes(png)
        arrays = {k: np.asarray(v) for k, v in result.arrays.items()}
        np.savez_compressed(tmp / "arrays.npz", **arrays)
        (tmp / "results.json").write_text(json.dumps(result_payload(result), indent=2) + "\n")
        if final.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{result.experiment}-old-", dir=out_dir))
            final.rename(old / "x")
            tmp.rename(final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final
