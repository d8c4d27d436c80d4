# The two commands of the README, and the quick loop. Everything else is in scripts/.
VENV ?= .venv

.PHONY: run test check lint screenshots
run:
	@bash scripts/run.sh

test:
	@bash scripts/test.sh

# ruff, mypy and the fast test tier, in under two minutes (docs/testing.md).
check:
	@VENV=$(VENV) bash scripts/check.sh

lint:
	@bash scripts/test.sh --lint-only

screenshots:
	@$(VENV)/bin/python scripts/screenshots.py
