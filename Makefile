# Shuyuan's two everyday commands: `make run` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
WORKERS ?= 1

.PHONY: install run test lint test-sqlite test-postgres migrations release-snapshot messages bench clean

$(INSTALLED): pyproject.toml
	@echo "== installing Shuyuan and what it needs into $(VENV) (the first time takes a minute or two)"
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --progress-bar off -e '.[dev]'
	touch $@

install: $(INSTALLED)

# axe-core (npm) for the browser tests' accessibility walk, into var/npm (not committed).
AXE := var/npm/node_modules/axe-core/axe.min.js
$(AXE):
	@command -v npm >/dev/null 2>&1 && npm install --no-audit --no-fund --silent --prefix var/npm axe-core@4.14.1 \
		|| echo "== npm is missing: the accessibility walk is skipped (CI requires it)"

# The Nu HTML checker (npm vnu-jar: a vnu.jar that java runs) for the browser walk's pages, into
# var/npm. --ignore-scripts: its install script would fetch a Java runtime where java is missing;
# .ci/run installs Debian's instead.
VNU := var/npm/node_modules/vnu-jar/build/dist/vnu.jar
$(VNU):
	@command -v npm >/dev/null 2>&1 && npm install --no-audit --no-fund --silent --ignore-scripts \
		--prefix var/npm vnu-jar@26.9.27 \
		|| echo "== npm is missing: the HTML check of the browser walk is skipped (CI requires it)"

# Migrate, load the demo community (once: it is idempotent), serve on http://$(HOST):$(PORT)
# with localstripe, the fake Stripe, beside it on STRIPE_API_BASE (127.0.0.1:8420), a mail
# catcher on 127.0.0.1:1025 that keeps every mail sent in var/mail/new/, and the stand-ins of
# WeChat's sign-in (127.0.0.1:8031) and of the SMS gateway (127.0.0.1:8032, var/sms/).
run: install
	$(BIN)/shuyuan migrate
	$(BIN)/shuyuan demo-data
	$(BIN)/shuyuan serve --host $(HOST) --port $(PORT) --workers $(WORKERS) --with-localstripe \
		--with-mail-catcher --with-sign-in-stand-ins --with-wechat-pay --with-alipay

# bandit reads the application's code (not tests, benchmarks or the generated migrations); each finding it
# is told to ignore is justified where it stands (# nosec), B101 (assert) in pyproject.toml.
BANDIT_PATHS = accounts moderation privacy community membership payments store front console stats crm support keywords referrals web jobs app.py cli.py db.py errors.py \
	ratelimit.py settings.py demo metrics.py batches.py translation.py pictures.py dependencies.py \
	composition.py wiring.py links.py routing.py tallies.py ipregion changes.py storage.py backups.py \
	migrations/check.py migrations/released.py migrations/operations.py

# migrations.check: no migration since the last release (migrations/released.json) drops or
# renames what that release's hosts still name (docs/upgrades.md).
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m migrations.check
	$(BIN)/bandit -q -c pyproject.toml -r $(BANDIT_PATHS)

# PostgreSQL runs when TEST_POSTGRES_URL is set or a server answers at 127.0.0.1:5432; with
# TEST_REQUIRE_POSTGRES=1 (CI) its absence fails the run instead of skipping it. The expensive
# checks run once, split between the two runs so that they take about as long side by side: the
# browser journeys and the page walk with its Nu HTML check (TEST_BROWSER) in the SQLite run (a
# page is the same on both); the contract walks (schemathesis over the API, hostile queries over
# the pages: TEST_CONTRACT), the several-hosts and storage tests in the PostgreSQL run when there
# is one, else in the SQLite run too. The services under them are tested on both.
HAVE_POSTGRES = [ -n "$$TEST_POSTGRES_URL" ] || $(PYTHON) -c "import socket; socket.create_connection(('127.0.0.1', 5432), 1)" 2>/dev/null

test-sqlite: install $(AXE) $(VNU)
	@if $(HAVE_POSTGRES); then contract=0; else contract=1; fi; \
		echo "== pytest on SQLite"; \
		TEST_DATABASE=sqlite TEST_CONTRACT=$$contract TEST_BROWSER=1 $(BIN)/pytest

test-postgres: install $(AXE) $(VNU)
	@if $(HAVE_POSTGRES); then \
		echo "== pytest on PostgreSQL"; TEST_DATABASE=postgres TEST_CONTRACT=1 TEST_BROWSER=0 $(BIN)/pytest; \
	elif [ "$$TEST_REQUIRE_POSTGRES" = 1 ]; then \
		echo "== no PostgreSQL at 127.0.0.1:5432 and TEST_POSTGRES_URL unset, but TEST_REQUIRE_POSTGRES=1"; \
		exit 1; \
	else \
		echo "== no PostgreSQL at 127.0.0.1:5432 and TEST_POSTGRES_URL unset: skipping the PostgreSQL run"; \
	fi

# The two passes run side by side (each on its own database, stand-ins and ports; the browser
# and contract walks only in the PostgreSQL pass): on CI's two CPUs that is about ten minutes
# less than one after the other. Each pass's output is printed whole when it ends.
test: lint
	@$(MAKE) --no-print-directory -j2 --output-sync=target test-sqlite test-postgres

# After changing models: write the next migration of every app.
migrations: install
	$(BIN)/tortoise makemigrations

# When cutting a release: every migration on disk is released (migrations/released.json).
release-snapshot: install
	$(BIN)/python -m migrations.released

# After changing UI text: re-extract messages and merge them into the catalogs.
messages: install
	$(BIN)/pybabel extract -F babel.cfg -k _ -k gettext -k N_ --no-location --sort-output \
		--ignore-dirs='.venv tests migrations build' -o var/messages.pot .
	$(BIN)/pybabel update -i var/messages.pot -d locales -D messages --no-fuzzy-matching -w 100

# Speed, measured on PostgreSQL at 127.0.0.1:5432 (BENCH_POSTGRES_URL to change it).
# Every benchmark, then one summary table of all of them (var/bench-summary.md).
bench: install
	@mkdir -p var && printf '| benchmark | measure | value |\n|---|---|---|\n' > var/bench-summary.md
	$(BIN)/python -m bench.enrollment_rush
	$(BIN)/python -m bench.drop_rush --sweep
	$(BIN)/python -m bench.feed_page
	$(BIN)/python -m bench.avatar_uploads
	$(BIN)/python -m bench.reset_timing
	$(BIN)/python -m bench.admin_stats
	$(BIN)/python -m bench.watched_words
	$(BIN)/python -m bench.morning_push
	@echo; cat var/bench-summary.md

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache .mypy_cache
