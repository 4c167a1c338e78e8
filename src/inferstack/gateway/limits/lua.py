"""The Lua scripts of the Redis limiter. Each runs atomically in Redis, so the check and the count of a request are
one step for every gateway process sharing that Redis: N processes enforce one limit.

A rate window is one hash per key and kind: a field per epoch second (its count) over the last 60 seconds, the
same shape as `rolling_window.RollingWindow`, plus `t` (their running total) and `l` (the latest second seen).
Moving to a new second subtracts and deletes only the seconds that just left the window, so a call costs O(1)
amortised; the whole hash is read only to say how long a refused caller should wait. Time is Redis's own clock
(`TIME`), so replicas with skewed clocks still share one window; tests may pass a time instead (ARGV `now` >= 0).
"""

from __future__ import annotations

_WINDOW = """
local now = tonumber(ARGV[5])
if now < 0 then now = tonumber(redis.call('TIME')[1]) end
-- The window's total at `now` (seconds that left it are dropped first) and the second to count into.
local function advance(key)
  local state = redis.call('HMGET', key, 't', 'l')
  local latest = tonumber(state[2])
  if latest == nil then return 0, now end
  local total = tonumber(state[1]) or 0
  if now <= latest then return total, latest end  -- a clock step back counts into the latest second
  if now - latest >= 60 then
    redis.call('DEL', key)
    return 0, now
  end
  for second = latest - 59, now - 60 do
    local count = redis.call('HGET', key, second)
    if count then
      total = total - tonumber(count)
      redis.call('HDEL', key, second)
    end
  end
  redis.call('HSET', key, 't', total, 'l', now)
  return total, now
end
local function add(key, second, amount)
  redis.call('HINCRBY', key, second, amount)
  redis.call('HINCRBY', key, 't', amount)
  redis.call('HSETNX', key, 'l', second)
  redis.call('EXPIRE', key, 61)
end
-- Seconds until the total drops below `limit` if nothing is added (for Retry-After).
local function wait(key, total, second, limit)
  local flat = redis.call('HGETALL', key)
  local live = {}
  for i = 1, #flat, 2 do
    local bucket = tonumber(flat[i])
    if bucket ~= nil and bucket > second - 60 then live[#live + 1] = {bucket, tonumber(flat[i + 1])} end
  end
  table.sort(live, function(a, b) return a[1] < b[1] end)
  for _, bucket in ipairs(live) do
    total = total - bucket[2]
    if total < limit then return math.max(1, bucket[1] + 60 - now) end
  end
  return 60
end
"""

# KEYS: requests window, tokens window, spend counter of the budget period
# ARGV: rpm (-1 none), tpm (-1 none), max_budget (-1 none), spend known to the caller, now (-1 Redis time),
#       spend counter TTL in seconds
# Returns {verdict, seconds to wait, spend}: verdict 0 admitted (and counted), 1 RPM, 2 TPM, 3 budget.
ADMIT = (
    _WINDOW
    + """
local budget = tonumber(ARGV[3])
if budget >= 0 then
  local stored = redis.call('GET', KEYS[3])
  if not stored then
    stored = ARGV[4]
    redis.call('SET', KEYS[3], stored, 'EX', tonumber(ARGV[6]))
  end
  local spent = math.max(tonumber(stored), tonumber(ARGV[4]))
  if spent >= budget then return {3, 0, tostring(spent)} end
end
local rpm = tonumber(ARGV[1])
local requests, second = 0, now
if rpm >= 0 then
  requests, second = advance(KEYS[1])
  if requests >= rpm then return {1, wait(KEYS[1], requests, second, rpm), ''} end
end
local tpm = tonumber(ARGV[2])
if tpm >= 0 then
  local tokens, tokens_second = advance(KEYS[2])
  if tokens >= tpm then return {2, wait(KEYS[2], tokens, tokens_second, tpm), ''} end
end
if rpm >= 0 then add(KEYS[1], second, 1) end
return {0, 0, ''}
"""
)

# KEYS: tokens window, spend counter of the budget period
# ARGV: tokens to count (0 none), spend to add, spend before it as known to the caller (-1: no budget counter),
#       unused, now (-1 Redis time), spend counter TTL in seconds
CHARGE = (
    _WINDOW
    + """
local tokens = tonumber(ARGV[1])
if tokens > 0 then
  local _, second = advance(KEYS[1])
  add(KEYS[1], second, tokens)
end
local before = tonumber(ARGV[3])
if before >= 0 and tonumber(ARGV[2]) > 0 then
  if redis.call('EXISTS', KEYS[2]) == 0 then redis.call('SET', KEYS[2], ARGV[3]) end
  redis.call('INCRBYFLOAT', KEYS[2], ARGV[2])
  redis.call('EXPIRE', KEYS[2], tonumber(ARGV[6]))
end
return 0
"""
)
