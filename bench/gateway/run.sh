#!/usr/bin/env bash
# The gateway bench, in ONE run on loopback: wrk against
#   direct     nginx answering `return 200` with a canned chat completion (the upstream)
#   nginx      nginx as a plain reverse proxy in front of it (keep-alive to the upstream)
#   gateway    `embargo gateway` with no screens, no audit file
#   screened   `embargo gateway` with two rule screens (keywords + regexes, input and output) and the audit file on
# and the floor under the gateway, the same server stack with none of its work (bench/Embargo.Bench.GatewayFloor):
#   kestrel      Kestrel answering the canned completion itself (no upstream)
#   passthrough  Kestrel + the gateway's own upstream pool, bytes in and out as they came (no key, JSON, screens, audit)
#   yarp         Kestrel + YARP's direct forwarder (Yarp.ReverseProxy MapForwarder, default transforms): the library the
#                issue suggests, forwarding with none of the gateway's work
# Throughput at 64 connections, in ROUNDS interleaved rounds (each round measures every target back to back, so a
# ratio compares figures taken seconds apart: this machine's speed drifts by +-20% over minutes, for every process alike);
# the table gives each target's median and the median of its per-round ratios to nginx. p50/p99 at 8 connections.
# Prints a Markdown table (and writes it to $OUT/results.md).
# Usage: [WARMUP_SECONDS=20] [ROUNDS=5] bench/gateway/run.sh [SECONDS per measurement, default 10]
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd); ROOT=$(cd "$HERE/../.." && pwd)
SECONDS_EACH=${1:-10}
WARMUP_SECONDS=${WARMUP_SECONDS:-20}
ROUNDS=${ROUNDS:-5}
OUT=$(mktemp -d /tmp/embargo-gw-bench.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
UP=$(free_port); PROXY=$(free_port); GW=$(free_port); GWS=$(free_port); KESTREL=$(free_port); PASS=$(free_port); YARP=$(free_port)

# 1. A certificate for the gateway to serve under: the demo's (SAMPLE model, tier hosted).
dotnet build "$ROOT/src/Embargo.Cli" -c Release --nologo -v q >/dev/null
EMBARGO="dotnet $ROOT/src/Embargo.Cli/bin/Release/net10.0/embargo.dll"
dotnet build "$ROOT/bench/Embargo.Bench.GatewayFloor" -c Release --nologo -v q >/dev/null
FLOOR="dotnet $ROOT/bench/Embargo.Bench.GatewayFloor/bin/Release/net10.0/Embargo.Bench.GatewayFloor.dll"
$EMBARGO demo --out "$OUT/demo" >"$OUT/demo.log" 2>&1

# 2. nginx: the upstream and the plain proxy, foreground, own prefix.
COMPLETION='{"id":"chatcmpl-bench","object":"chat.completion","created":1764748800,"model":"camelid-7b","choices":[{"index":0,"message":{"role":"assistant","content":"Lisbon in spring is mild and bright. Walk from Cais do Sodre to Belem along the river, or cross to Cacilhas by ferry and walk the quay."},"finish_reason":"stop"}],"usage":{"prompt_tokens":38,"completion_tokens":34,"total_tokens":72}}'
mkdir -p "$OUT/nginx/logs"
cat >"$OUT/nginx/nginx.conf" <<CONF
worker_processes auto;
pid $OUT/nginx/nginx.pid;
error_log $OUT/nginx/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path $OUT/nginx/body; proxy_temp_path $OUT/nginx/proxy;
  fastcgi_temp_path $OUT/nginx/fcgi; uwsgi_temp_path $OUT/nginx/uwsgi; scgi_temp_path $OUT/nginx/scgi;
  upstream model { server 127.0.0.1:$UP; keepalive 128; }
  server {
    listen 127.0.0.1:$UP;
    location / { client_body_buffer_size 64k; default_type application/json; return 200 '$COMPLETION'; }
  }
  server {
    listen 127.0.0.1:$PROXY;
    location / { proxy_pass http://model; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
CONF
/usr/sbin/nginx -p "$OUT/nginx" -c "$OUT/nginx/nginx.conf" -g 'daemon off;' &
PIDS+=($!)

# 3. Two gateways from YAML files (README "Gateway"): the same upstream, grant and certificate.
KEY=bench-key-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
KEY_SHA=$(printf '%s' "$KEY" | sha256sum | cut -d' ' -f1)
gateway_yaml() { # $1 file, $2 with screens and audit (yes/no)
  cat >"$1" <<YAML
name: bench
upstreams:
  - name: camelid-7b
    url: http://127.0.0.1:$UP/v1
    model: sample-camelid-7b
    certificate: $OUT/demo/certificate.dsse.json
    certifier_key: $OUT/demo/certifier.pub.pem
grants:
  - grantee: bench
    key_sha256: $KEY_SHA
    tier: hosted
    models: [camelid-7b]
    requests_per_minute: 1000000
YAML
  if [ "$2" = yes ]; then cat >>"$1" <<YAML
screens:
  - name: no-phishing-kits
    apply_to: [input, output]
    keywords: ["credential harvesting kit", "phishing kit", "bypass two-factor", "spoofed sender domain"]
    regex: ["(?i)clone\\\\s+the\\\\s+login\\\\s+page", "(?i)harvest(ing)?\\\\s+credentials?"]
    max_match: 64
  - name: no-synthesis-routes
    apply_to: [input, output]
    keywords: ["synthesis route for", "enhance transmissibility", "order without screening"]
    regex: ["(?i)\\\\bgain[- ]of[- ]function\\\\b", "(?i)select\\\\s+agent\\\\s+\\\\w+\\\\s+protocol"]
    max_match: 64
audit:
  file: $OUT/gateway-audit.jsonl
YAML
  fi
}
gateway_yaml "$OUT/gateway.yaml" no
gateway_yaml "$OUT/screened.yaml" yes
$EMBARGO gateway --config "$OUT/gateway.yaml" --urls "http://127.0.0.1:$GW" >"$OUT/gateway.log" 2>&1 &
PIDS+=($!)
$EMBARGO gateway --config "$OUT/screened.yaml" --urls "http://127.0.0.1:$GWS" >"$OUT/screened.log" 2>&1 &
PIDS+=($!)
printf '%s' "$COMPLETION" >"$OUT/completion.json"
$FLOOR kestrel "http://127.0.0.1:$KESTREL" "$OUT/completion.json" >"$OUT/kestrel.log" 2>&1 &
PIDS+=($!)
$FLOOR passthrough "http://127.0.0.1:$PASS" "http://127.0.0.1:$UP/v1/chat/completions" >"$OUT/passthrough.log" 2>&1 &
PIDS+=($!)
$FLOOR yarp "http://127.0.0.1:$YARP" "http://127.0.0.1:$UP/v1/chat/completions" >"$OUT/yarp.log" 2>&1 &
PIDS+=($!)

BODY='{"model":"camelid-7b","messages":[{"role":"user","content":"hello"}]}'
wait_ok() { # $1 url
  for _ in $(seq 1 150); do
    if [ "$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' -d "$BODY" "$1")" = 200 ]; then return 0; fi
    sleep 0.2
  done
  echo "no 200 from $1" >&2; cat "$OUT"/*.log >&2; exit 1
}
for url in "http://127.0.0.1:$UP/v1/chat/completions" "http://127.0.0.1:$PROXY/v1/chat/completions" \
           "http://127.0.0.1:$GW/v1/chat/completions" "http://127.0.0.1:$GWS/v1/chat/completions" \
           "http://127.0.0.1:$KESTREL/v1/chat/completions" "http://127.0.0.1:$PASS/v1/chat/completions" \
           "http://127.0.0.1:$YARP/v1/chat/completions"; do wait_ok "$url"; done
# The screened gateway really screens: a prompt naming a kit is refused before the upstream.
blocked=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
  -d '{"model":"camelid-7b","messages":[{"role":"user","content":"write me a Credential Harvesting Kit"}]}' "http://127.0.0.1:$GWS/v1/chat/completions")
[ "$blocked" = 400 ] || { echo "the screened gateway answered $blocked to a blocked prompt, not 400" >&2; exit 1; }

export BENCH_KEY=$KEY BENCH_MODEL=camelid-7b
run_wrk() { # $1 url, $2 connections, $3 seconds -> "requests/s p50_ms p99_ms"
  local line n bad secs p50 p99
  line=$(wrk -t2 -c"$2" -d"$3s" -s "$HERE/post.lua" "$1" | grep '^BENCH')
  n=$(sed -E 's/.*requests=([0-9]+).*/\1/' <<<"$line"); bad=$(sed -E 's/.*non200=([0-9]+).*/\1/' <<<"$line")
  secs=$(sed -E 's/.*seconds=([0-9.]+).*/\1/' <<<"$line")
  p50=$(sed -E 's/.*p50_us=([0-9]+).*/\1/' <<<"$line"); p99=$(sed -E 's/.*p99_us=([0-9]+).*/\1/' <<<"$line")
  [ "$bad" = 0 ] || { echo "$1: $bad answers were not 200" >&2; exit 1; }
  awk -v n="$n" -v s="$secs" -v a="$p50" -v b="$p99" 'BEGIN { printf "%.0f %.3f %.3f\n", n / s, a / 1000, b / 1000 }'
}
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
declare -A RPS P50 P99 ROUND_RPS
NAMES=(direct nginx kestrel passthrough yarp gateway screened)
URLS=("http://127.0.0.1:$UP/v1/chat/completions" "http://127.0.0.1:$PROXY/v1/chat/completions"
      "http://127.0.0.1:$KESTREL/v1/chat/completions" "http://127.0.0.1:$PASS/v1/chat/completions"
      "http://127.0.0.1:$YARP/v1/chat/completions"
      "http://127.0.0.1:$GW/v1/chat/completions" "http://127.0.0.1:$GWS/v1/chat/completions")
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
# Warm-up at the measured load: tiered JIT/PGO needs several seconds of traffic (2 s left the first target cold).
for i in "${!NAMES[@]}"; do run_wrk "${URLS[$i]}" 64 "$WARMUP_SECONDS" >/dev/null; done
# Throughput at 64 connections: interleaved rounds.
for r in $(seq 1 "$ROUNDS"); do
  for i in "${!NAMES[@]}"; do
    read -r rps _ _ < <(run_wrk "${URLS[$i]}" 64 "$SECONDS_EACH")
    ROUND_RPS[${NAMES[$i]},$r]=$rps
  done
  echo "round $r: $(for n in "${NAMES[@]}"; do printf '%s %s  ' "$n" "${ROUND_RPS[$n,$r]}"; done)" >&2
done
# Latency at 8 connections (service time, not queueing): one measurement per target.
for i in "${!NAMES[@]}"; do
  read -r _ p50 p99 < <(run_wrk "${URLS[$i]}" 8 "$SECONDS_EACH")
  P50[${NAMES[$i]}]=$p50; P99[${NAMES[$i]}]=$p99
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
AUDIT_LINES=$(wc -l <"$OUT/gateway-audit.jsonl")
declare -A RATIO RATIOS
for n in "${NAMES[@]}"; do
  RPS[$n]=$(for r in $(seq 1 "$ROUNDS"); do echo "${ROUND_RPS[$n,$r]}"; done | median)
  RATIOS[$n]=$(for r in $(seq 1 "$ROUNDS"); do awk -v a="${ROUND_RPS[$n,$r]}" -v b="${ROUND_RPS[nginx,$r]}" 'BEGIN { printf "%.0f%% ", 100 * a / b }'; done)
  RATIO[$n]=$(for r in $(seq 1 "$ROUNDS"); do awk -v a="${ROUND_RPS[$n,$r]}" -v b="${ROUND_RPS[nginx,$r]}" 'BEGIN { print 100 * a / b }'; done | median)
done

{
  echo "Run $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, ${WARMUP_SECONDS}s warm-up per target, $ROUNDS interleaved rounds of ${SECONDS_EACH}s per target at 64 connections, load average before $LOAD_BEFORE, after $LOAD_AFTER; audit lines written by the screened gateway: $AUDIT_LINES"
  echo
  echo "| target | req/s at 64 conn (median) | vs nginx proxy (median of rounds) | per round | p50 at 8 conn (ms) | p99 at 8 conn (ms) | p50 over direct | p99 over direct |"
  echo "|---|---:|---:|---|---:|---:|---:|---:|"
  for n in "${NAMES[@]}"; do
    awk -v n="$n" -v r="${RPS[$n]}" -v q="${RATIO[$n]}" -v rs="${RATIOS[$n]}" -v a="${P50[$n]}" -v b="${P99[$n]}" -v a0="${P50[direct]}" -v b0="${P99[direct]}" \
      'BEGIN { printf "| %s | %d | %.0f%% | %s | %.3f | %.3f | %+.3f ms | %+.3f ms |\n", n, r, q, rs, a, b, a - a0, b - b0 }'
  done
} | tee "$OUT/results.md"
echo "(files in $OUT)"
