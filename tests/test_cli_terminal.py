"""What the terminal shows: the answers (never cut), explanations, progress bar or log lines."""
import io
import itertools

import matplotlib.pyplot as plt
import pytest
from _synthetic_results import LONG_TEXT, filter_result, sweep_result
from rich.console import Console

from overfitlab.terminal import (LOG_EVERY_S, ProgressBoard, ProgressLog, answers_table,
                                 print_result, progress_display)


@pytest.fixture(scope="module")
def sweep():
    result = sweep_result()
    yield result
    for figure in result.figures.values():
        plt.close(figure)


@pytest.fixture(scope="module")
def deterministic():
    result = filter_result()
    yield result
    for figure in result.figures.values():
        plt.close(figure)


def console(width=60, terminal=False):
    return Console(file=io.StringIO(), width=width, force_terminal=terminal, color_system=None,
                   record=True)


def printed(result, explain=False, width=60):
    c = console(width)
    print_result(result, c, explain)
    return c.export_text()


def squeezed(text):
    """The text without the table's borders and line breaks (wrapped cells read as one)."""
    for ch in "│┃┏┓┗┛┡┩└┘━─╇┳┻┴┬┼":
        text = text.replace(ch, " ")
    return " ".join(text.split())


def test_values_are_formatted_for_people_and_never_cut(sweep):
    text = printed(sweep, width=50)  # narrow: the table must wrap, not crop
    flat = squeezed(text)
    assert "21,386" in flat and "2.139e+04" not in flat
    assert "1,243" in flat and "599 – 1,720" in flat
    assert "8.25 × 10⁻⁶" in flat
    assert "…" not in text and "..." not in text
    assert " ".join(LONG_TEXT.split()) in flat  # the text answer, in full, below the table
    table_rows = text.split("ridge_lasso_idea:")[0]
    assert "Both add" not in table_rows  # not squeezed into the value column


def test_a_band_only_where_the_value_varies_and_no_band_column_without_seeds(sweep,
                                                                             deterministic):
    table = answers_table(sweep)
    cells = dict(zip(table.columns[0].cells, table.columns[2].cells))
    assert cells["best_iteration"] == "599 – 1,720"
    assert cells["best_alpha"] == ""  # 0.03981 - 0.03981: ends print alike
    assert cells["ratio"] == ""
    assert len(answers_table(deterministic).columns) == 2
    assert "no seeds" in printed(deterministic)


def test_an_answer_at_the_edge_is_marked_and_its_explanation_printed_by_default(sweep):
    flat = squeezed(printed(sweep))
    assert "0.03981 (at edge)" in flat
    assert "Lowest median test error." in flat  # best_alpha's explanation: it is at the edge
    assert "Counted layer by layer." not in flat  # the others only with --explain
    assert "--explain prints why" in flat
    assert "note: a note" in flat


def test_explain_prints_every_question_and_explanation(sweep):
    flat = squeezed(printed(sweep, explain=True))
    for answer in sweep.answers:
        assert answer.question in flat and answer.explanation in flat


def test_piped_progress_is_a_log_of_tenths_and_pauses_never_a_frozen_bar():
    ticks = itertools.count()
    out = console()
    log = ProgressLog("exp", out, clock=lambda: next(ticks) * 0.01)  # 10 ms per update
    for i in range(1001):
        log(i / 1000, f"step {i}")
    lines = out.export_text().splitlines()
    assert [line.split()[1] for line in lines] == [f"{p}%" for p in range(0, 101, 10)]
    assert lines[-1].startswith("exp  100%") and lines[-1].endswith("step 1000")


def test_a_long_silent_stretch_still_prints_a_line_every_few_seconds():
    now = [0.0]
    out = console()
    log = ProgressLog("exp", out, clock=lambda: now[0])
    log(0.42, "training")
    for i in range(1, 101):  # 50 s in one compiled call: no update, a heartbeat every 0.5 s
        now[0] = i * 0.5
        log.heartbeat()
    lines = out.export_text().splitlines()
    assert len(lines) == 1 + int(50 // LOG_EVERY_S)
    assert all("42%" in line and line.endswith("training") for line in lines)
    assert lines[-1].split()[2] == f"{50:.1f}"  # elapsed seconds keep counting
    log(1.0, "done")
    now[0] = 100.0
    log.heartbeat()  # finished: silent from now on
    assert out.export_text().splitlines()[-1].endswith("done")


def test_progress_display_is_a_bar_on_a_terminal_and_a_log_otherwise():
    with progress_display("exp", console()) as update:
        assert isinstance(update, ProgressLog)
    terminal = console(terminal=True)
    with progress_display("exp", terminal) as update:
        assert not isinstance(update, ProgressLog)
        update(0.5, "half way [not markup]")
    assert terminal.file.getvalue()  # the bar was drawn


@pytest.mark.parametrize("terminal", [False, True])
def test_board_gives_one_callback_per_task_and_a_finished_one_stays_silent(terminal):
    """The report relays updates from its workers: an update can arrive after its experiment
    has finished (and even before any other of that experiment's): it shows nothing."""
    out = console(terminal=terminal)
    with ProgressBoard(out) as board:
        first = board.task("[1/2] a")
        assert board.task("[1/2] a") is first
        first(0.5, "half way")
        board.finish("[1/2] a")
        board.finish("[2/2] b")  # finished before it reported anything
        first(0.9, "late update")
        board.task("[2/2] b")(0.7, "late first update")
    shown = out.file.getvalue()
    assert "[1/2] a" in shown and "late" not in shown and "[2/2] b" not in shown
