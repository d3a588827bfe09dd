#!/usr/bin/env bash
# Runs every test Embargo has:
#   1. the xunit suites (API tests on a real SQLite file; the web UI's browser tests in headless Chromium),
#   2. the API and browser tests again on a throwaway PostgreSQL server (when PostgreSQL 15 is installed, or
#      EMBARGO_TEST_POSTGRES names one),
#   3. the whole protocol through the `embargo` command against `embargo serve` (tools/cli-walkthrough.sh),
#   4. `embargo demo`, then its output checked by an independent tool (tools/check-demo.py: Python's
#      standard library and openssl, no Embargo code), including that a flipped byte is caught, and its
#      advisory.csaf.json by the BSI CSAF validator (tests/csaf-node/validate.mjs),
#   5. the CLI as users install it: `dotnet pack` as a .NET tool, `dotnet tool install` into a temporary tool path,
#      its bash completion loaded and asked, and `embargo demo` run by the installed tool outside the repository.
# Every stage runs even when an earlier one failed, so the last line counts every test that ran:
# "N passed, N failed" (the exit code is non-zero when anything failed or could not run).
set -euo pipefail
cd "$(dirname "$0")"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
log=$(mktemp); work=$(mktemp -d)
passed=0; failed=0; status=0
count() { # sum xunit's "Passed!/Failed! - Failed: X, Passed: Y" lines from a log
  local p f
  p=$(grep -oE 'Passed: +[0-9]+' "$1" | awk '{s+=$2} END {print s+0}')
  f=$(grep -oE 'Failed: +[0-9]+' "$1" | awk '{s+=$2} END {print s+0}')
  passed=$((passed + p)); failed=$((failed + f))
}
finish() {
  local code=$?
  [ "$code" -eq 0 ] && code=$status
  [ -n "${pg_stop:-}" ] && eval "$pg_stop" >/dev/null 2>&1 || true
  rm -rf "$work" "$log"
  echo "$passed passed, $failed failed"
  exit $code
}
trap finish EXIT

# xunit over the given project or solution; counts its tests whether or not they all passed.
suite() {
  local code=0 before=$failed
  dotnet test "$1" -c Release --no-build --nologo 2>&1 | tee "$log" || code=$?
  count "$log"
  if [ "$code" -ne 0 ]; then
    status=$code
    # A run that failed without a failing test counted (a crashed test host, an aborted run) is a failure too.
    [ "$failed" -gt "$before" ] || failed=$((failed + 1))
  fi
}

dotnet build Embargo.slnx -c Release -warnaserror --nologo -v q
# The official openai npm client, driven against the gateway by tests/Embargo.Gateway.Tests/NodeClientTests.cs.
(cd tests/gateway-node && npm ci --no-audit --no-fund --loglevel=error)
# axe-core, injected into every page by the browser tests (tests/Embargo.Ui.Tests, headless Debian Chromium).
(cd tests/ui-node && npm ci --no-audit --no-fund --loglevel=error)
# The BSI CSAF validator (OASIS strict schema + every mandatory test): CsafAdvisoryTests and the demo stage below.
(cd tests/csaf-node && npm ci --no-audit --no-fund --loglevel=error)
suite Embargo.slnx

# PostgreSQL: a throwaway server (initdb refuses root, so run it as the postgres user when root).
PGBIN=/usr/lib/postgresql/15/bin
if [ -z "${EMBARGO_TEST_POSTGRES:-}" ] && [ -x "$PGBIN/initdb" ]; then
  pgroot=$(mktemp -d)   # its own directory under /tmp, so the postgres user can reach it
  as_pg=""
  # (from inside its own directory: the checkout may sit in a directory the postgres user cannot enter)
  if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$pgroot"; as_pg="runuser -u postgres -- env -C $pgroot"; fi
  $as_pg "$PGBIN/initdb" -D "$pgroot/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
  $as_pg "$PGBIN/pg_ctl" -D "$pgroot/data" -l "$pgroot/server.log" -w -t 30 \
      -o "-c listen_addresses=127.0.0.1 -p 55432 -k $pgroot -c fsync=on" start >/dev/null
  pg_stop="$as_pg $PGBIN/pg_ctl -D $pgroot/data -m fast -w stop; rm -rf $pgroot"
  export EMBARGO_TEST_POSTGRES="Host=127.0.0.1;Port=55432;Username=postgres"
fi
if [ -n "${EMBARGO_TEST_POSTGRES:-}" ]; then
  echo "== API tests on PostgreSQL"
  suite tests/Embargo.Server.Tests
  echo "== browser tests on PostgreSQL"
  suite tests/Embargo.Ui.Tests
else
  echo "== PostgreSQL 15 not installed: API tests ran on SQLite only (apt-get install postgresql to add them)"
fi

echo "== the whole protocol through the embargo command (tools/cli-walkthrough.sh)"
if tools/cli-walkthrough.sh Release >"$work/walkthrough.log" 2>&1; then
  tail -1 "$work/walkthrough.log"; passed=$((passed + 1))
else
  cat "$work/walkthrough.log"; failed=$((failed + 1)); status=1
fi

echo "== demo, checked independently"
if ! dotnet src/Embargo.Cli/bin/Release/net10.0/embargo.dll demo --out "$work/demo" >"$work/demo.log" 2>&1; then
  cat "$work/demo.log"; failed=$((failed + 1)); exit 1
