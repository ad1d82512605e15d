-- Extend one request's concurrency leases (a long stream still running), by Redis server time.
-- A lease that has already expired is not renewed: its slot may be someone else's now.
--
-- KEYS: the concurrency keys. ARGV: token, lease_ttl_ms. Returns the number of leases renewed.
local token = ARGV[1]
local ttl = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local renewed = 0
for j = 1, #KEYS do
  renewed = renewed + redis.call('ZADD', KEYS[j], 'XX', 'CH', now + ttl, token)
  redis.call('PEXPIRE', KEYS[j], ttl)
end
return renewed
