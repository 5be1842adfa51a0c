"""The self-contained HTML report."""
import base64
import re

from typer.testing import CliRunner

from overfitlab.cli import app


def test_report_is_self_contained_with_a_section_per_experiment(tmp_path):
    result = CliRunner().invoke(app, ["report", "--quick", "--out", str(tmp_path),
                                      "--only", "early-stopping", "--only", "convolution"])
    assert result.exit_code == 0, result.output
    html = (tmp_path / "report.html").read_text()
    for name in ("early-stopping", "convolution"):
        assert f'<section id="{name}" class="ofl-section">' in html
        assert (tmp_path / name / "results.json").exists()
    assert 'id="early-stopping-best_iteration"' in html
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', html)
    assert len(images) >= 4
    assert base64.b64decode(images[0])[:4] == b"\x89PNG"
    # Offline: no external resources referenced.
    assert not re.search(r'(src|href)="(https?:)?//', html)
    assert not list(tmp_path.glob(".report-*"))  # no temporary left behind
    # Readable by others like any file the user writes (not mkstemp's private 0600).
    assert (tmp_path / "report.html").stat().st_mode & 0o044
    assert (tmp_path / "convolution").stat().st_mode & 0o055
