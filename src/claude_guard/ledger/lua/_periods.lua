-- claude_guard ledger: the clock and the UTC periods, shared by reserve.lua and show.lua
-- (load_script puts this text in place of the include line naming it: Redis Lua cannot import).
-- The Python twin is ledger/_memory.py:period.
--
-- now_seconds(): ARGV[1] when given, else this server's TIME.
-- civil(days) -> y, m, d and days_from_civil(y, m, d): days since 1970-01-01 (H. Hinnant's algorithms).
-- period(dim, now) -> period id, seconds until the period ends, key ttl.

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

local function days_from_civil(y, m, d)
  if m <= 2 then y = y - 1 end
  local era = math.floor(y / 400)
  local yoe = y - era * 400
  local mp = m > 2 and m - 3 or m + 9
  local doy = math.floor((153 * mp + 2) / 5) + d - 1
  local doe = yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
end

-- period id, seconds until the period ends, key ttl
local function period(dim, now)
  local s = math.floor(now)
  if dim == "usd_day" then
    local days = math.floor(s / 86400)
    local y, m, d = civil(days)
    return string.format("d%04d%02d%02d", y, m, d), (days + 1) * 86400 - now, 2 * 86400
  elseif dim == "usd_month" then
    local y, m = civil(math.floor(s / 86400))
    local ny, nm = y, m + 1
    if nm == 13 then ny, nm = y + 1, 1 end
    return string.format("m%04d%02d", y, m), days_from_civil(ny, nm, 1) * 86400 - now, 40 * 86400
  end
  local minute = math.floor(s / 60)
  return "t" .. minute, (minute + 1) * 60 - now, 120
end
