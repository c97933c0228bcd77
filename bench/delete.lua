-- DELETE /rooms/{id} of rooms created for it, the bearer token in BENCH_TOKEN.
-- BENCH_IDS: a file of room ids, one a line; wrk thread i of BENCH_THREADS takes lines
-- i, i + BENCH_THREADS, ...: every request deletes a room no other request names. Once a
-- thread's ids are used up it sends the nil UUID (a 404, counted apart). done() prints one
-- line the harness reads: the ids, the 204s, the other answers, the requests past the ids.
-- (wrk calls the first thread's request() once before the run, to count pipelined
-- requests, and does not send it: one id of that thread is left unused.)
wrk.method = "DELETE"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")

local NONE = "00000000-0000-4000-8000-000000000000"
local threads = {}

function setup(thread)
  thread:set("index", #threads)
  table.insert(threads, thread)
end

function init(args)
  local nthreads = tonumber(os.getenv("BENCH_THREADS"))
  ids = {}
  local n = 0
  for line in io.lines(os.getenv("BENCH_IDS")) do
    if line ~= "" then
      if n % nthreads == index then
        table.insert(ids, line)
      end
      n = n + 1
    end
  end
  given, used, past, deleted, other = #ids, 0, 0, 0, 0
end

function request()
  local id = ids[used + 1]
  if id then
    used = used + 1
  else
    id = NONE
    past = past + 1
  end
  return wrk.format(nil, wrk.path .. id)
end

function response(status, headers, body)
  if status == 204 then
    deleted = deleted + 1
  else
    other = other + 1
  end
end

function done(summary, latency, requests)
  local total = { given = 0, deleted = 0, other = 0, past = 0 }
  for _, thread in ipairs(threads) do
    for name, _ in pairs(total) do
      total[name] = total[name] + thread:get(name)
    end
  end
  io.write(string.format("bench-delete: ids %d, 204 %d, other %d, past the ids %d\n",
                         total.given, total.deleted, total.other, total.past))
end
