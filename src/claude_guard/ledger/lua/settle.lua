-- claude_guard ledger: settle one reservation with the actual usage, exactly once.
--
-- KEYS[1]  reservation index, KEYS[2] the reservation's record key
-- ARGV[1]  actual USD in 1e-12 USD, ARGV[2] actual input tokens, ARGV[3] actual output tokens
-- ARGV[4]  soft alert threshold in parts per million of a USD limit ("0" = no alerts)
--
-- A reserved record is adjusted by the difference (the server adds the actual and takes back the reserved
-- amount: exact int64); a record whose reservation expired (a worker presumed dead; the sweep released it)
-- is charged the actual amount in full. The record is deleted, so a second settle finds nothing.
-- Returns {status, alert...} with status "settled", "late" or "missing"; each alert is
-- "base|dim|limit|used" for a USD budget that crossed the threshold for the first time in its period.

local raw = redis.call("GET", KEYS[2])
if not raw then return {"missing"} end
local rec = cjson.decode(raw)
redis.call("DEL", KEYS[2])
redis.call("ZREM", KEYS[1], KEYS[2])

local actual = {usd = ARGV[1], ["in"] = ARGV[2], out = ARGV[3]}
local threshold = tonumber(ARGV[4])
local result = {rec.state == "reserved" and "settled" or "late"}
for _, e in ipairs(rec.entries) do
  local key, kind, reserved, limit, base, dim, key_ttl = e[1], e[2], e[3], e[4], e[5], e[6], e[7]
  local value = actual[kind]
  if value ~= "0" then redis.call("INCRBY", key, value) end
  if rec.state == "reserved" and reserved ~= "0" then redis.call("DECRBY", key, reserved) end
  local used = redis.call("GET", key)
  if used then
    if string.sub(used, 1, 1) == "-" or used == "0" then
      redis.call("DEL", key)
      used = "0"
    elseif redis.call("TTL", key) < 0 then
      redis.call("EXPIRE", key, key_ttl)
    end
  else
    used = "0"
  end
  if threshold > 0 and kind == "usd" and limit ~= "" and tonumber(limit) > 0 then
    if tonumber(used) * 1000000 >= tonumber(limit) * threshold then
      if redis.call("SET", key .. ":alert", "1", "NX", "EX", key_ttl) then
        result[#result + 1] = base .. "|" .. dim .. "|" .. limit .. "|" .. used
      end
    end
  end
end
return result
