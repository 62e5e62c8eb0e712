#!/usr/bin/env bash
# Installs everything accessflow needs on a fresh Debian machine: Python packages in .venv,
# the front-end packages from npm, Debian's Chromium for the browser tests and Debian's
# OpenLDAP server (slapd, ldap-utils) for the LDAP connector tests.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { echo "setup: $*…"; }

if [ ! -x .venv/bin/python ]; then
  step "creating the virtual environment .venv"
  python3 -m venv .venv
fi
step "installing Python packages into .venv (pip)"
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[test]"

if [ -f package.json ]; then
  step "installing npm packages (bpmn-js for the designer)"
  npm ci --no-audit --no-fund --loglevel=error
fi

if [ "${ACCESSFLOW_SKIP_BROWSER:-0}" != "1" ] && ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ]; then
    step "installing chromium (apt) for the browser tests"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "chromium is missing: run 'sudo apt-get install chromium' for the browser tests" >&2
  fi
elif [ "${ACCESSFLOW_SKIP_BROWSER:-0}" != "1" ]; then
  step "chromium already installed: $(command -v chromium)"
fi

if ! command -v slapd >/dev/null 2>&1 && [ ! -x /usr/sbin/slapd ]; then
  if [ "$(id -u)" = "0" ]; then
    step "installing slapd and ldap-utils (apt) for the LDAP connector tests"
    apt-get update -qq
    # slapd's package configuration is not used: the tests start their own slapd.
    echo "slapd slapd/no_configuration boolean true" | debconf-set-selections
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slapd ldap-utils >/dev/null
  else
    echo "slapd is missing: run 'sudo apt-get install slapd ldap-utils' for the LDAP tests" >&2
  fi
else
  step "slapd already installed"
fi
echo "setup: done; the accessflow command is .venv/bin/accessflow (or: source .venv/bin/activate)"
