-- GET the URL with a different opaque bearer token on every request: none is known to the
-- identity provider, so each one is introspected (bench/tokens.py, while the provider hangs).
wrk.method = "GET"
local counter = 0

request = function()
  counter = counter + 1
  local token = string.format("bench-%d-%d-%d", math.random(1, 1000000000), counter, os.time())
  return wrk.format(nil, nil, {["Authorization"] = "Bearer " .. token})
end
