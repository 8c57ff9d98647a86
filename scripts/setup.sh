#!/usr/bin/env bash
# Shared set-up for scripts/serve and scripts/test: a virtualenv in .venv with
# ghostwatch installed (editable), reinstalled when pyproject.toml changes.
# Source it; it sets $VENV and $PY.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${GHOSTWATCH_VENV:-$ROOT/.venv}"

find_python() {
    for candidate in python3.13 python3.12 python3.11 python3; do
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
            command -v "$candidate"
            return 0
        fi
    done
    echo "ghostwatch: Python 3.11 以上が必要です (python3 --version を確認してください)" >&2
    return 1
}

if [ ! -x "$VENV/bin/python" ]; then
    echo "ghostwatch: 仮想環境を作成しています: $VENV" >&2
    "$(find_python)" -m venv "$VENV"
fi
PY="$VENV/bin/python"

# ensure_installed [test]: ghostwatch (editable) with its runtime dependencies,
# plus the test tools for "test"; the exact versions of constraints.txt either way.
# Reinstalled when pyproject.toml or constraints.txt changes.
ensure_installed() {
    local extras="${1:-}"
    local stamp="$VENV/.ghostwatch-installed${extras:+-$extras}"
    local want
    want="$(cat "$ROOT/pyproject.toml" "$ROOT/constraints.txt" | sha256sum | cut -d' ' -f1)"
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
        echo "ghostwatch: 依存パッケージをインストールしています…" >&2
        # -qq: errors only (setuptools' notes on editable installs are not for users).
        "$PY" -m pip install -qq --disable-pip-version-check --upgrade pip >&2
        "$PY" -m pip install -qq --disable-pip-version-check -c "$ROOT/constraints.txt" \
            -e "$ROOT${extras:+[$extras]}" >&2
        echo "$want" > "$stamp"
    fi
}

# A Chromium for the collector and the browser tests: GHOSTWATCH_BROWSER, else
# Debian's package (installed when missing and apt-get is at hand), else
# Playwright's own build.
ensure_chromium() {
    if [ -n "${GHOSTWATCH_BROWSER:-}" ] && [ -x "${GHOSTWATCH_BROWSER}" ]; then
        return 0
    fi
    if [ -x /usr/lib/chromium/chromium ]; then
        return 0
    fi
    if command -v apt-get >/dev/null 2>&1; then
        local sudo=""
        if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
        echo "ghostwatch: Chromium をインストールしています (apt-get install chromium)…" >&2
        $sudo apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >&2 && return 0
    fi
    echo "ghostwatch: Playwright のブラウザをインストールしています…" >&2
    "$PY" -m playwright install chromium >&2
}
