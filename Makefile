# Two commands for users: `make demo` (the main job) and `make test` (every test).
# Both run `make setup` first, which is quick when nothing changed.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
COLLECTION_LINK := .cache/collections/ansible_collections/mfa_server/tls

.PHONY: setup test lint unit demo bench-probe clean

setup: $(STAMP) $(COLLECTION_LINK)

$(STAMP): requirements.txt requirements-dev.txt scripts/find-python
	@python=$$(scripts/find-python) && echo "Using $$python" && \
	  { [ -x $(PY) ] || $$python -m venv $(VENV); }
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt -r requirements-dev.txt
	@touch $(STAMP)

# Ansible finds the working tree as mfa_server.tls through this link (see ansible.cfg).
$(COLLECTION_LINK):
	@mkdir -p $(dir $(COLLECTION_LINK))
	@ln -sfn ../../../.. $(COLLECTION_LINK)

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

unit: setup
	$(VENV)/bin/pytest -q tests/unit

test: setup lint
	$(VENV)/bin/pytest -q tests

demo: setup
	$(PY) scripts/demo.py

bench-probe: setup
	$(PY) bench/probe_throughput.py

clean:
	rm -rf $(VENV) .cache .pytest_cache .ruff_cache
