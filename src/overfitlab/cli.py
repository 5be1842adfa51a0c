"""Command line: list, run, report, serve, bench.

Bad input (unknown experiment, invalid value, unwritable output) prints one line saying what is
wrong and how to fix it, exits with code 2 and writes nothing.
"""
from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from overfitlab.experiments.base import Config, ConfigError, Result

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False,
                  help="overfitlab: neural-network regularization experiments, reproducible.")
console = Console()
err_console = Console(stderr=True)


def fail(message: str) -> None:
    """Print one clear line and exit with code 2."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code=2)


def _enable_compilation_cache() -> None:
    """Persist compiled JAX programs across CLI runs (saves the compile time of repeats)."""
    import jax

    cache = Path(os.environ.get("OVERFITLAB_CACHE", Path.home() / ".cache" / "overfitlab"))
    try:
        (cache / "jax").mkdir(parents=True, exist_ok=True)
    except OSError:
        return
    jax.config.update("jax_compilation_cache_dir", str(cache / "jax"))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.3)


def build_config(name: str, quick: bool, seed: Optional[int], seeds: Optional[int],
                 assignments: list[str], data_dir: Optional[Path]) -> Config:
    """Resolve and validate an experiment's configuration from command-line options."""
    from overfitlab.experiments.registry import get

    experiment = get(name)
    cls = experiment.config_class
    overrides = cls.parse_assignments(assignments)
    if seed is not None:
        overrides["seed"] = seed
    if seeds is not None:
        overrides["seeds"] = seeds
    if data_dir is not None:
        if "data_dir" not in {f for f in cls.__dataclass_fields__}:
            raise ConfigError(f"experiment {name!r} takes no --data-dir")
        overrides["data_dir"] = str(data_dir)
    try:
        return cls.preset("quick" if quick else "full", **overrides)
    except TypeError as exc:  # a value of the wrong type reaching a comparison
        raise ConfigError(f"invalid value for {name}: {exc}") from None


@contextmanager
def progress_bar(label: str) -> Iterator:
    """A Rich progress bar; yields the ``progress(fraction, message)`` callback."""
    columns = (TextColumn("[bold]{task.fields[label]}"), BarColumn(),
               TextColumn("{task.percentage:>3.0f}%"), TimeElapsedColumn(),
               TextColumn("{task.description}"))
    with Progress(*columns, console=err_console, transient=True) as bar:
        task = bar.add_task("starting", total=1.0, label=label)

        def update(fraction: float, message: str) -> None:
            bar.update(task, completed=min(max(fraction, 0.0), 1.0), description=message)

        yield update


def summary_table(result: Result) -> Table:
    """Answers of a run as a table."""
    from overfitlab.report.render import format_value

    table = Table(title=f"{result.experiment}  ({result.elapsed_s:.1f} s)", show_lines=False)
    table.add_column("answer", style="bold", no_wrap=True)
    table.add_column("value", justify="right")
    table.add_column("10-90 %", justify="right")
    for a in result.answers:
        value = a.value if not isinstance(a.value, str) or len(a.value) < 60 \
            else a.value[:57] + "..."
        band = "" if a.low is None else f"{format_value(a.low)} – {format_value(a.high)}"
        table.add_row(a.id, format_value(value), band)
    return table


def _check_out(out: Path) -> None:
    from overfitlab.experiments.results_io import check_writable

    try:
        check_writable(out)
    except OSError as exc:
        fail(str(exc))


@app.command("list")
def list_experiments() -> None:
    """List the experiments and what each one shows."""
    from overfitlab.experiments.registry import experiments

    table = Table(title="overfitlab experiments")
    table.add_column("name", style="bold")
    table.add_column("what it shows")
    for exp in experiments().values():
        table.add_row(exp.name, exp.description)
    console.print(table)


