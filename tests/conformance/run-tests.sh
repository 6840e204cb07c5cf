#!/usr/bin/env bash
# The OpenAPI conformance suite: the product (its Release build) behind Stoplight Prism's validating proxy. Needs the
# npm packages of this folder (`npm ci`, which .ci/run does), redis-server, and Debian's python3-httpx and python3-pytest.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"
if [[ ! -x node_modules/.bin/prism ]]; then
  npm ci --no-audit --no-fund
fi
export PYTHONDONTWRITEBYTECODE=1
exec /usr/bin/python3 -m pytest "$here" -q -p no:cacheprovider "$@"
