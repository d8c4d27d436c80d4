#!/usr/bin/env bash
# The Debian packages the test suite needs, installed only when missing:
#   chromium       browser tests (Playwright drives Debian's build; no browser download)
#   postgresql-15  the migrations are also tested on Debian's packaged PostgreSQL 15
#   flite, asterisk-core-sounds-en-wav  speakers that are not Piper (synthetic voices, and a
#                  real speaker's prompts) for the engine's pitch tests (tests/engines/test_f0.py)
set -euo pipefail
need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
[ -x /usr/lib/postgresql/15/bin/initdb ] || need+=(postgresql-15)
[ -x /usr/bin/flite ] || need+=(flite)
[ -d /usr/share/asterisk/sounds/en_US_f_Allison ] || need+=(asterisk-core-sounds-en-wav)
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
echo "Installing Debian packages: ${need[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
