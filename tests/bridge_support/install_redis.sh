#!/usr/bin/env bash
# Make `redis-server` available for the bridge's tests (Debian/Ubuntu package).
# Nothing to do if it is on PATH already. The tests start their own servers on
# free loopback ports; the system service the package may start is stopped.
set -euo pipefail
if command -v redis-server >/dev/null 2>&1; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install_redis.sh: no apt-get here; install redis-server (or valkey-server)" \
        "with your package manager, or set ASYNCSIGNAL_REDIS_SERVER" >&2
    exit 1
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then
    SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends redis-server >/dev/null
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet redis-server 2>/dev/null; then
    $SUDO systemctl disable --now redis-server >/dev/null 2>&1 || true
elif command -v service >/dev/null 2>&1; then
    $SUDO service redis-server stop >/dev/null 2>&1 || true
fi
redis-server --version