@app.command()
def run(
    name: str = typer.Argument(..., help="experiment name (see `overfitlab list`)"),
    quick: bool = typer.Option(False, "--quick", help="small preset, seconds"),
    seed: Optional[int] = typer.Option(None, help="master seed (bit-reproducible runs)"),
    seeds: Optional[int] = typer.Option(None, help="number of seeds trained at once"),
    out: Path = typer.Option(Path("results"), help="output directory"),
    set_: list[str] = typer.Option([], "--set", help="override a parameter: key=value"),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir",
                                            help="dataset directory (MNIST, CIFAR-10, "
                                                 "Fashion-MNIST)"),
) -> None:
    """Run one experiment; write OUT/NAME/{results.json, *.png, arrays.npz}."""
    from overfitlab.experiments.registry import get
    from overfitlab.experiments.results_io import write_result

    try:
        config = build_config(name, quick, seed, seeds, set_, data_dir)
    except ConfigError as exc:
        fail(str(exc))
    _check_out(out)
    _enable_compilation_cache()
    with progress_bar(name) as update:
        try:
            result = get(name).run(config, update)
        except ConfigError as exc:
            fail(str(exc))
    try:
        path = write_result(result, out)
    except OSError as exc:
        fail(f"could not write results to {out}: {exc}")
    console.print(summary_table(result))
    console.print(f"results written to [bold]{path}[/]")


@app.command()
def report(
    quick: bool = typer.Option(False, "--quick", help="small presets (under a minute)"),
    out: Path = typer.Option(Path("results"), help="output directory"),
    seed: int = typer.Option(0, help="master seed for every experiment"),
    only: list[str] = typer.Option([], "--only", help="restrict to these experiments"),
) -> None:
    """Run every experiment and write OUT/report.html (self-contained) plus each result."""
    from overfitlab.experiments.registry import experiments, get
    from overfitlab.experiments.results_io import figure_pngs, write_result
    from overfitlab.report.render import section, write_report

    try:
        chosen = [get(n) for n in only] if only else list(experiments().values())
        configs = [e.config_class.preset("quick" if quick else "full", seed=seed)
                   for e in chosen]
    except ConfigError as exc:
        fail(str(exc))
    _check_out(out)
    _enable_compilation_cache()
    sections = []
    for i, (exp, config) in enumerate(zip(chosen, configs), start=1):
        with progress_bar(f"[{i}/{len(chosen)}] {exp.name}") as update:
            result = exp.run(config, update)
        pngs = figure_pngs(result)
        write_result(result, out, pngs)
        sections.append(section(result, exp.description, pngs))
        console.print(f"[green]✓[/] {exp.name:<20} {result.elapsed_s:6.1f} s")
    path = write_report(sections, "quick" if quick else "full", out)
    total = sum(s.payload["elapsed_s"] for s in sections)
    console.print(f"report written to [bold]{path}[/] ({total:.1f} s of experiments)")


@app.command()
def serve(host: str = typer.Option("127.0.0.1", help="interface to bind (loopback default)"),
          port: int = typer.Option(8000, help="TCP port")) -> None:
    """Start the interactive playground."""
    from overfitlab.app.server import serve as serve_app

    if not 0 < port < 65536:
        fail(f"--port must be in 1..65535, got {port}")
    console.print(f"overfitlab playground on [bold]http://{host}:{port}/[/] (Ctrl+C to stop)")
    try:
        serve_app(host, port)
    except OSError as exc:
        fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}; try another --port")


@app.command()
def bench(repeats: int = typer.Option(3, help="repetitions per timing (median reported)"),
          networks: int = typer.Option(1000, help="networks in the vectorized sweep (c)")) -> None:
    """Time the engine against scikit-learn on the course data and print the ratios."""
    from overfitlab.bench import run_benchmarks

    if repeats < 1 or networks < 1:
        fail("--repeats and --networks must be >= 1")
    console.print(run_benchmarks(repeats=repeats, networks=networks))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
