"""Command line: list, run, report, sweep, serve, bench.

Bad input (unknown experiment, invalid value, unwritable output, a malformed option) prints one
line saying what is wrong and how to fix it, exits with code 2 and writes nothing. ``run`` and
``report`` build their output beside the output directory and swap it in at the end
(:mod:`overfitlab.atomic_output`): interrupted (Ctrl+C, exit code 130, one line saying what was
kept) or killed at any moment, the output directory holds the previous results or the new ones.
"""
from __future__ import annotations

import inspect
import os
import signal
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Callable, Iterator, NoReturn, Optional


def _standalone_program() -> bool:
    """Whether this process is the ``overfitlab`` program (console script or ``python -m``),
    not a test runner or notebook that calls the commands in-process."""
    return __name__ == "__main__" or Path(sys.argv[0]).name == "overfitlab"


def _interrupted_while_starting(signum: int, frame: object) -> None:  # noqa: ARG001
    sys.stderr.write("interrupted: nothing written\n")
    os._exit(130)


if _standalone_program() and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
    # Started as the program: a Ctrl+C while the imports below load is not a crash either.
    signal.signal(signal.SIGINT, _interrupted_while_starting)

import typer  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.text import Text  # noqa: E402
from typer.core import TyperCommand, TyperGroup  # noqa: E402

from overfitlab.atomic_output import StagedDirectory, import_jax_whole  # noqa: E402
from overfitlab.compilation_cache import enable_compilation_cache  # noqa: E402
from overfitlab.cyclic_gc import collect_rarely  # noqa: E402
from overfitlab.errors import DivergedError  # noqa: E402
from overfitlab.errors import ConfigError  # noqa: E402
from overfitlab.process_memory import keep_freed_memory  # noqa: E402
from overfitlab.xla_loops import compile_loops_whole  # noqa: E402

if TYPE_CHECKING:  # for annotations only: importing the experiment layer costs start-up time
    from overfitlab.experiments.base import Config, Experiment, Result

console = Console()
err_console = Console(stderr=True)

# Typer >= 0.20 vendors click: take the exception classes from typer's own BadParameter.
_UsageError = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError")


class _ReadableHelp:
    """Help pages as a reader expects them.

    - ``--help`` not given is False rather than None. Typer coerces every parameter value that
      is not already of its type through a pydantic adapter, and importing pydantic for the help
      flag's None cost 0.22 s of every command's start-up (Typer 0.29).
    - A flag shows no value type: Typer 0.29 prints ``<bool>`` beside ``--quick``, as if it took
      a value (``--quick true`` is an error).
    - A docstring's paragraphs flow with the terminal's width: Typer 0.29 keeps their single
      line breaks, so a paragraph wrapped at 100 columns broke mid-sentence at 80.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.help:
            self.help = _reflowed(self.help)
        for param in self.params:
            _hide_flag_type(param)

    def get_help_option(self, ctx):
        option = super().get_help_option(ctx)
        if option is not None:
            if option.default is None:
                option.default = False
            _hide_flag_type(option)
        return option


def _reflowed(text: str) -> str:
    """``text`` (a docstring) with each paragraph's lines joined into one."""
    return "\n\n".join(" ".join(paragraph.split())
                        for paragraph in inspect.cleandoc(text).split("\n\n"))


def _hide_flag_type(param: object) -> None:
    if getattr(param, "is_flag", False) and param.metavar is None:
        param.metavar = ""


class _Command(_ReadableHelp, TyperCommand):
    """Typer's command with readable help (above)."""


