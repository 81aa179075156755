-- wrk script for ops/bench (api and mcp parts): POST /v1/sequences/enrollments/ with a distinct
-- recipient per request (run prefix, thread number, counter), or with BENCH_SESSION set (the mcp
-- part, a session opened with initialize) the same enrollment as an MCP tools/call of `enroll` on
-- /mcp, created when its result is not a tool error. BENCH_TOKEN, BENCH_INBOX, BENCH_SEQUENCE and
-- BENCH_PREFIX come from the environment. Prints one JSON line in done().
local token = os.getenv("BENCH_TOKEN")
local inbox = os.getenv("BENCH_INBOX")
local sequence = os.getenv("BENCH_SEQUENCE")
local prefix = os.getenv("BENCH_PREFIX") or "w"
local session = os.getenv("BENCH_SESSION")
if session == "" then session = nil end
local threads = {}
local nthreads = 0

function setup(thread)
  nthreads = nthreads + 1
  thread:set("tid", nthreads)
  table.insert(threads, thread)
end

counter = 0
created = 0
other = 0

function request()
  counter = counter + 1
  local recipient = string.format('{"email":"%s%d-%d@bench.test"}', prefix, tid, counter)
  if session then
    local body = string.format(
      '{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"enroll","arguments":{"inbox_id":"%s","sequence_id":"%s","recipient":%s}}}',
      counter, inbox, sequence, recipient)
    return wrk.format("POST", "/mcp",
      {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json",
       ["Accept"] = "application/json, text/event-stream", ["Mcp-Session-Id"] = session}, body)
  end
  local body = string.format('{"inbox_id":"%s","sequence_id":"%s","recipient":%s}', inbox, sequence, recipient)
  return wrk.format("POST", "/v1/sequences/enrollments/",
    {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"}, body)
end

function response(status, headers, body)
  local ok
  if session then ok = status == 200 and string.find(body, '"isError":false', 1, true) else ok = status == 201 end
  if ok then created = created + 1 else other = other + 1 end
end

function done(summary, latency, requests)
  local c, o = 0, 0
  for _, t in ipairs(threads) do
    c = c + t:get("created")
    o = o + t:get("other")
  end
  io.write(string.format('{"requests":%d,"seconds":%.3f,"rate":%.1f,"p50_ms":%.2f,"p99_ms":%.2f,"max_ms":%.2f,"created":%d,"other_status":%d,"socket_errors":%d}\n',
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000, c, o,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
