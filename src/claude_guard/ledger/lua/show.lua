-- claude_guard ledger: stored budgets and the current period's usage of some scopes (read only).
--
-- KEYS[i]  the stored-budget hash of scope i
-- ARGV[1]  now in seconds ("" = this server's TIME); ARGV[1 + i] the counter base of scope i
-- Returns one JSON string per scope: {"limits": {dim: value}, "used": {dim: value}, "left": {dim: seconds}}.

-- #include ledger/_periods

local now = now_seconds()
local out = {}
for i = 1, #KEYS do
  local base = ARGV[1 + i]
  local limits, used = {}, {}
  local cfg = redis.call("HGETALL", KEYS[i])
  for j = 1, #cfg, 2 do limits[cfg[j]] = cfg[j + 1] end
  for _, dim in ipairs({"usd_day", "usd_month", "in_min", "out_min"}) do
    used[dim] = redis.call("GET", base .. ":" .. dim .. ":" .. period(dim, now)) or "0"
  end
  out[i] = cjson.encode({limits = limits, used = used})
end
return out