class _OneLineErrors(_ReadableHelp, TyperGroup):
    """Typer's command group, with usage errors (a malformed option value, an unknown option or
    command) printed as one line with exit code 2 like every other bad input, not as a panel."""

    def main(self, *args, **kwargs):
        if not kwargs.get("standalone_mode", True):
            return super().main(*args, **kwargs)
        kwargs["standalone_mode"] = False
        try:
            code = super().main(*args, **kwargs)
            _ignore_interrupts_from_now()
        except _UsageError as exc:
            command = exc.ctx.command_path if exc.ctx is not None else "overfitlab"
            _print_error(f"{exc.format_message()} (see `{command} --help`)")
            sys.exit(exc.exit_code)
        except (KeyboardInterrupt, typer.Abort, ImportError) as exc:
            if not _interrupted(exc):
                raise
            code = 130  # Ctrl+C outside a command's own handling (start-up, or as it returns)
            _say_interrupted(lambda: "interrupted")
        code = code if isinstance(code, int) else 0
        if code == 130 and _standalone_program():
            _end_interrupted_program()
        sys.exit(code)


def _end_interrupted_program() -> NoReturn:
    """Exit with status 130, skipping the interpreter's teardown of modules and native objects.

    The command has cleaned up as its exception unwound (staged output discarded, workers
    terminated), and the exit handlers still run here (multiprocessing's among them: its
    semaphores are released). What is skipped is the teardown itself, which crashed (exit
    status -11, after the "interrupted" line) in 17 of 80 first runs interrupted as training
    started, on an empty compilation cache (2 cores); 0 of 30 with this exit."""
    import atexit

    atexit._run_exitfuncs()  # noqa: SLF001 - what sys.exit would run before the teardown
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(130)


def _sigint_ignored() -> object:
    """Ignore SIGINT from now on; return the handler it had. ``signal.signal`` first delivers
    any Ctrl+C already pending (as KeyboardInterrupt): that one is dropped, and the call made
    again; once SIG_IGN is installed, Python discards pending ones."""
    while True:
        try:
            return signal.signal(signal.SIGINT, signal.SIG_IGN)
        except KeyboardInterrupt:
            pass


def _ignore_interrupts_from_now() -> None:
    """Once a command's output is in place, a Ctrl+C during the rest of the run (its last
    lines, the interpreter's teardown of JAX's threads and backends, up to a second) has nothing
    left to interrupt, yet would print a traceback, or kill the process (exit status -2) once
    Python has reset its handler to the default action. Ignored from here on, only in the
    program itself (not in a test runner or notebook that calls the command in-process)."""
    if _standalone_program():
        _sigint_ignored()


def _say_interrupted(line: Callable[[], str]) -> None:
    """Write ``line()`` to stderr with SIGINT ignored meanwhile, so a second Ctrl+C cannot cut it.
    Written directly, not through rich: a Ctrl+C that landed inside one of rich's prints can
    leave its console buffering, and the line would never appear. The program itself (it is
    ending) keeps ignoring SIGINT; in-process callers get their handler back."""
    previous = _sigint_ignored()
    try:
        sys.stderr.write(line() + "\n")
        sys.stderr.flush()
    finally:
        if not _standalone_program():
            signal.signal(signal.SIGINT, previous)


def _interrupted(exc: BaseException) -> bool:
    """Whether ``exc`` is a Ctrl+C: KeyboardInterrupt, click's Abort, or the ImportError that a
    C extension raises when the interrupt lands while it initialises (scipy's HiGHS bindings,
    "initialization failed", caused by the KeyboardInterrupt)."""
    if isinstance(exc, ImportError):
        return isinstance(exc.__cause__, KeyboardInterrupt)
    return isinstance(exc, (KeyboardInterrupt, typer.Abort))


# the positional experiment name of `run`, `params` and `sweep`
ExperimentName = Annotated[str, typer.Argument(metavar="NAME",
                                               help="experiment name (see `overfitlab list`)")]

app = typer.Typer(cls=_OneLineErrors, add_completion=False, pretty_exceptions_enable=False,
                  help="overfitlab: neural-network regularization experiments, reproducible.")


def _print_error(message: str) -> None:
    err_console.print(Text.assemble(("error: ", "bold red"), message), highlight=False,
                      soft_wrap=True)


