-- wrk script for payrelay's benchmark scenarios (run by bench/wrk.py).
--
-- Arguments after `--` are key=value pairs:
--   mode=create|replay|capture|refund|get
--   prefix=P      Idempotency-Key prefix, unique per run (create, capture, refund)
--   keys=N        replay: cycle through the keys P-0 .. P-(N-1), already used once
--   ids=FILE      capture, refund: payment ids, one a line; each thread takes every T-th one
--   amount=A      refund: amount of each partial refund
--   path=/x?y     get: the path to read
--   threads=T     the -t given to wrk (keys and ids are strided by thread)
-- The Authorization and Content-Type headers come from wrk's -H options.
--
-- done() prints one line `BENCH_RESULT {json}`: requests, errors (non-2xx/3xx answers are in
-- errors.status), latency percentiles in microseconds, and how many requests found no unused
-- payment id left (capture: the pool was too small and the run is not valid).

local threads = {}
local thread_count = 0

function setup(thread)
  thread:set("thread_index", thread_count)
  thread_count = thread_count + 1
  table.insert(threads, thread)
end

local opt = {}
local counter = 0
local ids = {}
local id_count = 0
local position = 0
exhausted = 0

local function body_for(key)
  -- The create body: unique order and listing per key, so the duplicate-charge guard runs
  -- for every request but never fires.
  return '{"order_id":"' .. key .. '","amount":"150000","currency":"VND","gateway":"sandbox",'
    .. '"capture_method":"automatic","user_id":"bench-user","listing_id":"' .. key .. '",'
    .. '"description":"benchmark payment"}'
end

local function headers_with(key)
  local headers = {}
  for name, value in pairs(wrk.headers) do
    headers[name] = value
  end
  if key then
    headers["Idempotency-Key"] = key
  end
  return headers
end

local function load_ids(file, stride, offset)
  local index = 0
  for line in io.lines(file) do
    if line ~= "" then
      if index % stride == offset then
        id_count = id_count + 1
        ids[id_count] = line
      end
      index = index + 1
    end
  end
end

function init(args)
  for _, argument in ipairs(args) do
    local name, value = argument:match("^([^=]+)=(.*)$")
    if name then
      opt[name] = value
    end
  end
  opt.threads = tonumber(opt.threads or "1")
  if opt.mode == "capture" or opt.mode == "refund" then
    load_ids(opt.ids, opt.threads, thread_index)
  end
end

local function next_id(wrap)
  position = position + 1
  if position > id_count then
    if not wrap or id_count == 0 then
      exhausted = exhausted + 1
      position = id_count
      if id_count == 0 then
        return "00000000-0000-0000-0000-000000000000"
      end
    else
      position = 1
    end
  end
  return ids[position]
end

function request()
  counter = counter + 1
  local mode = opt.mode
  if mode == "create" then
    local key = opt.prefix .. "-" .. thread_index .. "-" .. counter
    return wrk.format("POST", "/api/v1/payments/create", headers_with(key), body_for(key))
  elseif mode == "replay" then
    local index = (thread_index + (counter - 1) * opt.threads) % tonumber(opt.keys)
    local key = opt.prefix .. "-" .. index
    return wrk.format("POST", "/api/v1/payments/create", headers_with(key), body_for(key))
  elseif mode == "capture" then
    local id = next_id(false)
    local key = opt.prefix .. "-" .. thread_index .. "-" .. counter
    return wrk.format("POST", "/api/v1/payments/" .. id .. "/capture", headers_with(key), "{}")
  elseif mode == "refund" then
    local id = next_id(true)
    local key = opt.prefix .. "-" .. thread_index .. "-" .. counter
    local body = '{"amount":"' .. opt.amount .. '","reason":"benchmark"}'
    return wrk.format("POST", "/api/v1/payments/" .. id .. "/refund", headers_with(key), body)
  end
  return wrk.format("GET", opt.path, headers_with(nil), nil)
end

function done(summary, latency, requests)
  local total_exhausted = 0
  for _, thread in ipairs(threads) do
    total_exhausted = total_exhausted + (thread:get("exhausted") or 0)
  end
  local errors = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"duration_us":%d,"requests":%d,"bytes":%d,'
      .. '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},'
      .. '"latency_us":{"min":%d,"mean":%.1f,"p50":%d,"p90":%d,"p99":%d,"p999":%d,"max":%d},'
      .. '"exhausted":%d}\n',
    summary.duration, summary.requests, summary.bytes,
    errors.connect, errors.read, errors.write, errors.status, errors.timeout,
    latency.min, latency.mean, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9), latency.max,
    total_exhausted))
end
