# Two commands on a fresh clone, over a project-local virtual environment (.venv):
#
#   make plan   installs greenml and its four provider plugins, then plans the main job
#               on the embedded catalog (no credentials, no network past the install)
#   make test   adds the test and docs tools, then runs the test suite
#
# Both are idempotent: a stamp file per step is remade only when a pyproject.toml changed,
# so a second run goes straight to the command.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PLUGINS := plugins/greenml-aws plugins/greenml-gcp plugins/greenml-azure plugins/greenml-onprem
PROJECTS := pyproject.toml $(addsuffix /pyproject.toml,$(PLUGINS))
PLAN_ARGS ?= --accelerator A100 --count 8 --hours 72

.PHONY: plan test install install-test clean

plan: $(VENV)/.runtime
	$(BIN)/greenml plan $(PLAN_ARGS)

test: $(VENV)/.test
	$(BIN)/pytest $(PYTEST_ARGS)

install: $(VENV)/.runtime

install-test: $(VENV)/.test

# The runtime: core and plugins only (what a user who plans needs). compileall because
# some machines set PYTHONDONTWRITEBYTECODE, and every start would compile the sources.
$(VENV)/.runtime: $(PROJECTS)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e . $(addprefix -e ,$(PLUGINS))
	$(BIN)/python -m compileall -q greenml plugins
	touch $@

# The test and docs tools on top of the runtime.
$(VENV)/.test: $(VENV)/.runtime pyproject.toml
	$(BIN)/python -m pip install -q -e ".[test]"
	touch $@

clean:
	rm -rf $(VENV)