def fail(message: str) -> None:
    """Print one clear line and exit with code 2."""
    _print_error(message)
    raise typer.Exit(code=2)


def version_text() -> str:
    """``overfitlab X.Y.Z`` and, on a second line, the versions that shape its numbers."""
    import platform
    from importlib.metadata import PackageNotFoundError, version

    from overfitlab import __version__

    def installed(dist: str) -> str:
        try:
            return version(dist)
        except PackageNotFoundError:
            return "not installed"

    return (f"overfitlab {__version__}\njax {installed('jax')}, jaxlib {installed('jaxlib')}, "
            f"python {platform.python_version()}")


def _print_version(value: bool) -> None:
    if value:
        typer.echo(version_text())
        raise typer.Exit()


@app.callback()
def _main(version: bool = typer.Option(False, "--version", callback=_print_version,
                                       is_eager=True, help="print the versions and exit")) -> None:
    if _standalone_program():  # the program's own process, before JAX starts:
        keep_freed_memory()  # before its threads
        compile_loops_whole()  # before its backend reads XLA_FLAGS (workers inherit them)
    if signal.getsignal(signal.SIGINT) is _interrupted_while_starting:  # not ignored (nohup &)
        signal.signal(signal.SIGINT, _keyboard_interrupt)  # commands handle Ctrl+C
        sys.unraisablehook = _lost_interrupts_unsaid


_received_interrupts: list[int] = []


def _keyboard_interrupt(signum: int, frame: object) -> None:  # noqa: ARG001
    """The program's SIGINT handler while a command runs: Python's KeyboardInterrupt, and a
    record of it. Raised inside a callback that Python cannot propagate from (the garbage
    collector's, such as XLA's, prints "Exception ignored" and carries on), the exception is
    lost; the record makes the command's commit (:func:`_commit`) raise it again."""
    _received_interrupts.append(signum)
    raise KeyboardInterrupt


def _lost_interrupts_unsaid(unraisable: object) -> None:
    """``sys.unraisablehook`` of the program: a KeyboardInterrupt that Python dropped is not
    printed (as "Exception ignored ... Traceback"): :func:`_keyboard_interrupt` recorded it and
    the commit raises it again. Anything else is printed as by default."""
    if not isinstance(getattr(unraisable, "exc_value", None), KeyboardInterrupt):
        sys.__unraisablehook__(unraisable)


def _commit(stage: StagedDirectory) -> None:
    """Swap the staged output in, unless a Ctrl+C was received and lost on its way (then it is
    raised here, and nothing is written)."""
    if _received_interrupts:
        raise KeyboardInterrupt
    stage.commit()


def build_config(name: str, quick: bool, seed: Optional[int], seeds: Optional[int],
                 assignments: list[str], data_dir: Optional[Path]) -> Config:
    """Resolve and validate an experiment's configuration from command-line options (without
    importing the experiment, its engine or JAX: a refused configuration costs no start-up)."""
    from overfitlab.experiments.registry import config_class

    cls = config_class(name)
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
def _interruptions_reported(outcome: Callable[[], str]) -> Iterator[None]:
    """Ctrl+C in the block: one line, ``interrupted: <outcome()>``, and exit code 130."""
    try:
        yield
        _ignore_interrupts_from_now()  # the block is done: a Ctrl+C landing here is still its own
    except (KeyboardInterrupt, ImportError) as exc:
        if not _interrupted(exc):
            raise
        _say_interrupted(lambda: f"interrupted: {outcome()}")
        raise typer.Exit(code=130) from None


@contextmanager
def _staged(stage: StagedDirectory) -> Iterator[StagedDirectory]:
    """Open ``stage`` (refusing an unusable --out with one line) for the block; discard it
    unless committed."""
    try:
        stage.open()
    except ConfigError as exc:
        fail(str(exc))
    with stage:
        yield stage


