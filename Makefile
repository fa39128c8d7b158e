# Set-up, pipeline and tests. `make repro` and `make test` work on a fresh machine.
VENV := .venv
PYTHON := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
DEBIAN_DATA := /usr/share/datasets/fashion-mnist
RUN := PATH="$(CURDIR)/$(VENV)/bin:$$PATH"
UI_PORT ?= 5000
UI_HOST ?= 127.0.0.1
UI_WORKERS ?= 1

.PHONY: setup data postgresql chromium screenshots report demo repro grid verify test ui server server-stop bench bench-epochs clean \
	register serve predict times

$(INSTALLED): requirements.txt constraints.txt pyproject.toml
	python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -m pip install --quiet -r requirements.txt -c constraints.txt
	$(PYTHON) -m pip install --quiet --no-deps -e .
	touch $@

# The Debian package is the first data source in params.yaml; without it the
# download stage falls back to the HTTPS mirrors, which need internet.
data:
	@if [ -d "$(DEBIAN_DATA)" ]; then \
		echo "Fashion-MNIST: found $(DEBIAN_DATA)"; \
	elif command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist; \
	else \
		echo "Fashion-MNIST: $(DEBIAN_DATA) is missing; the download stage will try the HTTPS mirrors."; \
		echo "Without internet, run as root: apt-get install dataset-fashion-mnist"; \
	fi

# `dvc plots show` offline: DVC's page template with Vega inlined from the npm registry (plots_page.py).
PLOTS_TEMPLATE := $(VENV)/plots_template.html
$(PLOTS_TEMPLATE): $(INSTALLED)
	@if command -v npm >/dev/null; then $(RUN) python -m fashion_pipeline.tools.plots_page $@; \
	else echo "npm not found: dvc plots show will load Vega from its CDN (needs internet)"; fi

setup: $(INSTALLED) data $(PLOTS_TEMPLATE)

# The report from the committed results alone: no training, no data, under a minute: its
# figures, the page and the PDF (headless Chromium).
report: setup chromium
	$(RUN) dvc repro --single-item figures report pdf
	@echo "Report: $(CURDIR)/reports/report.html and $(CURDIR)/reports/report.pdf"

# The real pipeline at a small scale in demo/ (tools/demo.py): minutes, committed results untouched.
demo: setup
	$(RUN) python -m fashion_pipeline.tools.demo

# A grader's reproduction check (tools/verify.py): params.yaml's `verify` sample trained again at
# full length in a temporary project; exit status 1 when a run falls outside the committed seeds.
verify: setup
	$(RUN) python -m fashion_pipeline.tools.verify

# The whole DAG on the grid runner (tools/grid.py): the stale stages, several at a time on Dask
# workers, recorded in dvc.lock as `dvc repro` records them. SCHEDULER=tcp://host:8786 sends
# them to a running Dask scheduler's workers instead.
SCHEDULER ?=
repro: setup
	$(RUN) python -m fashion_pipeline.tools.grid $(if $(SCHEDULER),--scheduler $(SCHEDULER))
	@echo "Report:       $(CURDIR)/reports/report.html"
	@echo "MLflow store: $(CURDIR)/mlflow.db   (browse it with: make ui)"

# The training grid and what it feeds, resumable: stages already done are skipped, and an
# interrupted one continues from its checkpoint. TARGETS narrows it to stages and what they need.
TARGETS ?=
grid: setup
	$(RUN) python -m fashion_pipeline.tools.grid $(if $(SCHEDULER),--scheduler $(SCHEDULER)) $(TARGETS)

# Test files side by side on two workers (a file stays on one: tests/conftest.py); then the float
# comparisons again with oneDNN's kernels off, as on CPUs where they are off.
TEST_WORKERS ?= 2
test: setup postgresql chromium
	$(RUN) python -m pytest -n $(TEST_WORKERS)
	TF_ENABLE_ONEDNN_OPTS=0 $(RUN) python -m pytest -n $(TEST_WORKERS) -m cpu_sensitive

# tools/ui.py: on a store that never saw the committed grid trained (a fresh clone), its runs are
# imported first; then the runs table's views, their addresses printed; then MLflow's server with
# UI_WORKERS worker processes, its own lines in logs/mlflow_ui.log. No TensorFlow is loaded.
ui: setup
	@$(RUN) python -m fashion_pipeline.tools.ui --host $(UI_HOST) --port $(UI_PORT) --workers $(UI_WORKERS)

# The champion (tools/serve.py): `make register` picks it on the held-out split and registers it in
# MLflow's Model Registry, training its models first when the DVC cache lacks them (it says how long);
# `make serve` does that when needed, then runs MLflow's scoring server for it on SERVE_HOST:SERVE_PORT;
# `make predict IMAGES="<folders or files>"` classifies PNG and IDX files with it into PREDICTIONS.
SERVE_HOST ?= 127.0.0.1
SERVE_PORT ?= 5002
IMAGES ?=
PREDICTIONS ?= predictions.csv
register: setup
	$(RUN) python -m fashion_pipeline.tools.serve --register-only --port $(SERVE_PORT)

serve: setup
	$(RUN) python -m fashion_pipeline.tools.serve --host $(SERVE_HOST) --port $(SERVE_PORT)

predict: setup
	@if [ -z "$(IMAGES)" ]; then echo 'make predict: say which images: make predict IMAGES="<folders or files>"'; exit 2; fi
	$(RUN) python -m fashion_pipeline.tools.predict --out $(PREDICTIONS) $(IMAGES)

# A shared MLflow server on PostgreSQL with basic authentication (server.py). PostgreSQL comes
# from Debian's package, installed here when missing and run as root.
SERVER_HOST ?= 127.0.0.1
SERVER_PORT ?= 5001
postgresql:
	@if ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 && command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && apt-get install -y -qq postgresql; \
	fi

# Headless Chromium, for the tests that open the plots page as a person would.
chromium:
	@if ! command -v chromium >/dev/null && command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && apt-get install -y -qq chromium; \
	fi

server: setup postgresql
	$(RUN) python -m fashion_pipeline.tools.server start --host $(SERVER_HOST) --port $(SERVER_PORT)

server-stop: setup
	$(RUN) python -m fashion_pipeline.tools.server stop

# The README's screenshots: the MLflow runs and compare views and the DVC plots page, in headless Chromium.
screenshots: setup chromium
	$(RUN) python -m fashion_pipeline.tools.screenshots

# How long the README's commands take on a fresh clone of the last commit (tools/times.py):
# reports/times.json and docs/speed.md's table.
times: setup chromium
	$(RUN) python -m fashion_pipeline.tools.times

# Speed on this machine (not a test): the training loops, and the grid runner against sequential
# `dvc repro` on the demo's grid and on params.yaml's bench.slice.
# Prints a table, writes reports/benchmark.json.
bench: setup postgresql chromium
	$(RUN) python -m fashion_pipeline.tools.benchmark

# Every experiment's compiled epoch against its roofline (tools/experiment_epochs.py).
bench-epochs: setup
	$(RUN) python -m fashion_pipeline.tools.experiment_epochs

clean:
	rm -rf $(VENV)
