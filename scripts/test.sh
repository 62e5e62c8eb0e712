#!/usr/bin/env bash
# Sets up everything, then lints, type-checks and runs the whole test suite (SQLite and
# PostgreSQL). Arguments go to pytest: `bash scripts/test.sh -m "not browser and not processes
# and not postgresql"` is the fast tier.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
.venv/bin/python -m pytest "$@"
