# Two commands do everything on a fresh Debian/Ubuntu machine:
#   make run   - install what is missing, start the sandbox Asterisk and the controller
#   make test  - install what is missing, run the whole suite (integration included)
PY := .venv/bin/python
HOTLINE := .venv/bin/hotline

.PHONY: run test unit integration lint typecheck prompts bootstrap sandbox-up sandbox-down bench clean

bootstrap:
	@tools/bootstrap

prompts: bootstrap
	@tools/make_prompts

run: prompts
	@$(HOTLINE) check
	@tools/sandbox up
	@tools/broker up
	@tools/demo-banner
	@$(HOTLINE) run --ami-from-sandbox

test: prompts
	@$(HOTLINE) check
	$(PY) -m pytest -q tests

unit: bootstrap
	$(PY) -m pytest -q tests/unit

integration: prompts
	$(PY) -m pytest -q -m integration tests/integration

lint: bootstrap
	.venv/bin/ruff check ivr agent_pool testkit hotline_sandbox speechkit tests bench
	.venv/bin/mypy

sandbox-up: prompts
	tools/sandbox up

sandbox-down:
	tools/sandbox down

bench: prompts
	$(PY) bench/post_dial_delay.py
	$(PY) bench/acd_bench.py
	$(PY) bench/speech_bench.py
	$(PY) bench/transfer_bench.py
	$(PY) bench/listening_bench.py
	$(PY) bench/callstore_bench.py
	$(PY) bench/mqtt_bench.py
	$(PY) bench/load.py
	$(PY) bench/load.py hold
	$(PY) bench/soak.py

clean: sandbox-down
	rm -rf .venv recordings/generated .pytest_cache
