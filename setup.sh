#!/usr/bin/env bash
# Set up pcapdiag on a fresh Debian/Ubuntu machine: system tools (as root), then a venv in .venv.
set -euo pipefail
cd "$(dirname "$0")"
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  need=""
  for tool in tcpdump tshark ip nft chromium; do command -v "$tool" >/dev/null || need=1; done
  [ -x /usr/bin/time ] || need=1  # GNU time, for bench/ (the shell's `time` keyword is not it)
  if [ -n "$need" ]; then
    apt-get update -qq
    apt-get install -y -qq tcpdump tshark iproute2 nftables chromium time >/dev/null
  fi
fi
python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e '.[test]'
.venv/bin/pcapdiag --version
