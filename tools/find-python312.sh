#!/usr/bin/env bash
# Prints the path of a working Python 3.12 interpreter, or explains what to install.
# Order: $PYTHON312, python3.12 on PATH (if it really runs), pyenv's 3.12.x, python3 if it is 3.12.
set -u
try() { "$1" -c 'import sys; assert sys.version_info[:2] == (3, 12)' >/dev/null 2>&1 && { command -v "$1" || echo "$1"; exit 0; }; }
[ -n "${PYTHON312:-}" ] && try "$PYTHON312"
command -v python3.12 >/dev/null 2>&1 && try python3.12
for root in "${PYENV_ROOT:-}" "$HOME/.pyenv" /root/.pyenv /usr/local/pyenv; do
  [ -n "$root" ] || continue
  for candidate in "$root"/versions/3.12*/bin/python3.12; do
    [ -x "$candidate" ] && try "$candidate"
  done
done
command -v python3 >/dev/null 2>&1 && try python3
echo "error: Python 3.12 not found (the Lambda runtime is 3.12). Install it (pyenv install 3.12) or set PYTHON312=/path/to/python3.12" >&2
exit 1
