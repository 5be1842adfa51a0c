"""How results read: number formatting, Result's repr and Jupyter display, figure captions."""
from __future__ import annotations

import ast
import base64
import re
from pathlib import Path

import pytest
from _synthetic_results import LONG_TEXT, filter_result, sweep_result

from overfitlab.experiments import display
from overfitlab.formatting import format_band, format_value

EXPERIMENTS_DIR = Path(display.__file__).parent


@pytest.mark.parametrize("value, text", [
    (21386, "21,386"), (21386.0, "21,386"), (1243.0, "1,243"), (12345.6, "12,346"),
    (0.03981071705534973, "0.03981"), (0.04, "0.04"), (8.982, "8.982"), (1.0, "1"),
    (1.000000005, "1.000"), (0.99999, "1.000"), (8.25e-06, "8.25 × 10⁻⁶"),
    (6.6e-14, "6.6 × 10⁻¹⁴"), (3e-10, "3 × 10⁻¹⁰"), (-0.5, "-0.5"), (0.0, "0"),
    (True, "yes"), (None, "—"), (float("nan"), "—"), ("w1", "w1"),
])
def test_numbers_are_formatted_for_people(value, text):
    assert format_value(value) == text


def test_a_band_is_shown_only_where_the_value_varies():
    assert format_band(None, None) == ""
    assert format_band(1.0000000001, 1.00000001) == ""  # both print as 1.000
    assert format_band(0.03981, 0.039812) == ""
    assert format_band(599.0, 1720.0) == "599 – 1,720"


def test_repr_is_a_few_short_lines_without_arrays():
    result = sweep_result()
    text = repr(result)
    lines = text.splitlines()
    assert len(lines) == 1 + len(result.answers)
    assert max(map(len, lines)) <= 120 and len(text) < 1000
    assert lines[0] == "<Result synthetic-sweep: seed 3, 20 seeds, 1.23 s, 3 figures>"
    assert "  parameters = 21,386" in lines
    assert "  best_iteration = 1,243  [10-90 %: 599 – 1,720]" in lines
    assert "at the edge of the searched range" in lines[1]
    assert "..." in lines[-1] and LONG_TEXT not in text  # long text is cut
    assert "array" not in text and "9999" not in text
    assert repr(filter_result()).startswith("<Result synthetic-filter: no seeds, 0.50 s")


def test_jupyter_display_is_the_report_section():
    result = sweep_result()
    html = result._repr_html_()
    assert html.startswith('<div class="ofl-fragment"><style>')
    assert 'id="synthetic-sweep-best_alpha"' in html and "at the edge of the searched range" in html
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', html)
    assert len(images) == 3
    assert display.png_size(base64.b64decode(images[0]))[0] == int(15.0 * display.JUPYTER_DPI)
    for caption in result.captions.values():
        assert f"<figcaption>{caption}</figcaption>" in html
    # the long text answer is a block of its own, not a cell of the value column
    block = re.search(r'<div class="ofl-text-answer" id="synthetic-sweep-ridge_lasso_idea">(.*?)'
                      r"</div>", html, re.S)
    assert block and LONG_TEXT in block.group(1)
    assert "<td>" + LONG_TEXT not in html
    assert "no seeds (deterministic)" in filter_result()._repr_html_()


def test_multi_panel_figures_are_wide():
    section = display.section(sweep_result(), "", display.figure_pngs(sweep_result()))
    assert {f.name: f.wide for f in section.figures} == {
        "l1_sweep.png": True, "curves.png": False, "small.png": False}


def _dict_keys(node: ast.Dict) -> set[str]:
    return {k.value for k in node.keys if isinstance(k, ast.Constant)}


def _figure_and_caption_names(tree: ast.Module) -> tuple[set[str], set[str]]:
    """PNG names of the module's figure dicts and of its ``captions`` dicts."""
    figures: set[str] = set()
    captions: set[str] = set()
    caption_dicts = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "captions" for t in node.targets):
            caption_dicts.add(id(node.value))
        if isinstance(node, ast.FunctionDef) and node.name == "_captions":
            caption_dicts |= {id(n.value) for n in ast.walk(node)
                              if isinstance(n, ast.Return) and n.value is not None}
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            names = {k for k in _dict_keys(node) if k.endswith(".png")}
            (captions if id(node) in caption_dicts else figures).update(names)
    return figures, captions


@pytest.mark.parametrize("module", sorted(p.name for p in EXPERIMENTS_DIR.glob("*.py")
                                          if not p.name.startswith("_")))
def test_every_figure_of_every_experiment_has_a_caption(module):
    figures, captions = _figure_and_caption_names(ast.parse(
        (EXPERIMENTS_DIR / module).read_text()))
    assert figures <= captions, f"{module}: figures without a caption: {figures - captions}"


def test_captions_of_a_real_run_are_sentences_with_its_numbers():
    from overfitlab.experiments.convolution import EXPERIMENT, ConvolutionConfig

    result = EXPERIMENT.run(ConvolutionConfig.preset("quick"))
    assert set(result.captions) == set(result.figures)
    for caption in result.captions.values():
        assert len(caption.split()) >= 8 and not re.fullmatch(r"[\w.-]+\.png", caption)
    width, height = result.metrics["image_width"], result.metrics["image_height"]
    assert f"({width:.0f}x{height:.0f})" in result.captions["filters.png"]
    assert f"hold {result.metrics['laplacian_edge_energy_share']:.0%}" in \
        result.captions["laplacian_concentration.png"]
    assert not result.config.USES_SEEDS
    assert not any("/" in note for note in result.notes)  # no path of this machine
