#!/usr/bin/env bash
# Translation catalogues: extract every message from the sources, merge it into each locale's
# catalogue, and check that each compiles, printing its statistics (translated / fuzzy /
# untranslated). New and changed strings appear in the catalogue as empty entries to translate
# (no fuzzy guesses: a near-miss translation of medical text is worse than an empty one).
#   scripts/i18n.sh            extract + update + compile check (all locales)
#   scripts/i18n.sh --init LL  also start a catalogue for a new locale LL (e.g. fr)
# The app compiles the .po files itself when it starts using a locale, so no .mo is committed;
# tests/web/test_i18n.py fails while a message is untranslated or fuzzy, or the catalogue is
# out of date with the sources.
set -euo pipefail
cd "$(dirname "$0")/.."

python="${PYTHON:-.venv/bin/python}"
[ -x "$python" ] || python=python3
translations=src/medconsult/translations
pot="$(mktemp -d)/messages.pot"
trap 'rm -rf "$(dirname "$pot")"' EXIT

# The JSON extractors are imported from src/ (babel.cfg names them by module path).
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
"$python" -m babel.messages.frontend extract -F babel.cfg -k _ -k N_ --project MedConsult --version 0.1 \
  --no-location --sort-output --omit-header -o "$pot" .

if [ "${1:-}" = "--init" ]; then
  "$python" -m babel.messages.frontend init -i "$pot" -d "$translations" -l "$2"
fi

for po in "$translations"/*/LC_MESSAGES/messages.po; do
  locale="$(basename "$(dirname "$(dirname "$po")")")"
  "$python" -m babel.messages.frontend update -i "$pot" -d "$translations" -l "$locale" \
    --no-fuzzy-matching --ignore-obsolete --ignore-pot-creation-date --width 100
  "$python" -m babel.messages.frontend compile --statistics -l "$locale" -i "$po" \
    -o "$(dirname "$pot")/$locale.mo"
done
