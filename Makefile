# The two commands of the README. Everything else is in scripts/.
VENV ?= .venv

.PHONY: run test lint screenshots
run:
	@bash scripts/run.sh

test:
	@bash scripts/test.sh

lint:
	@bash scripts/test.sh --lint-only

screenshots:
	@$(VENV)/bin/python scripts/screenshots.py
