#!/usr/bin/env bash
# Arize Phoenix (the OTLP trace backend of the `phoenix` tests) in its own venv, made once and reused:
# ~/.cache/inferstack-test/phoenix-venv (or $INFERSTACK_PHOENIX_VENV). Prints the venv's path.
# The venv is complete once its stamp file names the pinned version (an interrupted install is redone).
set -euo pipefail
VERSION=20.26.1
VENV="${INFERSTACK_PHOENIX_VENV:-$HOME/.cache/inferstack-test/phoenix-venv}"
STAMP="$VENV/.inferstack-phoenix-$VERSION"
mkdir -p "$(dirname "$VENV")"
exec 9>"$VENV.lock"
flock 9
if [ ! -f "$STAMP" ]; then
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet "arize-phoenix==$VERSION" >&2
  touch "$STAMP"
fi
echo "$VENV"
