-- Release one request's concurrency leases and, when asked, give back what it counted (upstream 429/529).
--
-- KEYS: the nconc concurrency keys, then the nref limit keys to refund.
-- ARGV: token, nconc, nref, then per refund: strategy, window_id, cost.
local token = ARGV[1]
local nconc = tonumber(ARGV[2])
local nref = tonumber(ARGV[3])
for j = 1, nconc do redis.call('ZREM', KEYS[j], token) end
for i = 1, nref do
  local key = KEYS[nconc + i]
  local b = 3 + (i - 1) * 3
  local strategy, win, cost = tonumber(ARGV[b + 1]), tonumber(ARGV[b + 2]), tonumber(ARGV[b + 3])
  if strategy == 2 then
    for k = 1, cost do redis.call('ZREM', key, token .. ':' .. k) end
  else
    local stored = redis.call('HMGET', key, 'w', 'c', 'p')
    local w = tonumber(stored[1])
    if w == win then
      redis.call('HSET', key, 'c', math.max(0, (tonumber(stored[2]) or 0) - cost))
    elseif strategy == 3 and w == win + 1 then
      redis.call('HSET', key, 'p', math.max(0, (tonumber(stored[3]) or 0) - cost))
    end
  end
end
return 1
