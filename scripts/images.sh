#!/usr/bin/env bash
# Builds AiCockpit's workspace images from the recipes in images/ without any
# container registry: the base root filesystem comes from debootstrap and
# Debian's archive, the stacks are Dockerfiles on top of it.
#
#   scripts/images.sh            # the base image only
#   scripts/images.sh python go  # base plus the named stacks
#   scripts/images.sh all        # base plus every stack
#
# Idempotent: each image carries a label with the hash of its recipe and is
# rebuilt only when that recipe (or the one below it) changed.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
source "$HERE/env.sh"

STACKS=(python node go java rust)
CACHE=/var/cache/aicockpit
ROOTFS_TAR="$CACHE/bookworm-minbase.tar"
ROOTFS_IMAGE=localhost/aicockpit/rootfs:bookworm

recipe_hash() { # dir [parent-hash]
  (cd "$1" && find . -type f -print0 | sort -z | xargs -0 sha256sum; echo "${2:-}") | sha256sum | cut -c1-16
}
image_label() {
  docker image inspect --format '{{ index .Config.Labels "io.aicockpit.recipe" }}' "$1" 2>/dev/null || true
}

ensure_rootfs() {
  if docker image inspect "$ROOTFS_IMAGE" >/dev/null 2>&1; then return; fi
  if [ ! -s "$ROOTFS_TAR" ]; then
    command -v debootstrap >/dev/null || apt_install debootstrap
    echo "images: debootstrap bookworm (about 30 s)" >&2
    local dir; dir="$(mktemp -d "$CACHE/rootfs.XXXX")"
    debootstrap --variant=minbase bookworm "$dir" >"$CACHE/debootstrap.log" 2>&1 \
      || { tail -20 "$CACHE/debootstrap.log" >&2; exit 1; }
    tar -C "$dir" -cf "$ROOTFS_TAR.tmp" . && mv "$ROOTFS_TAR.tmp" "$ROOTFS_TAR"
    rm -rf "$dir"
  fi
  docker import "$ROOTFS_TAR" "$ROOTFS_IMAGE" >/dev/null
}

build() { # name parent-hash -> prints hash
  local name="$1" parent="${2:-}" dir="$ROOT/images/$1"
  local want; want="$(recipe_hash "$dir" "$parent")"
  local tag="localhost/aicockpit/$name:latest"
  if [ "$(image_label "$tag")" != "$want" ]; then
    echo "images: building $tag" >&2
    DOCKER_BUILDKIT=0 docker build -q --label "io.aicockpit.recipe=$want" -t "$tag" "$dir" >"$CACHE/build-$name.log" 2>&1 \
      || { tail -30 "$CACHE/build-$name.log" >&2; exit 1; }
  fi
  echo "$want"
}

mkdir -p "$CACHE"
bash "$HERE/engine.sh"
ensure_rootfs
base_hash="$(build base)"
want=()
for a in "$@"; do
  if [ "$a" = all ]; then want+=("${STACKS[@]}"); elif [ "$a" != base ]; then want+=("$a"); fi
done
for s in "${want[@]}"; do
  [ -d "$ROOT/images/$s" ] || { echo "images: no recipe images/$s" >&2; exit 2; }
  build "$s" "$base_hash" >/dev/null
done