@contextmanager
def _write_errors_reported(stage: StagedDirectory) -> Iterator[None]:
    """A failed write (disk full, permissions changed meanwhile): one line, nothing changed."""
    try:
        yield
    except OSError as exc:
        fail(f"could not write {stage.shown} ({exc.strerror or exc}); nothing was changed")


@contextmanager
def _refusals_reported(name: str) -> Iterator[None]:
    """An experiment's refusal (bad settings, every network diverged, unreadable data) in the
    block: one line naming the experiment, exit code 2."""
    try:
        yield
    except (ConfigError, DivergedError) as exc:
        fail(f"{name}: {exc}")
    except OSError as exc:  # a data file that cannot be read
        fail(f"{name}: cannot read {exc.filename or ''} ({exc.strerror or exc})")


def _computed(experiment: Experiment, config: Config, label: str) -> Result:
    """Run ``experiment`` with a progress display; refusals become one line and exit code 2."""
    from overfitlab.terminal import progress_display

    with progress_display(label, err_console) as update, _refusals_reported(experiment.name):
        if _standalone_program():  # not in a caller's process (tests, notebooks)
            collect_rarely()
        return experiment.run(config, update)


@app.command("list", cls=_Command)
def list_experiments() -> None:
    """List the experiments and what each one shows."""
    from rich.table import Table

    from overfitlab.experiments.registry import catalog

    table = Table(title="overfitlab experiments")
    table.add_column("name", style="bold")
    table.add_column("what it shows")
    for exp in catalog():
        table.add_row(exp.name, exp.description)
    console.print(table)


@app.command(cls=_Command)
def run(
    name: ExperimentName,
    quick: bool = typer.Option(False, "--quick", help="small preset, seconds"),
    seed: Optional[int] = typer.Option(None, help="master seed (bit-reproducible runs)"),
    seeds: Optional[int] = typer.Option(None, help="number of seeds trained at once"),
    out: Path = typer.Option(Path("results"), help="output directory"),
    set_: list[str] = typer.Option([], "--set", metavar="KEY=VALUE",
                                   help="override a parameter (repeat for several)"),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", exists=True, file_okay=False,
                                            help="dataset directory (MNIST, CIFAR-10, "
                                                 "Fashion-MNIST)"),
    explain: bool = typer.Option(False, "--explain", help="print every answer's explanation"),
) -> None:
    """Run one experiment; write OUT/NAME/{results.json, *.png, arrays.npz}."""
    stage = StagedDirectory(out / name)
    with _interruptions_reported(stage.outcome):
        try:
            config = build_config(name, quick, seed, seeds, set_, data_dir)
        except ConfigError as exc:
            fail(str(exc))
        # The experiment (JAX, its engine) loads only for a valid configuration.
        from overfitlab.experiments.registry import get
        from overfitlab.experiments.results_io import write_result_files
        from overfitlab.terminal import print_result

        with _staged(stage):
            import_jax_whole()  # before the experiment's modules import it
            enable_compilation_cache()
            result = _computed(get(name), config, name)
            with _write_errors_reported(stage):
                write_result_files(result, stage.path)
                _commit(stage)
        print_result(result, console, explain)
        console.print(Text.assemble("results written to ", (str(out / name), "bold")),
                      soft_wrap=True)


