"""Every row of docs/bad-input.md, run: exit code, message, and the disk left as it was given.

Command-line rows run in-process through Typer's test runner (the same command group and error
handling as the installed program, without paying Python's start-up for each of them); rows that
send Ctrl+C run the real program in a subprocess. Rows of the API table (``POST``/``GET``) are
sent to the playground's application through FastAPI's test client.
"""
from __future__ import annotations

import functools
import re
import shlex
import signal
import sys
from pathlib import Path

import pytest
from _cli_subprocess import launch
from typer.testing import CliRunner

from overfitlab.cli import app

ROOT = Path(__file__).resolve().parents[1]
CATALOGUE = ROOT / "docs" / "bad-input.md"
COLUMNS = ["input", "given", "message", "exit", "left"]
GIVENS = {"nothing", "`notes.txt`", "previous results", "Ctrl+C while it computes",
          "previous results; Ctrl+C while it computes"}

PENDING: dict[str, str] = {}
"""Rows whose behaviour is not built yet: input -> the missing piece (an xfail reason)."""


def catalogue_rows() -> list[dict[str, str]]:
    """The rows of every table in the catalogue, cells stripped of their backticks."""
    rows = []
    for line in CATALOGUE.read_text().splitlines():
        if not line.startswith("| `"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        assert len(cells) == len(COLUMNS), line
        row = dict(zip(COLUMNS, cells))
        row["input"] = row["input"].strip("`")
        row["message"] = row["message"][1:-1]  # the excerpt, inside its backticks
        rows.append(row)
    return rows


ROWS = catalogue_rows()


def test_the_catalogue_has_the_rows_the_issue_asks_for():
    inputs = " ".join(r["input"] for r in ROWS)
    for needle in ("run no-such-thing", "--seeds 0", "--seeds 100000", "--seed 4294967296",
                   "--seed 99999999999999999999", "--set n_train=-3", "--set foo=1",
                   "--set alpha=abc", "--out /proc/x", "--out notes.txt/sub", "--port",
                   "--data-dir"):
        assert needle in inputs, needle
    givens = [r["given"] for r in ROWS]
    assert any("Ctrl+C" in g for g, r in zip(givens, ROWS) if r["input"].startswith(
        "overfitlab run "))
    assert any("Ctrl+C" in g for g, r in zip(givens, ROWS) if r["input"].startswith(
        "overfitlab report "))


@functools.cache
def api_client():
    """One playground application for every API row (started on first use)."""
    from fastapi.testclient import TestClient

    from overfitlab.app.server import create_app

    return TestClient(create_app())


def check_api_row(row: dict[str, str]) -> None:
    """The status, and one error naming exactly the row's fields with the excerpt in its msg."""
    method, path, body = (row["input"].split(" ", 2) + [""])[:3]
    response = api_client().request(method, path, content=body.encode(),
                                    headers={"Content-Type": "application/json"})
    assert response.status_code == int(row["exit"]), response.text
    fields, excerpt = row["message"].split(": ", 1)
    assert any(", ".join(e["fields"]) == fields and excerpt in e["msg"]
               for e in response.json()["detail"]), response.text


def disk(folder: Path) -> dict[str, bytes | None]:
    """Every path under ``folder`` (hidden ones included): file bytes, None for a directory."""
    return {str(p.relative_to(folder)): (None if p.is_dir() else p.read_bytes())
            for p in sorted(folder.rglob("*"))}


def set_up(folder: Path, given: str) -> None:
    assert given in GIVENS, f"unknown 'given' in {CATALOGUE.name}: {given!r}"
    if "notes.txt" in given:
        (folder / "notes.txt").write_text("my notes")
    if "previous results" in given:
        (folder / "results" / "early-stopping").mkdir(parents=True)
        (folder / "results" / "early-stopping" / "results.json").write_text('{"seed": 1}')
        (folder / "results" / "report.html").write_text("<html>previous</html>")


def interrupted(args: list[str], folder: Path) -> tuple[int, str]:
    """Run the program in ``folder``, send SIGINT after its first progress line; (code, stderr)."""
    child = launch(args, folder)
    first = child.stderr.readline()  # the first progress line: the run is under way
    child.send_signal(signal.SIGINT)
    _, rest = child.communicate(timeout=300)
    return child.returncode, first + rest


@pytest.mark.parametrize("row", ROWS, ids=[r["input"].removeprefix("overfitlab ")
                                           + (" + Ctrl+C" if "Ctrl+C" in r["given"] else "")
                                           for r in ROWS])
def test_bad_input_row(row, tmp_path, monkeypatch):
    if re.match(r"(POST|GET|PUT|DELETE) ", row["input"]):
        check_api_row(row)
        return
    if row["input"] in PENDING:
        pytest.xfail(PENDING[row["input"]])
    if "/proc/" in row["input"] and not Path("/proc").is_dir():
        pytest.skip("needs /proc")
    args = shlex.split(row["input"])
    assert args[0] == "overfitlab"
    set_up(tmp_path, row["given"])
    before = disk(tmp_path)
    if "Ctrl+C" in row["given"]:
        if sys.platform != "linux":
            pytest.skip("sends SIGINT to a subprocess")
        code, err = interrupted(args[1:], tmp_path)
        stdout = ""
    else:
        monkeypatch.chdir(tmp_path)
        result = CliRunner().invoke(app, args[1:])
        code, err, stdout = result.exit_code, result.stderr, result.stdout
    lines = err.strip().splitlines()
    assert code == int(row["exit"]), err
    assert lines and row["message"] in lines[-1], err
    assert "Traceback" not in err and not stdout.strip(), err + stdout
    if code == 2:
        assert [line for line in lines if line.startswith("error:")] == [lines[-1]]
    assert disk(tmp_path) == before
