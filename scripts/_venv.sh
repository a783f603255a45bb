# Sourced by the other scripts: make sure .venv exists with payrelay installed, then activate it.
# Works on a fresh Linux machine that has only Python 3.11+.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
EXTRAS="${PAYRELAY_EXTRAS:-dev}"
STAMP="$ROOT/.venv/.installed-$EXTRAS"
if [ ! -x "$ROOT/.venv/bin/python" ]; then
    "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
        || { echo "payrelay needs Python 3.11 or newer" >&2; exit 1; }
    "$PYTHON" -m venv "$ROOT/.venv"
fi
# Reinstall when the dependency list or the pins changed since the last install.
if [ ! -f "$STAMP" ] || [ "$ROOT/pyproject.toml" -nt "$STAMP" ] || [ "$ROOT/constraints.txt" -nt "$STAMP" ]; then
    "$ROOT/.venv/bin/python" -m pip install --quiet --upgrade pip
    "$ROOT/.venv/bin/python" -m pip install --quiet -c "$ROOT/constraints.txt" -e "$ROOT[$EXTRAS]"
    touch "$STAMP"
fi
# shellcheck disable=SC1091
source "$ROOT/.venv/bin/activate"
cd "$ROOT"
