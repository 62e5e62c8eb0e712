#!/usr/bin/env bash
# Sets up accessflow and runs the demo: web UI + API (gunicorn) + worker on SQLite, with a demo
# directory and a connected "Wiki" app provisioned into a local SCIM 2.0 server.
set -euo pipefail
cd "$(dirname "$0")/.."
ACCESSFLOW_SKIP_BROWSER=1 bash scripts/setup.sh
export ACCESSFLOW_HOME="${ACCESSFLOW_HOME:-$PWD/instance}"
export ACCESSFLOW_SECRET_KEY="${ACCESSFLOW_SECRET_KEY:-$(.venv/bin/python -c 'import secrets; print(secrets.token_hex(32))')}"
PORT="${PORT:-8000}"
MAIL_PORT="${MAIL_PORT:-8025}"
export ACCESSFLOW_DEMO=1  # the login page lists the demo users and their roles
export ACCESSFLOW_SMTP_HOST=127.0.0.1 ACCESSFLOW_SMTP_PORT="$MAIL_PORT"
export ACCESSFLOW_BASE_URL="${ACCESSFLOW_BASE_URL:-http://127.0.0.1:$PORT}"  # links in notices
bin=.venv/bin

$bin/accessflow init
$bin/accessflow import demo/directory.json

pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT INT TERM
# The demo's target system: an in-memory SCIM 2.0 server holding the Wiki's accounts.
$bin/scim2-server --hostname 127.0.0.1 --port 8090 --dynamic-tenants --bearer-token demo-secret \
  >"$ACCESSFLOW_HOME/scim.log" 2>&1 &
pids+=($!)
# The demo's mail server: delivers nothing, appends every mail to one readable file.
$bin/accessflow mail-catcher --port "$MAIL_PORT" --file "$ACCESSFLOW_HOME/mail.txt" \
  >"$ACCESSFLOW_HOME/mail-catcher.log" 2>&1 &
pids+=($!)
# Provisioning jobs and approval deadlines.
$bin/accessflow worker >"$ACCESSFLOW_HOME/worker.log" 2>&1 &
pids+=($!)
echo "accessflow demo on http://127.0.0.1:$PORT/ (users: alice, mark, gina, fred, fiona, root, dora; password: demo)"
echo "Who is who: the login page and the README's table. Mails sent: $ACCESSFLOW_HOME/mail.txt"
echo "Worker log: $ACCESSFLOW_HOME/worker.log. The accessflow command: .venv/bin/accessflow"
echo "API token for alice: $($bin/accessflow token alice)"
$bin/accessflow serve --host 127.0.0.1 --port "$PORT"
