#!/usr/bin/env bash
# Runs the Python client's tests against the real product. The tests start the product themselves (its Release
# build, embedded mode, on free loopback ports) and stop it after; this script only makes sure the build exists.
# Needs Debian's python3-httpx and python3-pytest (apt-get install -y python3-httpx python3-pytest).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo"

if [[ ! -f src/Api/bin/Release/net10.0/Api.dll ]]; then
  echo "run-tests.sh: building the product (Release)"
  dotnet build src/Api -c Release -nologo -v quiet
fi

# Debian's interpreter: the python3 first on PATH may not see Debian's httpx and pytest.
export PYTHONDONTWRITEBYTECODE=1
exec /usr/bin/python3 -m pytest clients/python/tests -q -p no:cacheprovider "$@"
