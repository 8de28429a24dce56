# Two commands from a fresh Debian/Ubuntu machine:
#   make run    install what is missing, start the private PostGIS cluster, migrate, load the
#               demo, collect static files, serve on http://127.0.0.1:8000/ (Ctrl-C stops it)
#   make test   install test tools too, start the cluster, lint, run pytest ($(PYTEST_ARGS))
# Others: make stop (stop the cluster), make bench, make lint, make fmt, make clean,
#         make clean-data (deletes var/: database, secrets, caches).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := run

PY := .venv/bin/python
PYTEST_ARGS ?=
export IOC_PG_PORT ?= 54329

.PHONY: run test stop bench lint fmt clean clean-data

run: export IOC_DEMO ?= 1
run:
	scripts/bootstrap.sh run
	scripts/pg.sh start
	$(PY) manage.py migrate --noinput
	$(PY) manage.py load_demo
	$(PY) manage.py viewer_glyphs
	$(PY) manage.py collectstatic --noinput -v 0
	exec scripts/serve.sh

test:
	scripts/bootstrap.sh test
	scripts/pg.sh start
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/pytest $(PYTEST_ARGS)

stop:
	scripts/pg.sh stop

# Every subsystem's benchmark side by side with its peer; writes docs/benchmarks.md.
bench:
	scripts/bootstrap.sh test
	scripts/pg.sh start
	$(PY) manage.py migrate --noinput -v 0
	$(PY) manage.py load_demo
	$(PY) manage.py collectstatic --noinput -v 0
	$(PY) manage.py bench $(BENCH_ARGS)

lint:
	scripts/bootstrap.sh test
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

fmt:
	scripts/bootstrap.sh test
	.venv/bin/ruff check --fix .
	.venv/bin/ruff format .

# Build/installed artefacts only; never var/ (database, secrets, tile cache).
clean:
	rm -rf .venv node_modules staticfiles .pytest_cache .ruff_cache .hypothesis tests/artifacts
	find . -path ./var -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

clean-data:
	scripts/pg.sh destroy
	rm -rf var
