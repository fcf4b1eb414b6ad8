# ttc developer commands. `make test` and `make demo` install what they need first.
PY := .venv/bin/python

.PHONY: install test test-all demo lint clean

install:
	@bash tools/install.sh

test: install
	$(PY) -m pytest -q

test-all: install
	$(PY) -m pytest -q -m "slow or not slow"

demo: install
	$(PY) tools/demo.py

lint: install
	$(PY) -m ruff check packages tests tools benchmarks

clean:
	rm -rf .venv .pytest_cache
