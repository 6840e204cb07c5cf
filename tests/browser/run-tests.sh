#!/usr/bin/env bash
# The browser tests: headless Chromium (Debian's /usr/bin/chromium) driven by playwright-core (npm ci in this folder)
# against the product as built (dotnet build Orleans.sln -c Release). Installs nothing. Starts the API silo on free
# loopback ports with API keys and one allowed browser origin, runs node's test runner, prints its summary and exits
# non-zero on failure.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
dll="$root/src/Api/bin/Release/net10.0/Api.dll"
[[ -f "$dll" ]] || { echo "missing $dll: build first (dotnet build Orleans.sln -c Release)" >&2; exit 2; }
[[ -x /usr/bin/chromium ]] || { echo "missing /usr/bin/chromium (apt-get install -y chromium)" >&2; exit 2; }
[[ -d "$here/node_modules/playwright-core" ]] || { echo "missing playwright-core (cd tests/browser && npm ci)" >&2; exit 2; }

free_port() { node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
api_port=$(free_port); page_port=$(free_port); silo_port=$(free_port); gateway_port=$(free_port)
key() { node -e 'console.log(require("crypto").randomBytes(24).toString("base64url"))'; }
client_key=$(key); player_key=$(key); user_key=$(key)

log="$(mktemp)"
Auth__Keys__0__Key="$client_key" Auth__Keys__0__Role=client \
Auth__Keys__1__Key="$player_key" Auth__Keys__1__Role=player Auth__Keys__1__Subject=p1 \
Auth__Keys__2__Key="$user_key" Auth__Keys__2__Role=user Auth__Keys__2__Subject=u1 \
Api__Cors__Origins__0="http://127.0.0.1:$page_port" \
Agents__BuiltinLatency=00:00:01 Sessions__BuiltinLatency=00:00:01 \
Orleans__SiloPort="$silo_port" Orleans__GatewayPort="$gateway_port" \
DOTNET_ENVIRONMENT=Production ASPNETCORE_ENVIRONMENT=Production \
  dotnet "$dll" --urls "http://127.0.0.1:$api_port" >"$log" 2>&1 &
api_pid=$!
cleanup() { kill "$api_pid" 2>/dev/null || true; wait "$api_pid" 2>/dev/null || true; rm -f "$log"; }
trap cleanup EXIT

for _ in $(seq 1 120); do
  curl -fsS "http://127.0.0.1:$api_port/health/ready" >/dev/null 2>&1 && break
  kill -0 "$api_pid" 2>/dev/null || { echo "the API silo exited:" >&2; tail -40 "$log" >&2; exit 2; }
  sleep 0.5
done

status=0
BROWSER_TEST_API="http://127.0.0.1:$api_port" BROWSER_TEST_PAGE_PORT="$page_port" \
BROWSER_TEST_CLIENT_KEY="$client_key" BROWSER_TEST_PLAYER_KEY="$player_key" BROWSER_TEST_USER_KEY="$user_key" \
  node --test --test-reporter=spec "$here"/*.test.mjs || status=$?

# Neither a key nor a ticket may reach the product's log.
for secret in "$client_key" "$player_key" "$user_key"; do
  if grep -qF "${secret:0:12}" "$log"; then echo "a key appears in the product's log" >&2; status=1; fi
done
if grep -q "ticket=" "$log"; then echo "a ticket appears in the product's log" >&2; status=1; fi
[[ "$status" == 0 ]] || { echo "--- last lines of the product's log" >&2; tail -30 "$log" >&2; }
exit "$status"
