# Two commands for users: `make demo` (the main job) and `make test` (every test).
# Both run `make setup` first, which is quick when nothing changed.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# The lowest supported ansible-core (meta/runtime.yml) on the lowest Python it and this collection support:
# tests/ecosystem/test_minimum_ansible_core.py runs ansible-test sanity and units on it.
MIN_VENV := .cache/venv-min
MIN_PYTHON := 3.11
MIN_STAMP := $(MIN_VENV)/.installed
COLLECTION_LINK := .cache/collections/ansible_collections/mfa_server/tls
WINDOWS_COLLECTION := .cache/collections/ansible_collections/ansible/windows/.from-ansible-14.5.0
# community.crypto (ACME) and community.general (nsupdate), from the same wheel by the same script.
ACME_COLLECTIONS := $(foreach c,community/crypto community/general,.cache/collections/ansible_collections/$(c)/.from-ansible-14.5.0)

.PHONY: setup test lint unit demo demo-acme bench-probe bench lab-up lab-down clean

setup: $(STAMP) $(MIN_STAMP) $(COLLECTION_LINK) $(WINDOWS_COLLECTION) $(ACME_COLLECTIONS)

$(STAMP): requirements.txt requirements-dev.txt scripts/find-python
	@python=$$(scripts/find-python) && echo "Using $$python" && \
	  { [ -x $(PY) ] || $$python -m venv $(VENV); }
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt -r requirements-dev.txt
	@touch $(STAMP)

$(MIN_STAMP): requirements-min.txt tests/unit/requirements.txt scripts/find-python-version
	@python=$$(scripts/find-python-version $(MIN_PYTHON)) && echo "Using $$python for $(MIN_VENV)" && \
	  { [ -x $(MIN_VENV)/bin/python ] || $$python -m venv $(MIN_VENV); }
	$(MIN_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-min.txt
	@touch $(MIN_STAMP)

# Ansible finds the working tree as mfa_server.tls through this link (see ansible.cfg).
$(COLLECTION_LINK):
	@mkdir -p $(dir $(COLLECTION_LINK))
	@ln -sfn ../../../.. $(COLLECTION_LINK)

# ansible.windows (win_ping, setup), community.crypto and community.general from the pinned `ansible`
# wheel; Galaxy is not needed. The script installs whichever is missing, so one run serves every stamp.
$(WINDOWS_COLLECTION) $(ACME_COLLECTIONS): scripts/install-windows-collection $(STAMP)
	PY=$(PY) scripts/install-windows-collection
	@touch $@

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

unit: setup
	$(VENV)/bin/pytest -q tests/unit

test: setup lint
	$(VENV)/bin/pytest -q tests

demo: setup
	$(PY) scripts/demo.py

# The ACME story: Pebble and BIND beside the fleet, renew.yml orders once, compliance passes, renew again does nothing.
demo-acme: setup
	$(PY) scripts/demo_acme.py

bench-probe: setup
	$(PY) bench/probe_throughput.py

# A small lab to try things by hand: .venv/bin/ansible -i lab-state/inventory.yml mfa_servers -m ansible.windows.win_ping
lab-up: setup
	$(PY) -m lab up --hosts 3 --dir lab-state

lab-down: setup
	$(PY) -m lab down --dir lab-state

clean:
	rm -rf $(VENV) .cache .pytest_cache .ruff_cache

# The fleet benchmark (bench/fleet.py): a lab of 50 hosts, every playbook against the win_ping floor.
# Options through ARGS, e.g. make bench ARGS="--hosts 20 --forks 20".
bench: setup
	$(PY) bench/fleet.py $(ARGS)

# The collection as the ecosystem checks it (also part of `make test`, as tests/ecosystem): ansible-test
# sanity and units from a copy at <tmp>/ansible_collections/mfa_server/tls (offline pip bootstrap),
# ansible-lint --profile production, ansible-doc and antsibull-docs, the changelog, the Galaxy artifact
# installed and run by FQCN against the lab, ansible-builder create, and a job through ansible-runner.
.PHONY: ecosystem
ecosystem: setup
	$(VENV)/bin/pytest -q tests/ecosystem
