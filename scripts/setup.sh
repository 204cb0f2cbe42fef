#!/usr/bin/env bash
# Everything AiCockpit needs on this machine, idempotent and quick when it is
# already done:
#   scripts/setup.sh          the engine and the base workspace image
#   scripts/setup.sh --test   also PostgreSQL and Podman for the test suite
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$HERE/env.sh"

want_test=0
[ "${1:-}" = "--test" ] && want_test=1

command -v curl >/dev/null || apt_install curl ca-certificates
apt_install docker.io debootstrap
bash "$HERE/engine.sh"
bash "$HERE/images.sh" ${AICOCKPIT_IMAGES:-}

if [ $want_test -eq 1 ]; then
  bash "$HERE/postgres.sh"
  bash "$HERE/podman.sh"
  # Debian's Chromium for the browser tests (Playwright cannot download one),
  # Debian's OpenSSH client, which the SSH tests drive as users do, and
  # Debian's build of the CNCF distribution registry, which the tests run
  # to publish devcontainer features to (as ghcr.io serves them).
  apt_install chromium openssh-client docker-registry
fi
