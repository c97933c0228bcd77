-- The growing mix (bench/growing.py): 60% GET /rooms (page 1), 25% GET /rooms/{id}, 15% POST
-- /rooms {}, all as one user (BENCH_TOKEN), whose rooms grow with every create. BENCH_ROOM is the
-- room retrieved; the path given to wrk is the API's base path.
local token = "Bearer " .. os.getenv("BENCH_TOKEN")
local room = os.getenv("BENCH_ROOM")
local base

function setup(thread)
  thread:set("id", tostring(thread))
end

function init(args)
  base = wrk.path
  math.randomseed(os.time() + #tostring(id or "") + math.floor(os.clock() * 1e6))
end

function request()
  local roll = math.random(100)
  local headers = {["Authorization"] = token}
  if roll <= 60 then
    return wrk.format("GET", base .. "/rooms?page=1&page_size=20", headers)
  elseif roll <= 85 then
    return wrk.format("GET", base .. "/rooms/" .. room, headers)
  end
  headers["Content-Type"] = "application/json"
  return wrk.format("POST", base .. "/rooms", headers, "{}")
end
