"""MkDocs hook: the pages that come from the code, generated at every build.

* one page per experiment, from the registry: its description, the module docstring (the
  question and the method), its answer ids and questions and its figure names (read from the
  module's source), committed figures from ``docs/images/``, and its parameters with both presets;
* the API reference: one mkdocstrings page per module of ``API_SECTIONS``, where a package
  contributes each of its public modules (so ``overfitlab.estimators`` becoming a package of
  ``regressor``, ``classifier``, ``cv`` needs no change here);
* the CLI reference, from Typer's own Markdown rendering of ``overfitlab.cli``;
* the playground's JSON API, from the FastAPI app's OpenAPI schema (also written as
  ``openapi.json``).

The navigation entries of these pages are appended to ``nav`` from ``mkdocs.yml``.
"""
from __future__ import annotations

import ast
import json
import re
import sys
from pathlib import Path
from typing import Any

from mkdocs.structure.files import File

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src"

API_SECTIONS: dict[str, list[str]] = {
    "Estimators": ["overfitlab.estimators", "overfitlab.plots.estimator"],
    "Engine": ["overfitlab.engine"],
    "Experiment contract": ["overfitlab.experiments.base", "overfitlab.experiments.registry",
                            "overfitlab.experiments.results_io"],
}

_SPHINX_ROLE = re.compile(r":(?:class|mod|func|meth|attr|data|obj|exc):(?=<code)")
_pages: dict[str, str] = {}  # docs-relative path -> Markdown (or JSON) text


# ------------------------------------------------------------------ API reference
def public_modules(dotted: str) -> list[str]:
    """``dotted`` itself, or for a package the package and its public modules, sorted."""
    path = SRC.joinpath(*dotted.split("."))
    if path.with_suffix(".py").is_file():
        return [dotted]
    children = sorted(p.stem for p in path.glob("*.py") if not p.stem.startswith("_"))
    children += sorted(p.name for p in path.iterdir()
                       if (p / "__init__.py").is_file() and not p.name.startswith("_"))
    return [dotted] + [f"{dotted}.{c}" for c in children]


def reference_page(module: str) -> str:
    return f"# `{module}`\n\n::: {module}\n    options:\n      show_root_heading: false\n"


# ------------------------------------------------------------------ experiment pages
def _text(node: ast.expr) -> str:
    """A string literal's text; an f-string with its fields shown as ``{name}``."""
    if isinstance(node, ast.Constant):
        return str(node.value)
    if isinstance(node, ast.JoinedStr):
        return "".join(_text(v) if isinstance(v, ast.Constant) else
                       "{" + ast.unparse(v.value).replace("config.", "") + "}"
                       for v in node.values)
    return "…"


def answers_and_figures(source: str) -> tuple[list[tuple[str, str]], list[str]]:
    """(answer id, question) of every ``Answer(...)`` and the ``*.png`` figure names."""
    answers, figures = [], []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Answer" \
                and len(node.args) >= 2:
            answers.append((_text(node.args[0]), _text(node.args[1])))
        if isinstance(node, ast.Dict):
            figures += [k.value for k in node.keys if isinstance(k, ast.Constant)
                        and isinstance(k.value, str) and k.value.endswith(".png")
                        and k.value not in figures]
    return answers, figures


def _cell(value: Any) -> str:
    text = "None" if value is None else ", ".join(map(str, value)) \
        if isinstance(value, tuple) else str(value)
    return text.replace("|", "\\|")


def experiment_page(experiment) -> str:
    import inspect

    module = sys.modules[experiment.run.__module__]
    answers, figures = answers_and_figures(inspect.getsource(module))
    cls = experiment.config_class
    full = cls.preset("full").to_dict()
    quick = cls.preset("quick").to_dict()
    lines = [f"# {experiment.name}", "", experiment.description, "",
             f"```console\n$ overfitlab run {experiment.name} --quick   # seconds\n"
             f"$ overfitlab run {experiment.name}           # the full preset\n```", "",
             "## What it does", "", inspect.cleandoc(module.__doc__ or ""), "",
             "## Answers", "", "Every run answers these questions with a value, a 10-90 % band "
             "over seeds where it varies, and an explanation written from the measured numbers "
             "(`{name}`: a parameter's value).", "",
             "| answer id | question |", "| --- | --- |"]
    lines += [f"| `{a}` | {_cell(q)} |" for a, q in answers]
    lines += ["", "## Figures", ""]
    for name in figures:
        image = ROOT / "docs" / "images" / f"{experiment.name}_{name}"
        lines.append(f"- `{name}`")
        if image.is_file():
            lines += ["", f"    ![{experiment.name}: {name}](../images/{image.name})", ""]
    seeds = ("Runs several seeds at once and reports medians and 10-90 % bands."
             if cls.USES_SEEDS else "Deterministic: `seed` and `seeds` are not used.")
    lines += ["", "## Parameters", "", f"Set with `--set name=value`. {seeds}", "",
              "| parameter | full preset | quick preset |", "| --- | --- | --- |"]
    lines += [f"| `{k}` | {_cell(v)} | {_cell(quick[k])} |" for k, v in full.items()
              if k != "seed"]
    lines += ["", "## Python", "",
              f"```python\nfrom overfitlab.experiments.registry import get\n\n"
              f"experiment = get({experiment.name!r})\n"
              f"result = experiment.run(experiment.config_class.preset(\"quick\"))\n"
              f"result  # in Jupyter: the answers and figures\n```", "",
              f"::: {cls.__module__}.{cls.__qualname__}", "    options:",
              "      heading_level: 3", "      show_root_full_path: false", ""]
    return "\n".join(lines)


