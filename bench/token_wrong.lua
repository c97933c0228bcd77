-- POST /application/token/ with a wrong secret for a new client_id each time: every request
-- needs a slow secret check (the brake counts per client_id, so it never answers 429 here).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
counter = 0

request = function()
  counter = counter + 1
  local body = string.format(
    '{"client_id": "attacker-%d-%d", "client_secret": "wrong", "grant_type": "client_credentials", "scope": "small@bench.example"}',
    math.random(1, 1000000000), counter)
  return wrk.format(nil, nil, nil, body)
end
