-- Add placeholder -> value pairs to one principal's PII vault, atomically, within a size bound.
-- KEYS[1]: the vault hash. ARGV[1]: TTL in milliseconds. ARGV[2]: most entries.
-- ARGV[3..]: placeholder, value, placeholder, value, ...
-- Known placeholders are kept (values are deterministic per principal); new ones are added while there is
-- room. Returns the placeholders that did not fit. The TTL restarts on every write.
local size = redis.call('HLEN', KEYS[1])
local most = tonumber(ARGV[2])
local rejected = {}
for i = 3, #ARGV, 2 do
  if redis.call('HEXISTS', KEYS[1], ARGV[i]) == 0 then
    if size < most then
      redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
      size = size + 1
    else
      rejected[#rejected + 1] = ARGV[i]
    end
  end
end
if size > 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return rejected
