"""Writes a Result to DIR/NAME/{results.json, *.png, arrays.npz}, all or nothing."""
from __future__ import annotations

import json
import os
import platform
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from overfitlab.atomic_output import StagedDirectory, import_jax_whole
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
    out["jax_backend"] = import_jax_whole().default_backend()
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
        "captions": dict(result.captions),
        "notes": list(result.notes),
        "elapsed_s": round(float(result.elapsed_s), 3),
        "versions": result.versions or versions(),
    }


def _number(value: Any) -> float | int | None:
    value = np.asarray(value).item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


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


def figure_pngs(result: Result, dpi: int = 110) -> dict[str, bytes]:
    """Render every figure of ``result`` to PNG bytes at ``dpi``."""
    return render_pngs(result.figures, dpi)


def render_pngs(figures: dict[str, Any], dpi: int = 110) -> dict[str, bytes]:
    """Render matplotlib figures {file name: Figure} to PNG bytes at ``dpi``.

    Each figure is drawn once, on an Agg canvas that lays it out and paints it in the same pass;
    ``Figure.savefig`` draws a figure with a layout engine twice (a first pass with painting
    switched off, only to lay it out). Same pixels and PNG metadata, about a fifth less CPU
    (docs/performance.md, "Reports and start-up"). The figure keeps its own canvas and dpi.
    """
    import io

    from matplotlib.image import imsave

    pngs = {}
    for name, fig in figures.items():
        buffer = io.BytesIO()
        with drawn_on_agg(fig, dpi) as agg:
            imsave(buffer, agg.buffer_rgba(), format="png", dpi=dpi)
        pngs[name] = buffer.getvalue()
    return pngs


@contextmanager
def drawn_on_agg(fig: Any, dpi: int) -> Iterator[Any]:
    """``fig`` laid out and drawn at ``dpi`` on a new Agg canvas, which the block reads (its
    pixels, its renderer's extents); afterwards the figure has its own canvas and dpi again."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas, own_dpi = fig.canvas, fig.dpi
    try:
        fig.set_dpi(dpi)
        agg = FigureCanvasAgg(fig)
        agg.draw()
        yield agg
    finally:
        fig.set_dpi(own_dpi)
        fig.set_canvas(canvas)


def write_result_files(result: Result, folder: Path, pngs: dict[str, bytes] | None = None) -> Path:
    """Write ``result`` into ``folder`` (created if absent): results.json, arrays.npz, figures.

    ``pngs`` are the rendered figures (rendered here when not given). Not atomic by itself:
    ``folder`` is meant to lie inside a staging directory (:mod:`overfitlab.atomic_output`).
    """
    pngs = figure_pngs(result) if pngs is None else pngs
    folder = Path(folder)
    folder.mkdir(exist_ok=True)
    for name, png in pngs.items():
        (folder / name).write_bytes(png)
    np.savez_compressed(folder / "arrays.npz",
                        **{k: np.asarray(v) for k, v in result.arrays.items()})
    (folder / "results.json").write_text(json.dumps(result_payload(result), indent=2) + "\n")
    return folder


def write_result(result: Result, out_dir: Path, pngs: dict[str, bytes] | None = None) -> Path:
    """Write ``result`` as ``out_dir/<experiment>/`` in one step; return that directory.

    The files are written into a staging folder that then replaces ``out_dir/<experiment>``
    atomically: an interrupted write leaves the previous results (or none), never a part.
    """
    target = Path(out_dir) / result.experiment
    with StagedDirectory(target) as stage:
        write_result_files(result, stage.path, pngs)
        stage.commit()
    return target