# ------------------------------------------------------------------ CLI and JSON API
def cli_page() -> str:
    import typer
    from typer.cli import get_docs_for_click

    from overfitlab.cli import app

    command = typer.main.get_command(app)
    docs = get_docs_for_click(obj=command, ctx=typer.Context(command), name="overfitlab",
                              title="Command line")
    return (docs.strip() + "\n\nBad input (an unknown experiment, an invalid value, an "
            "unwritable directory) prints one line saying what is wrong and how to fix it, "
            "exits with code 2 and writes nothing.\n")


def _schema_type(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return f"[{name}](#{name.lower()})"
    if "anyOf" in schema:
        return " or ".join(_schema_type(s) for s in schema["anyOf"])
    if "enum" in schema:
        return " \\| ".join(f"`{v}`" for v in schema["enum"])
    kind = schema.get("type", "any")
    if kind == "array":
        return f"array of {_schema_type(schema.get('items', {}))}"
    if kind == "object" and "additionalProperties" in schema:
        return f"object of {_schema_type(schema['additionalProperties'])}"
    return str(kind)


_LIMITS = {"minimum": ">=", "exclusiveMinimum": ">", "maximum": "<=", "exclusiveMaximum": "<",
           "minItems": "items >=", "maxItems": "items <=", "minLength": "length >=",
           "maxLength": "length <="}


def _limits(schema: dict[str, Any]) -> str:
    parts = [f"{op} {schema[k]}" for k, op in _LIMITS.items() if k in schema]
    for option in schema.get("anyOf", []):
        parts += [f"{op} {option[k]}" for k, op in _LIMITS.items() if k in option]
    return ", ".join(parts)


def api_page(schema: dict[str, Any]) -> str:
    lines = ["# Playground JSON API", "", schema["info"].get("description", ""), "",
             "`overfitlab serve` starts the playground; its page calls these endpoints, and so "
             "can any HTTP client. Bodies are JSON; an invalid request gets HTTP 422 with the "
             "offending field named. The full OpenAPI schema of this version: "
             "[openapi.json](openapi.json) (the server also serves it at `/openapi.json`).", ""]
    for path, methods in schema["paths"].items():
        for method, op in methods.items():
            lines += [f"## {method.upper()} `{path}`", "", op.get("description", ""), ""]
            body = op.get("requestBody", {}).get("content", {}).get("application/json")
            if body:
                lines += [f"Request body: {_schema_type(body['schema'])}", ""]
            for status, response in op.get("responses", {}).items():
                content = response.get("content", {}).get("application/json")
                kind = _schema_type(content["schema"]) if content else "no body"
                lines.append(f"- {status} {response.get('description', '')}: {kind}")
            lines.append("")
    lines += ["## Schemas", ""]
    for name, model in schema.get("components", {}).get("schemas", {}).items():
        lines += [f"### {name}", "", model.get("description", ""), ""]
        properties = model.get("properties", {})
        if properties:
            required = set(model.get("required", []))
            lines += ["| field | type | default | limits | description |",
                      "| --- | --- | --- | --- | --- |"]
            for field, prop in properties.items():
                default = "required" if field in required else \
                    f"`{json.dumps(prop.get('default'))}`"
                description = prop.get("description", "").replace("\n", " ").replace("|", "\\|")
                lines.append(f"| `{field}` | {_schema_type(prop)} | {default} | "
                             f"{_limits(prop)} | {description} |")
            lines.append("")
    return "\n".join(lines)


# ------------------------------------------------------------------ MkDocs events
def on_config(config, **kwargs):
    """Generate every page and append its navigation entries."""
    if str(SRC) not in sys.path:  # document this checkout, not another installed copy (MkDocs
        sys.path.insert(0, str(SRC))  # restores sys.path after loading a hook: insert here)
    from overfitlab.app.server import create_app
    from overfitlab.experiments.registry import experiments

    _pages.clear()
    experiment_nav = []
    for experiment in experiments().values():
        path = f"experiments/{experiment.name}.md"
        _pages[path] = experiment_page(experiment)
        experiment_nav.append({experiment.name: path})
    reference_nav = []
    for section, roots in API_SECTIONS.items():
        entries = []
        for module in (m for root in roots for m in public_modules(root)):
            path = f"reference/{module}.md"
            _pages[path] = reference_page(module)
            entries.append({module: path})
        reference_nav.append({section: entries})
    _pages["cli.md"] = cli_page()
    schema = create_app().openapi()
    _pages["playground-api.md"] = api_page(schema)
    _pages["openapi.json"] = json.dumps(schema, indent=2) + "\n"
    config["nav"] += [{"Experiments": experiment_nav}, {"API reference": reference_nav},
                      {"Command line": "cli.md"}, {"Playground JSON API": "playground-api.md"}]
    return config


def on_page_content(html, page, config, files, **kwargs):
    """Drop the Sphinx roles some docstrings use (``:class:`x``` renders as ``x``)."""
    return _SPHINX_ROLE.sub("", html)


def on_files(files, config, **kwargs):
    for path, text in _pages.items():
        files.append(File.generated(config, path, content=text))
    return files

