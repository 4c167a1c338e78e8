"""The Lua scripts of the Redis limiter. Each runs atomically in Redis, so the check and the count of a request are
one step for every gateway process sharing that Redis: N processes enforce one limit.

A rate window is a hash of one-second buckets (field: epoch second, value: count) over the last 60 seconds, the
same shape as `rolling_window.RollingWindow`; stale buckets are deleted as they are read. Time is Redis's own clock
(`TIME`), so replicas with skewed clocks still share one window; tests may pass a time instead (ARGV `now` >= 0).
"""

from __future__ import annotations

_COMMON = """
local now = tonumber(ARGV[5])
if now < 0 then now = tonumber(redis.call('TIME')[1]) end
local function window(key)
  local flat = redis.call('HGETALL', key)
  local total, live = 0, {}
  for i = 1, #flat, 2 do
    local second, count = tonumber(flat[i]), tonumber(flat[i + 1])
    if second <= now - 60 then
      redis.call('HDEL', key, flat[i])
    else
      total = total + count
      live[#live + 1] = {second, count}
    end
  end
  return total, live
end
local function wait(total, live, limit)
  table.sort(live, function(a, b) return a[1] < b[1] end)
  for _, bucket in ipairs(live) do
    total = total - bucket[2]
    if total < limit then return bucket[1] + 60 - now end
  end
  return 60
end
"""

# KEYS: requests window, tokens window, spend counter of the budget period
# ARGV: rpm (-1 none), tpm (-1 none), max_budget (-1 none), spend known to the caller, now (-1 Redis time),
#       spend counter TTL in seconds
# Returns {verdict, seconds to wait, spend}: verdict 0 admitted (and counted), 1 RPM, 2 TPM, 3 budget.
ADMIT = (
    _COMMON
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
if rpm >= 0 then
  local total, live = window(KEYS[1])
  if total >= rpm then return {1, wait(total, live, rpm), ''} end
end
local tpm = tonumber(ARGV[2])
if tpm >= 0 then
  local total, live = window(KEYS[2])
  if total >= tpm then return {2, wait(total, live, tpm), ''} end
end
if rpm >= 0 then
  redis.call('HINCRBY', KEYS[1], now, 1)
  redis.call('EXPIRE', KEYS[1], 61)
end
return {0, 0, ''}
"""
)

# KEYS: tokens window, spend counter of the budget period
# ARGV: tokens to count (0 none), spend to add, spend before it as known to the caller (-1: no budget counter),
#       unused, now (-1 Redis time), spend counter TTL in seconds
CHARGE = (
    _COMMON
    + """
local tokens = tonumber(ARGV[1])
if tokens > 0 then
  redis.call('HINCRBY', KEYS[1], now, tokens)
  redis.call('EXPIRE', KEYS[1], 61)
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
