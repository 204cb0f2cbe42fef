#!/usr/bin/env bash
# Podman's Docker-compatible API service for the Podman smoke test, with the
# settings this host needs (runc instead of crun, bounded ulimits), and a
# root-filesystem image imported from the debootstrap cache. Idempotent.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$HERE/env.sh"

SOCK=/run/aicockpit-podman.sock
ping_podman() { curl -fsS --max-time 2 --unix-socket "$SOCK" http://podman/_ping >/dev/null 2>&1; }

# catatonit is Podman's init (HostConfig.init); without it creates fail.
apt_install podman runc catatonit
if ! ping_podman; then
  mkdir -p /etc/containers
  if ! grep -q aicockpit /etc/containers/containers.conf 2>/dev/null; then
    cat >/etc/containers/containers.conf <<'CONF'
# Written by AiCockpit's scripts/podman.sh: crun fails on this host's hybrid
# cgroups, and the default open-file limit exceeds the hard limit.
[containers]
default_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]
[engine]
runtime = "runc"
CONF
  fi
  mkdir -p "$AICOCKPIT_STATE_DIR"
  rm -f "$SOCK"
  setsid podman system service --time=0 "unix://$SOCK" >"$AICOCKPIT_STATE_DIR/podman.log" 2>&1 </dev/null &
  for _ in $(seq 1 60); do ping_podman && break; sleep 0.5; done
  ping_podman || { echo "podman: service did not come up" >&2; tail -20 "$AICOCKPIT_STATE_DIR/podman.log" >&2; exit 1; }
fi
if ! podman image exists localhost/aicockpit/rootfs:bookworm; then
  podman import /var/cache/aicockpit/bookworm-minbase.tar localhost/aicockpit/rootfs:bookworm >/dev/null 2>&1
fi
