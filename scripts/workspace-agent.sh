#!/usr/bin/env bash
# Builds the in-workspace agent as a static musl binary (the server copies it
# into every workspace container). Quick when nothing changed.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
source "$HERE/env.sh"
cd "$ROOT"
if ! rustup target list --installed 2>/dev/null | grep -q x86_64-unknown-linux-musl; then
  echo "agent: adding the musl target" >&2
  rustup target add x86_64-unknown-linux-musl >&2
fi
# The SSH server's crypto (ring) has C and assembly parts: musl's gcc
# wrapper builds them for the static target.
command -v musl-gcc >/dev/null || apt_install musl-tools
export CC_x86_64_unknown_linux_musl="${CC_x86_64_unknown_linux_musl:-musl-gcc}"
cargo build --quiet --release --target x86_64-unknown-linux-musl -p aicockpit-workspace-agent
echo "$CARGO_TARGET_DIR/x86_64-unknown-linux-musl/release/aicockpit-workspace-agent"
