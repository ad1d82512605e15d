-- claude_guard ledger: reserve the worst case of one request across every applicable budget, atomically.
--
-- KEYS[1]  reservation index (sorted set: record key -> expiry time)
-- KEYS[2]  this reservation's record key
-- KEYS[3..] one stored-budget hash per scope (may not exist)
-- ARGV[1]  now in seconds ("" = this server's TIME)
-- ARGV[2]  reservation ttl in seconds
-- ARGV[3]  USD amount in 1e-12 USD (integer string)
-- ARGV[4]  input tokens, ARGV[5] output tokens
-- ARGV[6]  number of scopes; then per scope: counter base, stored flag ("1"/"0"), and the configured
--          limits usd_day, usd_month, in_min, out_min ("" = none)
-- Money and token counts are integer strings and only the server adds them (INCRBY, exact int64);
-- comparisons are done on decimal strings, so nothing passes through Lua's doubles.
--
-- Returns {1, now} when reserved, or {0, scope, dim, limit, used, amount, seconds_left} when a budget
-- would be exceeded (nothing is changed then).

local DIMS = {"usd_day", "usd_month", "in_min", "out_min"}

-- #include ledger/_periods

local function gt(a, b)
  if #a ~= #b then return #a > #b end
  return a > b
end

local function release(key, amount)
  if amount == "0" then return end
  local v = redis.call("DECRBY", key, amount)
  if v <= 0 then redis.call("DEL", key) end
end

local function sweep(now)
  local expired = redis.call("ZRANGEBYSCORE", KEYS[1], "-inf", now, "LIMIT", 0, 50)
  for _, rk in ipairs(expired) do
    local raw = redis.call("GET", rk)
    if raw then
      local rec = cjson.decode(raw)
      if rec.state == "reserved" then
        for _, e in ipairs(rec.entries) do release(e[1], e[3]) end
        rec.state = "expired"
        redis.call("SET", rk, cjson.encode(rec), "EX", 86400)
      end
    end
    redis.call("ZREM", KEYS[1], rk)
  end
end

local now = now_seconds()
local ttl = tonumber(ARGV[2])
sweep(now)

local amounts = {usd_day = ARGV[3], usd_month = ARGV[3], in_min = ARGV[4], out_min = ARGV[5]}
local kinds = {usd_day = "usd", usd_month = "usd", in_min = "in", out_min = "out"}
local entries = {}
local n = tonumber(ARGV[6])
local at = 7
for i = 1, n do
  local base, stored = ARGV[at], ARGV[at + 1]
  local limits = {usd_day = ARGV[at + 2], usd_month = ARGV[at + 3], in_min = ARGV[at + 4], out_min = ARGV[at + 5]}
  at = at + 6
  if stored == "1" then
    local cfg = redis.call("HGETALL", KEYS[2 + i])
    for j = 1, #cfg, 2 do
      if limits[cfg[j]] ~= nil then limits[cfg[j]] = cfg[j + 1] end
    end
  end
  for _, dim in ipairs(DIMS) do
    local pid, left, key_ttl = period(dim, now)
    local key = base .. ":" .. dim .. ":" .. pid
    local amount = amounts[dim]
    local limit = limits[dim]
    if amount ~= "0" then
      redis.call("INCRBY", key, amount)
      if redis.call("TTL", key) < 0 then redis.call("EXPIRE", key, key_ttl) end
    end
    entries[#entries + 1] = {key, kinds[dim], amount, limit, base, dim, key_ttl}
    if limit ~= "" then
      local used = redis.call("GET", key) or "0"
      if gt(used, limit) then
        for _, e in ipairs(entries) do release(e[1], e[3]) end
        local before = redis.call("GET", key) or "0"
        return {0, base, dim, limit, before, amount, tostring(left)}
      end
    end
  end
end

local expires = now + ttl
redis.call("SET", KEYS[2], cjson.encode({state = "reserved", entries = entries}), "EX", math.ceil(ttl) + 86400)
redis.call("ZADD", KEYS[1], expires, KEYS[2])
return {1, tostring(now)}
