-- wrk script: POST one chat completion with the bench key (BENCH_KEY, BENCH_MODEL from the environment).
local key = os.getenv("BENCH_KEY") or "bench-key"
local model = os.getenv("BENCH_MODEL") or "camelid-7b"
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. key
wrk.body = '{"model":"' .. model .. '","messages":[{"role":"system","content":"You are a helpful assistant."},' ..
  '{"role":"user","content":"Tell me about the weather in Lisbon in spring, briefly, and suggest two walks near the river."}]}'

-- Any answer other than 200 is counted, and run.sh refuses a run that had one.
local bad = 0
response = function(status, headers, body)
  if status ~= 200 then bad = bad + 1 end
end
done = function(summary, latency, requests)
  io.write(string.format("BENCH requests=%d non200=%d seconds=%.3f p50_us=%d p99_us=%d\n",
    summary.requests, summary.errors.status, summary.duration / 1e6, latency:percentile(50), latency:percentile(99)))
end
