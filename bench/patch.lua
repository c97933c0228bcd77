-- PATCH /rooms/{id} with {"attendees": [20 emails]}, the bearer token in BENCH_TOKEN.
-- BENCH_ROOMS: comma-separated room ids, split into BENCH_THREADS equal groups, one a wrk
-- thread, so that no two threads touch one room. BENCH_BODY_A / BENCH_BODY_B: two lists of
-- 20 that share 10. Each thread walks its rooms in turn and sends each room A, then B, then
-- A...: every PATCH removes 10 members and adds 10 (a room's first adds 20), none is a
-- no-op. The rooms being twice a thread's connections, a request practically never waits
-- for another's room lock, and a room's PATCHes reach the server in the order sent.
wrk.method = "PATCH"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")

local threads = {}

function setup(thread)
  thread:set("index", #threads)
  table.insert(threads, thread)
end

function init(args)
  local all = {}
  for id in string.gmatch(os.getenv("BENCH_ROOMS"), "[^,]+") do
    table.insert(all, id)
  end
  local per = math.floor(#all / tonumber(os.getenv("BENCH_THREADS")))
  rooms = {}
  for i = 1, per do
    rooms[i] = all[index * per + i]
  end
  bodies = { os.getenv("BENCH_BODY_A"), os.getenv("BENCH_BODY_B") }
  sent = 0
end

function request()
  local room = rooms[sent % #rooms + 1]
  local body = bodies[math.floor(sent / #rooms) % 2 + 1]
  sent = sent + 1
  return wrk.format(nil, wrk.path .. room, nil, body)
end
