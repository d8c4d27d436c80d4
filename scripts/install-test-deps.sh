#!/usr/bin/env bash
# The Debian packages the test suite needs, installed only when missing:
#   chromium       browser tests (Playwright drives Debian's build; no browser download)
#   postgresql-15  the migrations are also tested on Debian's packaged PostgreSQL 15
#   flite, asterisk-core-sounds-en-wav  speakers that are not Piper (synthetic voices, and a
#                  real speaker's prompts) for the engine's pitch tests (tests/engines/test_f0.py)
#   asterisk-core-sounds-{en,fr,it,ru}, -{fr,it,ru}-wav, -en-gsm  more real speakers (and
#                  their transcripts, and Allison through a telephone codec) for the clone
#                  quality harness (bench/quality.py, bench/quality_speakers.py)
set -euo pipefail
need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
[ -x /usr/lib/postgresql/15/bin/initdb ] || need+=(postgresql-15)
[ -x /usr/bin/flite ] || need+=(flite)
[ -f /usr/share/asterisk/sounds/en_US_f_Allison/demo-echotest.wav ] || need+=(asterisk-core-sounds-en-wav)
[ -f /usr/share/asterisk/sounds/en_US_f_Allison/demo-echotest.gsm ] || need+=(asterisk-core-sounds-en-gsm)
for lang in en fr it ru; do
  [ -f "/usr/share/doc/asterisk-core-sounds-$lang/core-sounds-$lang.txt.gz" ] ||
    need+=("asterisk-core-sounds-$lang")
done
[ -d /usr/share/asterisk/sounds/fr_CA_f_June ] || need+=(asterisk-core-sounds-fr-wav)
[ -d /usr/share/asterisk/sounds/it_IT_m_Carlo ] || need+=(asterisk-core-sounds-it-wav)
[ -d /usr/share/asterisk/sounds/ru_RU_f_IvrvoiceRU ] || need+=(asterisk-core-sounds-ru-wav)
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
echo "Installing Debian packages: ${need[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