@app.command(cls=_Command)
def report(
    quick: bool = typer.Option(False, "--quick",
                               help="small presets (about half the full report's time)"),
    out: Path = typer.Option(Path("results"), help="output directory"),
    seed: int = typer.Option(0, help="master seed for every experiment"),
    only: list[str] = typer.Option([], "--only", metavar="NAME",
                                   help="restrict to this experiment (repeat for several)"),
    jobs: int = typer.Option(min(2, os.cpu_count() or 1), "--jobs", min=1, max=64,
                             help="experiments run at once, each in its own process on an "
                                  "equal share of the cores (1: one after the other, in this "
                                  "process)"),
) -> None:
    """Run every experiment and write OUT/report.html (self-contained) plus each result.

    Everything is built beside OUT and swapped in at the end; folders in OUT that this report
    does not write (e.g. from an earlier `run`) are kept. The results depend on --jobs only
    through the number of cores each experiment computes on, at float32 rounding.
    """
    from overfitlab.experiments.registry import catalog, config_class

    stage = StagedDirectory(out, keep_others=True)
    with _interruptions_reported(stage.outcome):
        try:
            names = only or [e.name for e in catalog()]
            configs = [config_class(n).preset("quick" if quick else "full", seed=seed)
                       for n in names]
        except ConfigError as exc:
            fail(str(exc))
        # The experiments (JAX, their engines) load only once every configuration is valid,
        # and only in the process that runs them.
        from overfitlab.experiments.results_io import write_result_files
        from overfitlab.report.render import section, write_report

        entries = {e.name: e for e in catalog()}
        with _staged(stage):
            sections = {}
            reuses = {name: entries[name].reuses for name in names}
            for i, result, pngs in _report_results(names, configs, reuses, jobs):
                name = names[i]
                with _write_errors_reported(stage):
                    write_result_files(result, stage.path / name, pngs)
                sections[i] = section(result, entries[name].description, pngs)
                console.print(f"[green]✓[/] {name:<20} {result.elapsed_s:6.1f} s")
            sections = [sections[i] for i in sorted(sections)]
            with _write_errors_reported(stage):
                write_report(sections, "quick" if quick else "full", stage.path)
                _commit(stage)
        total = sum(s.payload["elapsed_s"] for s in sections)
        console.print(Text.assemble("report written to ", (str(out / "report.html"), "bold"),
                                    f" ({total:.1f} s of experiments)"), soft_wrap=True)


def _report_results(names: list[str], configs: list[Config], reuses: dict[str, tuple[str, ...]],
                    jobs: int) -> Iterator[tuple[int, Result, dict[str, bytes]]]:
    """Each experiment's index, Result and rendered figures as it finishes: one after the other
    in this process with ``jobs`` = 1, else on ``jobs`` worker processes (any order; those that
    reuse another's computations, ``reuses[name]``, run after it in its worker)."""
    from overfitlab.report.workers import WorkerDiedError, groups_reusing, run_in_workers

    labels = [f"[{i}/{len(names)}] {name}" for i, name in enumerate(names, start=1)]
    groups = groups_reusing(names, reuses)
    if jobs == 1 or len(groups) == 1:
        from overfitlab.experiments.registry import get
        from overfitlab.experiments.results_io import figure_pngs

        import_jax_whole()  # before the experiment's modules import it
        enable_compilation_cache()
        for i, (name, config) in enumerate(zip(names, configs)):
            result = _computed(get(name), config, labels[i])
            yield i, result, figure_pngs(result)
        return
    from overfitlab.terminal import ProgressBoard

    with ProgressBoard(err_console) as board:
        finishing = run_in_workers(list(zip(names, configs)), groups, min(jobs, len(groups)),
                                   lambda i: board.task(labels[i]))
        try:
            for finished in finishing:
                board.finish(labels[finished.index])
                with _refusals_reported(names[finished.index]):
                    result, pngs = finished.unwrap()
                yield finished.index, result, pngs
        except WorkerDiedError as exc:
            fail(f"{names[exc.index]}: {exc}; nothing was changed (--jobs 1 runs the "
                 "experiments one after the other, in this process)")


@app.command(cls=_Command)
def params(name: ExperimentName) -> None:
    """List an experiment's parameters: type, full and quick values, range and meaning."""
    from rich.table import Table

    from overfitlab.experiments.params import describe
    from overfitlab.experiments.registry import config_class

    try:
        cls = config_class(name)
    except ConfigError as exc:
        fail(str(exc))
    table = Table(title=f"{name}: parameters (set with --set key=value)")
    for column in ("parameter", "type", "full", "quick", "range", "meaning"):
        table.add_column(column, overflow="fold")
    for row in describe(cls):
        table.add_row(row.name, row.type, row.full, row.quick, row.range, row.help)
    console.print(table)


