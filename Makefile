# `make report`: set up .venv if needed, install overfitlab, run the full report on embedded data.
# `make test`:   the same set-up (plus Chromium for the browser test), then the test suite.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed

.PHONY: report report-quick test bench serve browser clean docs notebook

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

report: $(STAMP)
	$(BIN)/overfitlab report --out results

report-quick: $(STAMP)
	$(BIN)/overfitlab report --quick --out results

# Debian's Chromium for the Playwright test (skipped with a reason when it cannot be installed).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium not installed and not root: the browser test will be skipped"; fi; }

# pytest's exit code 5 (no tests collected) is not a failure of the suite.
test: $(STAMP) browser
	$(BIN)/python -m pytest -q -n 2 --dist loadfile || { rc=$$?; [ $$rc -eq 5 ] && echo "no tests collected" || exit $$rc; }

# PyTorch only for the CNN comparison, pinned to the CPU wheel this machine's pip finds
# (an unpinned `torch` would pull several GB of CUDA packages); never a package dependency.
bench: $(STAMP)
	$(BIN)/overfitlab bench
	$(BIN)/python benchmarks/bench_cold_fit.py
	$(BIN)/python benchmarks/bench_playground.py
	$(BIN)/python benchmarks/bench_playground.py --load
	$(BIN)/python -m pip install --quiet torch==2.13.0 || echo "torch unavailable: PyTorch columns stay empty"
	$(BIN)/python benchmarks/bench_many_networks.py
	$(BIN)/python benchmarks/bench_cnn.py
	$(BIN)/python benchmarks/bench_cnn_many.py
	$(BIN)/python benchmarks/bench_sweep.py
	$(BIN)/python benchmarks/bench_cli_progress.py

serve: $(STAMP)
	$(BIN)/overfitlab serve

# The API documentation site, built offline from the docstrings into site/ (open site/index.html).
docs: $(STAMP)
	$(BIN)/mkdocs build --strict

# docs/tutorial.ipynb: the tutorial (docs/tutorial.py) executed; rerun after editing the .py.
notebook: $(STAMP)
	$(BIN)/jupytext --to ipynb --execute docs/tutorial.py

clean:
	rm -rf results site .pytest_cache