fi
if python3 tools/check-demo.py "$work/demo"; then passed=$((passed + 1)); else failed=$((failed + 1)); status=1; fi
echo "== the demo's advisory.csaf.json, checked by the BSI CSAF validator (strict schema, every mandatory test)"
if node tests/csaf-node/validate.mjs "$work/demo/advisory.csaf.json"; then passed=$((passed + 1)); else failed=$((failed + 1)); status=1; fi
cp -r "$work/demo" "$work/tampered"
python3 - "$work/tampered/ledger.jsonl" <<'PY'
import sys; p = sys.argv[1]; b = bytearray(open(p, "rb").read()); b[len(b) // 2] ^= 0x01; open(p, "wb").write(b)
PY
if python3 tools/check-demo.py "$work/tampered" 2>/dev/null; then
  echo "check-demo accepted a tampered ledger"; failed=$((failed + 1)); status=1
else
  echo "ok  a flipped byte in ledger.jsonl is caught"; passed=$((passed + 1))
fi
echo "== the demo's OpenSSF Model Signing bundle, checked with Python's cryptography and the OMS JSON Schemas (tools/check-oms.py)"
if python3 tools/check-oms.py "$work/demo/model.sig" "$work/demo/oms.pub.pem" "$work/demo/weights"; then passed=$((passed + 1)); else failed=$((failed + 1)); status=1; fi
rm -rf "$work/tampered"; cp -r "$work/demo" "$work/tampered"
first=$(find "$work/tampered/weights" -type f | sort | head -1)
python3 - "$first" <<'PY'
import sys; p = sys.argv[1]; b = bytearray(open(p, "rb").read()); b[0] ^= 0x01; open(p, "wb").write(b)
PY
if python3 tools/check-oms.py "$work/tampered/model.sig" "$work/tampered/oms.pub.pem" "$work/tampered/weights" 2>/dev/null; then
  echo "check-oms accepted a changed weights file"; failed=$((failed + 1)); status=1
else
  echo "ok  a flipped byte in a weights file is caught against model.sig"; passed=$((passed + 1))
fi
rm -rf "$work/tampered"; cp -r "$work/demo" "$work/tampered"
sed -i '1s/"allowed"/"blocked"/' "$work/tampered/gateway-audit.jsonl"
if python3 tools/check-demo.py "$work/tampered" 2>/dev/null; then
  echo "check-demo accepted an edited gateway audit file"; failed=$((failed + 1)); status=1
else
  echo "ok  an edited line of gateway-audit.jsonl is caught against its batch root on the ledger"; passed=$((passed + 1))
fi
rm -rf "$work/tampered"; cp -r "$work/demo" "$work/tampered"
sed -i 's/"argument":"mitigation"/"argument":"inability"/' "$work/tampered/safety-case.json"
if python3 tools/check-demo.py "$work/tampered" 2>/dev/null; then
  echo "check-demo accepted an edited safety-case.json"; failed=$((failed + 1)); status=1
else
  echo "ok  an edited safety-case.json is caught against the digest the certificate names"; passed=$((passed + 1))
fi

echo "== the embargo .NET tool: pack, install into a temporary --tool-path, completion, demo from the installed tool"
tool="$work/tool"; mkdir -p "$tool/run"
# A private package cache: an earlier install of the same version must not stand in for this build.
if NUGET_PACKAGES="$tool/nuget" dotnet pack src/Embargo.Cli -c Release --no-build --nologo -o "$tool/nupkg" >"$tool/install.log" 2>&1 \
   && NUGET_PACKAGES="$tool/nuget" dotnet tool install embargo --tool-path "$tool/bin" --add-source "$tool/nupkg" >>"$tool/install.log" 2>&1; then
  echo "ok  packed and installed: $("$tool/bin/embargo" --version)"; passed=$((passed + 1))
  completion=$(cd "$tool/run" && PATH="$tool/bin:$PATH" bash -c 'source <(embargo completion bash) && complete -p embargo \
    && COMP_LINE="embargo model ve" && COMP_POINT=${#COMP_LINE} && COMP_WORDS=(embargo model ve) && COMP_CWORD=2 \
    && _embargo_complete && printf "%s\n" "${COMPREPLY[@]}"' 2>&1) || true
  if grep -q -- '-F _embargo_complete embargo' <<<"$completion" && grep -qx 'versions' <<<"$completion"; then
    echo "ok  bash completion from the installed tool completes 'embargo model ve' to 'versions'"; passed=$((passed + 1))
  else
    echo "$completion"; echo "FAIL bash completion from the installed tool"; failed=$((failed + 1)); status=1
  fi
  if (cd "$tool/run" && "$tool/bin/embargo" demo --out "$tool/run/demo") >"$tool/demo.log" 2>&1 && python3 tools/check-demo.py "$tool/run/demo"; then
    echo "ok  the installed tool ran the demo outside the repository and its output checks"; passed=$((passed + 1))
  else
    cat "$tool/demo.log"; echo "FAIL the demo from the installed tool"; failed=$((failed + 1)); status=1
  fi
else
  cat "$tool/install.log"; echo "FAIL dotnet pack / dotnet tool install"; failed=$((failed + 1)); status=1
fi
