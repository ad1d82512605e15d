-- Admit one request against all of its limits and concurrency caps, atomically, by Redis server time.
-- Nothing is counted unless everything has room: a denied request consumes none of its limits.
--
-- KEYS: the nlim limit keys, then the nconc concurrency keys.
-- ARGV: nlim, nconc, token, lease_ttl_ms,
--       then per limit: strategy (1 fixed window, 2 moving window, 3 sliding window counter), amount,
--       window_ms, cost; then per concurrency key: cap.
-- Returns: {allowed, denied_index, now_ms, [per limit: ok, remaining, reset_ms, retry_ms, window_id],
--           [per cap: in_use]}.
local nlim = tonumber(ARGV[1])
local nconc = tonumber(ARGV[2])
local token = ARGV[3]
local ttl = tonumber(ARGV[4])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

local allowed = true
local denied = 0
local worst = -1
local st = {}

for i = 1, nlim do
  local b = 4 + (i - 1) * 4
  local s = {
    strategy = tonumber(ARGV[b + 1]), amount = tonumber(ARGV[b + 2]),
    window = tonumber(ARGV[b + 3]), cost = tonumber(ARGV[b + 4]), retry = 0,
  }
  local key = KEYS[i]
  local w, a, c0 = s.window, s.amount, s.cost
  if s.strategy == 1 then
    local win = math.floor(now / w)
    local stored = redis.call('HMGET', key, 'w', 'c')
    local used = 0
    if tonumber(stored[1]) == win then used = tonumber(stored[2]) or 0 end
    s.win, s.used, s.reset = win, used, (win + 1) * w - now
    s.ok = used + c0 <= a
    if not s.ok then s.retry = s.reset end
  elseif s.strategy == 2 then
    redis.call('ZREMRANGEBYSCORE', key, '-inf', now - w)
    local used = redis.call('ZCARD', key)
    s.win, s.used, s.reset = now, used, w
    if used > 0 then
      local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
      s.reset = tonumber(oldest[2]) + w - now
    end
    s.ok = used + c0 <= a
    if not s.ok then
      local k = used + c0 - a
      local e = redis.call('ZRANGE', key, k - 1, k - 1, 'WITHSCORES')
      s.retry = tonumber(e[2]) + w - now
      s.reset = s.retry
    end
  else
    local win = math.floor(now / w)
    local stored = redis.call('HMGET', key, 'w', 'c', 'p')
    local sw = tonumber(stored[1])
    local c, p = 0, 0
    if sw == win then
      c, p = tonumber(stored[2]) or 0, tonumber(stored[3]) or 0
    elseif sw == win - 1 then
      p = tonumber(stored[2]) or 0
    end
    local e = now - win * w
    local used = p * (w - e) / w + c
    s.win, s.c, s.p, s.used, s.reset = win, c, p, used, (win + 1) * w - now
    s.ok = used + c0 <= a
    if not s.ok then
      if c + c0 <= a and p > 0 then
        s.retry = math.ceil(w * (1 - (a - c - c0) / p) - e)
      else
        s.retry = math.ceil((w - e) + w * (1 - (a - c0) / c))
      end
      if s.retry < 1 then s.retry = 1 end
      s.reset = s.retry
    end
  end
  if not s.ok then
    allowed = false
    if s.retry > worst then
      worst = s.retry
      denied = i
    end
  end
  st[i] = s
end

local inuse = {}
for j = 1, nconc do
  local key = KEYS[nlim + j]
  local cap = tonumber(ARGV[4 + nlim * 4 + j])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
  local n = redis.call('ZCARD', key)
  inuse[j] = n
  if n >= cap then
    allowed = false
    if denied == 0 then denied = nlim + j end
  end
end

if allowed then
  for i = 1, nlim do
    local s = st[i]
    local key = KEYS[i]
    if s.strategy == 1 then
      redis.call('HSET', key, 'w', s.win, 'c', s.used + s.cost)
      redis.call('PEXPIRE', key, s.reset)
    elseif s.strategy == 2 then
      for k = 1, s.cost do redis.call('ZADD', key, now, token .. ':' .. k) end
      redis.call('PEXPIRE', key, s.window)
      local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
      s.reset = tonumber(oldest[2]) + s.window - now
    else
      redis.call('HSET', key, 'w', s.win, 'c', s.c + s.cost, 'p', s.p)
      redis.call('PEXPIRE', key, 2 * s.window)
    end
    s.used = s.used + s.cost
  end
  for j = 1, nconc do
    local key = KEYS[nlim + j]
    redis.call('ZADD', key, now + ttl, token)
    redis.call('PEXPIRE', key, ttl)
    inuse[j] = inuse[j] + 1
  end
end

local out = {allowed and 1 or 0, denied, now}
for i = 1, nlim do
  local s = st[i]
  local remaining = math.floor(s.amount - s.used)
  if remaining < 0 then remaining = 0 end
  out[#out + 1] = s.ok and 1 or 0
  out[#out + 1] = remaining
  out[#out + 1] = math.ceil(s.reset)
  out[#out + 1] = math.ceil(s.retry)
  out[#out + 1] = s.win
end
for j = 1, nconc do out[#out + 1] = inuse[j] end
return out
