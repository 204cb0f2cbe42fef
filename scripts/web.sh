#!/usr/bin/env bash
# Builds the web app (web/ → web/dist), which the server embeds. Skips the
# work when nothing under web/ changed since the last build.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
source "$HERE/env.sh"
command -v npm >/dev/null || apt_install nodejs npm
cd "$ROOT/web"
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "web: installing packages" >&2
  # `npm install`, not `npm ci`: with this registry set-up the lock file
  # records platform packages without versions, which `npm ci` refuses.
  npm install --no-audit --no-fund --loglevel=error >&2
fi
# The API's TypeScript types, generated from the server's OpenAPI document
# (docs/openapi.json, which a Rust test keeps equal to what the server
# serves); rewritten only when they differ, so an unchanged build is skipped.
gen="$(mktemp --suffix=.d.ts)"
npx --no-install openapi-typescript ../docs/openapi.json -o "$gen" >/dev/null 2>"$gen.log" ||
  { cat "$gen.log" >&2; echo "web: openapi-typescript failed" >&2; exit 1; }
cmp -s "$gen" src/api/schema.d.ts || cat "$gen" >src/api/schema.d.ts
rm -f "$gen" "$gen.log"
hash="$( (find src e2e -type f -print0 | sort -z | xargs -0 sha256sum; sha256sum package.json package-lock.json index.html vite.config.ts tsconfig.json) | sha256sum | cut -c1-16)"
if [ -f dist/.build-hash ] && [ "$(cat dist/.build-hash)" = "$hash" ] && [ -d node_modules ]; then
  exit 0
fi
echo "web: building" >&2
npm run --silent build >"${TMPDIR:-/tmp}/aicockpit-web-build.log" 2>&1 || { cat "${TMPDIR:-/tmp}/aicockpit-web-build.log" >&2; exit 1; }
grep -E 'index-.*\.js|ide-.*\.js|monaco-.*\.js' "${TMPDIR:-/tmp}/aicockpit-web-build.log" >&2 || true
echo "$hash" > dist/.build-hash
