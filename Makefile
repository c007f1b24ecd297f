# Two commands: `make run` (set up, migrate, start the worker on the simulator and the console)
# and `make test`. Everything installs into .venv; torch is installed first, pinned to the CPU build.
PY      := .venv/bin/python
STAMP   := .venv/.installed
SPEED   ?= 60
DB      ?=
PORT    ?= 8501
# PyTorch's CPU wheels: PyPI's torch for Linux is the CUDA build (gigabytes of CUDA packages)
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu

.PHONY: install browser migrate run worker console test lint bench calibrate model evaluate figures clean

$(STAMP): requirements.txt
	python3 -m venv .venv
	$(PY) -m pip install -q --retries 1 --timeout 20 torch==2.13.0 --index-url $(TORCH_INDEX) || { \
	  echo "make: PyTorch's CPU index ($(TORCH_INDEX)) cannot be reached: torch==2.13.0 from the default index instead (a CPU build only where that index serves one)"; \
	  $(PY) -m pip install -q torch==2.13.0; }
	$(PY) -m pip install -q -r requirements.txt
	touch $(STAMP)

install: $(STAMP)

# Debian's Chromium and ChromeDriver for the end-to-end browser test (never `playwright install`),
# and Debian's PostgreSQL: the tests start a throwaway server of their own (tests/postgres_server.py).
browser:
	@test -x /usr/bin/chromium && ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
	  SUDO=$$(test "$$(id -u)" -eq 0 || echo sudo); \
	  $$SUDO apt-get update -qq && \
	  $$SUDO apt-get install -y -qq chromium chromium-driver postgresql >/dev/null; }

migrate: install
	$(PY) -m db.migrate $(if $(DB),--db $(DB))

# The worker and the alert relay run in the background (sim mode, clock x$(SPEED)); the console
# in the foreground on 127.0.0.1:$(PORT); with TELEGRAM_BOT_TOKEN set, chat control too (worker.chat).
# Ctrl-C stops them all: SIGTERM, clean shutdowns.
run: migrate
	@mkdir -p data
	@$(PY) -m worker --demo-preset --speed $(SPEED) $(if $(DB),--db $(DB)) > data/worker.log 2>&1 & \
	  worker=$$!; \
	  $(PY) -m worker.alerts $(if $(DB),--db $(DB)) > data/alerts.log 2>&1 & \
	  alerts=$$!; chat=; \
	  if [ -n "$$TELEGRAM_BOT_TOKEN" ]; then $(PY) -m worker.chat $(if $(DB),--db $(DB)) > data/chat.log 2>&1 & chat=$$!; \
	    echo "chat control pid $$chat (log: data/chat.log)"; fi; \
	  trap 'kill -TERM $$worker $$alerts $$chat 2>/dev/null; wait $$worker $$alerts $$chat' EXIT INT TERM; \
	  echo "worker pid $$worker (log: data/worker.log), alerts pid $$alerts (log: data/alerts.log)"; \
	  echo "console on http://127.0.0.1:$(PORT)"; \
	  $(PY) -m console --address 127.0.0.1 --port $(PORT)

worker: migrate
	$(PY) -m worker --speed $(SPEED) $(if $(DB),--db $(DB))

console: migrate
	$(PY) -m console --address $(or $(ADDRESS),127.0.0.1) --port $(PORT)

# Every test runs once: core, db and reliability on the real clock, the console and worker tests
# on a Saturday (TEST_CLOCK, tests/moved_clock.py) so CI proves weekends on every day it runs.
# TEST_CLOCK=holiday|0300|1559|<ISO time> make test moves the whole suite instead.
test: install browser
	$(PY) -m ruff check .
	$(PY) -m pytest -q tests/core tests/db tests/reliability
	TEST_CLOCK=$(or $(TEST_CLOCK),saturday) $(PY) -m pytest -q tests/console tests/worker

lint: install
	$(PY) -m ruff check .

bench: install
	$(PY) bench/cycle_latency.py
	$(PY) bench/backtest_throughput.py
	$(PY) bench/backtest_throughput.py --model models/rppo-shipped.zip
	$(PY) bench/rl_env_steps.py
	$(PY) bench/rl_inference.py
	$(PY) bench/console_pages.py
	$(PY) bench/replay_speed.py
	$(PY) bench/evaluate_speedup.py --timesteps 30000
	$(PY) bench/structure_legs.py
	$(PY) bench/structure_backtest.py
	$(PY) bench/cycle_latency.py --strategy iron_condor

# The shipped model: walk-forward over seeds on real sessions (../shared/data but its held-out tail,
# core/market/holdout.py; else synthetic), the seed the out-of-sample result chooses is written to
# models/rppo-shipped.zip (about 15 minutes on 2 cores).
model: migrate
	$(PY) -m worker.ship_model

# Walk-forward evaluation on the real sessions in ../shared/data but the held-out tail
# (core/market/holdout.py; --include-held-out adds it); results go to the database.
evaluate: migrate
	$(PY) -m worker.evaluate --source csv:../shared/data --folds 3 --train-days 40 --test-days 15 --seeds 1 2

# The same-day vol model fitted on the chain days but the held-out tail (--include-held-out: all).
calibrate: install
	$(if $(SOURCE),$(PY) bench/calibrate_options.py --source $(SOURCE),$(PY) bench/calibrate_day_vol.py)

# Every result figure the README quotes, rerun: docs/figures.json, docs/figures.md and the README's
# block between its markers (bench/figures.py; out-of-sample figures from the held-out tail,
# core/market/holdout.py). Speeds are not in it: the Benchmarks table names their commands and dates.
figures: install
	$(PY) bench/figures.py

clean:
	rm -rf data .pytest_cache .ruff_cache
