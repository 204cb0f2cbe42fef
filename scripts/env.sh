# Shared settings for the project's scripts (sourced, not run).
# Everything heavy lives outside the work tree so that a fresh clone on the
# same machine reuses it: the engine's data root, the debootstrap cache, the
# cargo target dir.
AICOCKPIT_STATE_DIR="${AICOCKPIT_STATE_DIR:-/var/lib/aicockpit-dev}"
AICOCKPIT_DOCKER_SOCK="${AICOCKPIT_DOCKER_SOCK:-/run/aicockpit-docker.sock}"
export DOCKER_HOST="${DOCKER_HOST:-unix://$AICOCKPIT_DOCKER_SOCK}"
# One target dir shared by every checkout on this machine: CI's fresh clone
# then rebuilds only what changed. Cargo's fingerprints make this safe.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/cache/aicockpit/target}"

apt_updated=0
apt_install() {
  local missing=()
  for p in "$@"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ $apt_updated -eq 0 ]; then
    apt-get update -qq >&2
    apt_updated=1
  fi
  echo "setup: installing ${missing[*]} from Debian" >&2
  mkdir -p "$AICOCKPIT_STATE_DIR"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >"$AICOCKPIT_STATE_DIR/apt.log" 2>&1 \
    || { tail -30 "$AICOCKPIT_STATE_DIR/apt.log" >&2; return 1; }
}
