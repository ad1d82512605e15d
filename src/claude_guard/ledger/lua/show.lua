-- claude_guard ledger: stored budgets and the current period's usage of some scopes (read only).
--
-- KEYS[i]  the stored-budget hash of scope i
-- ARGV[1]  now in seconds ("" = this server's TIME); ARGV[1 + i] the counter base of scope i
-- Returns one JSON string per scope: {"limits": {dim: value}, "used": {dim: value}, "left": {dim: seconds}}.

local function now_seconds()
  if ARGV[1] ~= "" then return tonumber(ARGV[1]) end
  local t = redis.call("TIME")
  return tonumber(t[1]) + tonumber(t[2]) / 1000000
end

local function civil(days)
  local z = days + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524) - math.floor(doe / 146096)) / 365)
  local y = yoe + era * 400
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local d = doy - math.floor((153 * mp + 2) / 5) + 1
  local m = mp < 10 and mp + 3 or mp - 9
  if m <= 2 then y = y + 1 end
  return y, m, d
end

local function period(dim, now)
  local s = math.floor(now)
  if dim == "usd_day" then
    local y, m, d = civil(math.floor(s / 86400))
    return string.format("d%04d%02d%02d", y, m, d)
  elseif dim == "usd_month" then
    local y, m = civil(math.floor(s / 86400))
    return string.format("m%04d%02d", y, m)
  end
  return "t" .. math.floor(s / 60)
end

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
