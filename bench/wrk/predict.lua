-- POST a prebuilt body (JSON, or raw multipart bytes) and report one JSON line.
--
-- Why prebuilt: Python writes the exact bytes (and, for multipart, the
-- Content-Type with its boundary) once, so wrk only replays them and the
-- client costs the same for every server under test.
--
-- Inputs, wrk arguments first (after `--`), else environment:
--   body file     : arg 1 or BENCH_BODY          (required)
--   content type  : arg 2 or BENCH_CONTENT_TYPE  (default application/json)
--   Authorization : BENCH_AUTH                   (optional, sent verbatim)
--
--   BENCH_BODY=body.json wrk -t1 -c32 -d5s -s bench/wrk/predict.lua \
--       'http://127.0.0.1:8601/v1/models/bench:predict'
--
-- done() prints one line `JSON {...}`: requests, errors (connect, read, write,
-- status = responses with status > 399, timeout), duration_s, requests_per_s,
-- ok_requests_per_s, latency mean/stdev/min/max and p50/p90/p99 in ms.

local function read_file(path)
   local handle, err = io.open(path, "rb")
   if not handle then
      error("bench/wrk/predict.lua: cannot read body file: " .. tostring(err))
   end
   local data = handle:read("*a")
   handle:close()
   return data
end

function init(args)
   local body_path = args[1] or os.getenv("BENCH_BODY")
   if not body_path or body_path == "" then
      error("bench/wrk/predict.lua: give the body file as `-- PATH` or BENCH_BODY")
   end
   local content_type = args[2] or os.getenv("BENCH_CONTENT_TYPE")
   if not content_type or content_type == "" then
      content_type = "application/json"
   end
   wrk.method = "POST"
   wrk.body = read_file(body_path)
   wrk.headers["Content-Type"] = content_type
   local auth = os.getenv("BENCH_AUTH")
   if auth and auth ~= "" then
      wrk.headers["Authorization"] = auth
   end
   -- wrk.format() (called by wrk after init) adds Content-Length from wrk.body.
end

local function ms(us)
   return us / 1000.0
end

function done(summary, latency, requests)
   local seconds = summary.duration / 1e6
   local e = summary.errors
   local ok = summary.requests - e.status
   local fields = {
      string.format('"requests": %d', summary.requests),
      string.format('"bytes": %d', summary.bytes),
      string.format('"duration_s": %.6f', seconds),
      string.format('"requests_per_s": %.3f', summary.requests / seconds),
      string.format('"ok_requests_per_s": %.3f', ok / seconds),
      string.format(
         '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}',
         e.connect, e.read, e.write, e.status, e.timeout
      ),
      string.format('"latency_mean_ms": %.3f', ms(latency.mean)),
      string.format('"latency_stdev_ms": %.3f', ms(latency.stdev)),
      string.format('"latency_min_ms": %.3f', ms(latency.min)),
      string.format('"latency_max_ms": %.3f', ms(latency.max)),
      string.format('"latency_p50_ms": %.3f', ms(latency:percentile(50))),
      string.format('"latency_p90_ms": %.3f', ms(latency:percentile(90))),
      string.format('"latency_p99_ms": %.3f', ms(latency:percentile(99))),
   }
   io.write("JSON {" .. table.concat(fields, ", ") .. "}\n")
end
