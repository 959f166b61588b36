#!/usr/bin/env bash
# Installs, only when missing, the real peers the tests talk to: Debian
# packages and pinned PyPI packages. Quiet when everything is there.
set -euo pipefail
cd "$(dirname "$0")/.."

DEBIAN_PACKAGES=(
    redis-server redis-tools nginx haproxy nghttp2-client curl wrk nutcracker
    openssl iproute2 iptables python3-pip
)

sudo_if_needed() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

missing=()
for pkg in "${DEBIAN_PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$pkg")
    fi
done
# python3-pip is only needed when no pip comes with the Python on PATH.
if python3 -m pip --version >/dev/null 2>&1; then
    missing=("${missing[@]/python3-pip}")
fi
missing=(${missing[@]+"${missing[@]}"})
if [ "${#missing[@]}" -gt 0 ]; then
    echo "install-peers: installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    sudo_if_needed apt-get update -qq
    sudo_if_needed apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# PyPI: compare installed versions with the pins; install only on a mismatch.
if ! python3 - scripts/requirements-test.txt <<'PY'
import sys
from importlib import metadata
ok = True
for line in open(sys.argv[1]):
    line = line.split("#", 1)[0].strip()
    if not line:
        continue
    name, version = line.split("==")
    try:
        if metadata.version(name) != version:
            ok = False
    except metadata.PackageNotFoundError:
        ok = False
sys.exit(0 if ok else 1)
PY
then
    echo "install-peers: installing pinned Python packages"
    python3 -m pip install -q --disable-pip-version-check -r scripts/requirements-test.txt
fi
