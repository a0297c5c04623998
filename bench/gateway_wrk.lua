-- wrk script for bench/gateway.py: POSTs fixed-size records from a file, each once in turn
-- (for the gateway: distinct requests sealed in advance, so replay protection stays on and
-- a record sent twice is refused and counted), and prints one JSON line at the end.
--
--   wrk -t1 -c8 -d2s -s bench/gateway_wrk.lua URL -- RECORDS_FILE RECORD_SIZE CONTENT_TYPE

local requests, count, next_index = {}, 0, 0

function init(args)
  local file = assert(io.open(args[1], "rb"))
  local data = file:read("*a")
  file:close()
  local size = tonumber(args[2])
  local headers = { ["Content-Type"] = args[3] }
  -- formatted once here, so the load generator's own cost per request stays small
  for offset = 1, #data, size do
    count = count + 1
    requests[count] = wrk.format("POST", wrk.path, headers, data:sub(offset, offset + size - 1))
  end
end

function request()
  next_index = next_index + 1
  if next_index > count then
    next_index = 1
  end
  return requests[next_index]
end

function done(summary, latency, _)
  local e = summary.errors
  io.write(string.format(
    'WRK-RESULT {"requests": %d, "duration_us": %d, "non_2xx": %d, "socket_errors": %d, '
      .. '"p50_us": %d, "p99_us": %d}\n',
    summary.requests, summary.duration, e.status,
    e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
