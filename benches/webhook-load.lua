-- wrk script for benches/webhook-load.sh: POSTs distinct pre-signed notification bodies, one per request.
-- Arguments (after `--`): the bodies file (one JSON body per line), the number of wrk threads, and optionally this
-- wrk process's index and the number of wrk processes (several instances, each with its own wrk: default 0 and 1).
-- Each thread reads the file as it goes and takes only its own lines (thread i of n in process k of m takes lines
-- k*n + i, then every (n*m)-th line after it), so every body is sent once and memory stays flat; when its lines run
-- out a thread starts over and counts the wrap (requests after a wrap are duplicates).
local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  file, nthreads = args[1], tonumber(args[2])
  local proc, nprocs = tonumber(args[3] or "0"), tonumber(args[4] or "1")
  first = proc * nthreads + id
  stride = nthreads * nprocs
  lines = io.lines(file)
  wraps = 0
  headers = { ["Content-Type"] = "application/json" }
end

local function next_line()
  local line = lines()
  if line == nil then
    wraps = wraps + 1
    lines = io.lines(file)
    line = lines()
  end
  return line
end

function request()
  -- Skip the other threads' lines: `first` lines before ours on the first call, stride - 1 between.
  if not started then
    for _ = 1, first do next_line() end
    started = true
  else
    for _ = 1, stride - 1 do next_line() end
  end
  return wrk.format("POST", nil, headers, next_line())
end

function done(summary, latency, requests)
  -- No response() callback (it would cost wrk a Lua call per answer): the webhook answers 200 or 4xx/5xx, and wrk
  -- counts every answer of 400 and above in errors.status.
  local total_wraps = 0
  for _, t in ipairs(threads) do
    total_wraps = total_wraps + t:get("wraps")
  end
  io.write(string.format("status_200 %d\nstatus_other %d\nwraps %d\n",
    summary.requests - summary.errors.status, summary.errors.status, total_wraps))
  io.write(string.format("p50_ms %.2f\np90_ms %.2f\np99_ms %.2f\nmax_ms %.2f\n",
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
  io.write(string.format("errors_connect %d\nerrors_read %d\nerrors_write %d\nerrors_timeout %d\nerrors_status %d\n",
    summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.timeout, summary.errors.status))
end