@app.command(cls=_Command)
def sweep(
    name: ExperimentName,
    grid: list[str] = typer.Option(
        [], "--grid", metavar="KEY=V1,V2,...",
        help="an axis over any --set key; ranges linspace(a,b,n) and logspace(a,b,n); "
             "repeat for a product"),
    quick: bool = typer.Option(False, "--quick", help="small preset for every point"),
    seed: Optional[int] = typer.Option(None, help="master seed of every point"),
    seeds: Optional[int] = typer.Option(None, help="seeds trained at once in each point"),
    out: Path = typer.Option(Path("results"), help="output directory (OUT/NAME-sweep/)"),
    set_: list[str] = typer.Option([], "--set", metavar="KEY=VALUE",
                                   help="fix a parameter (repeat for several)"),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir",
                                            help="dataset directory, visible to every worker"),
    scheduler: Optional[str] = typer.Option(None, help="Dask scheduler, tcp://HOST:8786"),
    workers: Optional[int] = typer.Option(None, help="local worker processes (default: cores)"),
    yes: bool = typer.Option(False, "--yes", help="run grids of more than 100 points"),
) -> None:
    """Run an experiment at every point of a grid on a Dask cluster; resumable.

    Writes OUT/NAME-sweep/: points/<key>/ (each point's results), table.parquet + table.csv,
    a figure per numeric answer and sweep.html. Points already done are skipped.
    """
    from overfitlab import __version__
    from overfitlab.sweep.cluster import check_options
    from overfitlab.sweep.display import summary_table as sweep_table
    from overfitlab.sweep.grid import plan_sweep
    from overfitlab.sweep.runner import check_output, sweep_directory
    from overfitlab.sweep.session import command_line, execute

    out, data_dir = out.resolve(), data_dir.resolve() if data_dir else None  # seen by workers
    try:
        config = build_config(name, quick, seed, seeds, set_, data_dir)
        plan = plan_sweep(name, config, grid, __version__, allow_more=yes)
        check_options(scheduler, workers)
        check_output(sweep_directory(out, name))
    except ConfigError as exc:
        fail(str(exc))
    command = command_line(name, grid, quick, seed, seeds, set_, out, data_dir)
    with _interruptions_reported(lambda: "finished points are kept; run the same command "
                                         "again to resume"):
        try:
            summary = execute(plan, out, err_console, command, scheduler, workers)
        except ConfigError as exc:
            fail(str(exc))
    wide = console if console.is_terminal else Console(width=200)  # logs: no squeezed columns
    wide.print(sweep_table(f"{name} sweep ({summary.wall_s:.1f} s)", plan.keys, summary.rows,
                           summary.answers))
    files = summary.files
    console.print(f"table [bold]{files['table']}[/] (+ .csv), page [bold]{files['page']}[/]")
    if summary.failed:
        err_console.print(f"{summary.failed} point(s) failed (see the error column); run the "
                          f"same command again to retry them", highlight=False)
        raise typer.Exit(code=1)


@app.command(cls=_Command)
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


@app.command(cls=_Command)
def bench(repeats: int = typer.Option(3, help="repetitions per timing (median reported)"),
          networks: int = typer.Option(1000, help="networks in the vectorized sweep (c)"),
          cases: str = typer.Option("all", help="all | engine: (a)-(c) | cv: model selection "
                                                "(d), (e), minutes")) -> None:
    """Time the engine against scikit-learn on the course data and print the ratios."""
    from overfitlab.bench import run_benchmarks, run_cv_benchmarks

    if repeats < 1 or networks < 1:
        fail("--repeats and --networks must be >= 1")
    if cases not in ("all", "engine", "cv"):
        fail(f"--cases must be all, engine or cv, got {cases!r}")
    if cases != "cv":
        console.print(run_benchmarks(repeats=repeats, networks=networks))
    if cases != "engine":
        console.print(run_cv_benchmarks())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
