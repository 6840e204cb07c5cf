#!/usr/bin/env bash
# Every test suite in one command: builds the solution once, runs `dotnet test`, then each suite script
# (clients/python/run-tests.sh, then tests/*/run-tests.sh: the OpenAPI conformance suite, the browser tests when
# present). Goes on through every suite whatever fails, and ends with one line that counts every suite's tests:
# `N passed, N failed, N skipped`. Exits non-zero when anything failed. Arguments go to `dotnet test` (for example
# `--filter "Category!=Faults"` to leave out the three-minute fault suite while working).
# Needs: the .NET 10 SDK, redis-server, Node/npm, Debian's python3-httpx and python3-pytest (.ci/run installs them).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

passed=0 failed=0 skipped=0 last_failed=0
broken=()
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# Adds the counts a suite printed: dotnet test's "Passed!/Failed!  - Failed: a, Passed: b, Skipped: c" per assembly,
# pytest's closing "a failed, b passed, c skipped, d errors in 1.2s", node --test's "ℹ pass b" lines, or Playwright's
# "  b passed (3s)" lines.
count() {
  local p f s
  read -r p f s < <(awk '
    /(Passed|Failed)! +- +Failed: +[0-9]+, +Passed: +[0-9]+, +Skipped: +[0-9]+/ {
      for (i = 1; i <= NF; i++) {
        v = $(i + 1); gsub(/,/, "", v)
        if ($i == "Failed:") f += v; else if ($i == "Passed:") p += v; else if ($i == "Skipped:") s += v
      }
      dotnet = 1; next
    }
    !dotnet && / in [0-9.]+s/ && /[0-9]+ (passed|failed|skipped|error|errors)/ {
      lp = lf = ls = 0
      n = split($0, w, /[ ,=]+/)
      for (i = 2; i <= n; i++) {
        if (w[i] == "passed") lp = w[i - 1]
        else if (w[i] == "failed" || w[i] == "error" || w[i] == "errors") lf += w[i - 1]
        else if (w[i] == "skipped") ls = w[i - 1]
      }
      pp = lp; pf = lf; ps = ls; pytest = 1; next
    }
    # node --test: "ℹ pass 3", "ℹ fail 0", "ℹ skipped 0" (also "# pass 3" in its TAP output).
    !dotnet && !pytest && /^(ℹ|#) (pass|fail|skipped) [0-9]+$/ {
      if ($2 == "pass") np = $3; else if ($2 == "fail") nf = $3; else ns = $3
      node = 1; next
    }
    !dotnet && !pytest && /^ +[0-9]+ (passed|failed|skipped|flaky)( |$)/ {
      if ($2 == "passed" || $2 == "flaky") wp += $1; else if ($2 == "failed") wf += $1; else ws += $1
    }
    END {
      if (dotnet) print p + 0, f + 0, s + 0
      else if (pytest) print pp + 0, pf + 0, ps + 0
      else if (node) print np + 0, nf + 0, ns + 0
      else print wp + 0, wf + 0, ws + 0
    }' "$log")
  passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
  last_failed=$f
}

# Runs one suite, shows its output, adds its counts. A suite that fails without counting a failed test (a build
# error, a crash, an unreadable summary) counts as one failure, so it is never lost from the closing line.
suite() {
  local name=$1 status
  shift
  echo "=== $name: $*"
  "$@" 2>&1 | tee "$log"
  status=${PIPESTATUS[0]}
  count
  if [[ $status != 0 ]]; then
    broken+=("$name")
    if [[ $last_failed == 0 ]]; then
      failed=$((failed + 1))
    fi
  fi
}

suite build dotnet build Orleans.sln -c Release
suite dotnet-test dotnet test Orleans.sln -c Release --no-build "$@"
suite python-client clients/python/run-tests.sh
for script in tests/*/run-tests.sh; do
  [[ -f $script ]] && suite "$(basename "$(dirname "$script")")" "$script"
done

if ((${#broken[@]})); then
  echo "failed suites: ${broken[*]}"
fi
echo "$passed passed, $failed failed, $skipped skipped"
((failed == 0 && ${#broken[@]} == 0))
