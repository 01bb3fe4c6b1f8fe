-- wrk script: POST /api/auth/refresh with rotating refresh tokens. Run it with one
-- connection per thread (-tN -cN): each thread holds one session, whose token every
-- answer replaces. BENCH_REFRESH_TOKENS lists one starting token per thread, space
-- separated.
local tokens = {}
for token in string.gmatch(os.getenv("BENCH_REFRESH_TOKENS") or "", "%S+") do
  table.insert(tokens, token)
end
local next_thread = 1

function setup(thread)
  thread:set("token", tokens[next_thread])
  next_thread = next_thread + 1
end

function request()
  return wrk.format("POST", nil, { ["Content-Type"] = "application/json" },
    '{"refresh_token":"' .. token .. '"}')
end

function response(status, headers, body)
  local fresh = string.match(body, '"refresh_token":"([^"]+)"')
  if fresh then
    token = fresh
  end
end
