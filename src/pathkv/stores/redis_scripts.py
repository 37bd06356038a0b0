"""Server-side Lua scripts of the Redis store: each request is one round trip, atomic.

Key layout under the configured prefix P:
  P d:<path>  a string "<version>:<digest>:<updated ms>:<expires ms>:<codec>:<body>",
              expiring at <expires> (Redis removes it itself); codec "z" is a zlib body
  P keys      sorted set, all scores 0: the lexicographic index of paths (for listing)
  P hits      sorted set: path -> hits
  P count     the service-wide counter
  P sweep     the path where the last sweep of the index stopped

A string, not a hash: a hash with a 1 KiB field leaves the compact listpack encoding and
costs about 300 bytes more per document.

The index and hit ranking outlive expired documents; entries whose document is gone are
removed when listing or ranking meets them, and by `sweep`, which walks the whole index.

Conditions (mode): "" unconditional, "absent", "exists", "tags" (a flat list of version,
digest pairs).
"""

from __future__ import annotations

CONDITION = """
local function holds(cur, mode, tags)
  if mode == '' then return true end
  if mode == 'absent' then return cur == false end
  if cur == false then return false end
  if mode == 'exists' then return true end
  local v, g = string.match(cur, '^(%d+):([^:]*):')
  for i = 1, #tags, 2 do
    if tags[i] == v and tags[i + 1] == g then return true end
  end
  return false
end
"""

# The start of a batched script: ARGV[1] is the document key prefix, ARGV[2] the batch in
# MessagePack; the answer is collected flat in `out`, `n` entries so far.
BATCH = """
local batch = cmsgpack.unpack(ARGV[2])
local prefix = ARGV[1]
local out = {}
local n = 0
"""

# Many reads in one call (see RedisStore: concurrent requests are batched). A batch travels
# as one MessagePack argument: the client's cost is per argument, not per byte.
# KEYS hits | ARGV doc key prefix, msgpack [path, count (true/false), ...]
# -> msgpack, flat, per doc: value (false when there is none), hits
GET = BATCH + """
for i = 1, #batch, 2 do
  local path = batch[i]
  local d = redis.call('GET', prefix .. path)
  local h = 0
  if d then
    if batch[i + 1] then
      h = redis.call('ZINCRBY', KEYS[1], 1, path)
    else
      h = redis.call('ZSCORE', KEYS[1], path) or 0
    end
  end
  out[n + 1], out[n + 2] = d, h
  n = n + 2
end
return cmsgpack.pack(out)
"""

# Many writes in one call, applied in order, each with its own condition.
# KEYS hits, keys | ARGV doc key prefix,
#   msgpack [path, value after the version (":<digest>:..."), expires_at, mode, tags, ...]
#   where tags is a flat list of (version, digest) pairs
# -> msgpack, flat, per doc: version (0 when the condition failed), hits, created (0/1)
PUT = CONDITION + BATCH + """
for i = 1, #batch, 5 do
  local path = batch[i]
  local doc = prefix .. path
  local cur = redis.call('GET', doc)
  local mode = batch[i + 3]
  local version, hits, created = 0, 0, 0
  if mode == '' or holds(cur, mode, batch[i + 4]) then
    if cur then
      version = tonumber(string.match(cur, '^(%d+):')) + 1
      hits = redis.call('ZSCORE', KEYS[1], path) or 0
    else
      version, created = 1, 1
      redis.call('ZREM', KEYS[1], path)
    end
    redis.call('SET', doc, version .. batch[i + 1], 'PXAT', batch[i + 2])
    redis.call('ZADD', KEYS[2], 0, path)
  end
  out[n + 1], out[n + 2], out[n + 3] = version, hits, created
  n = n + 3
end
return cmsgpack.pack(out)
"""

# KEYS doc, hits, keys | ARGV path, mode, tags...   -> 1 deleted, 0 missing, -1 condition
DELETE = CONDITION + """
local cur = redis.call('GET', KEYS[1])
if not holds(cur, ARGV[2], {unpack(ARGV, 3)}) then return -1 end
if not cur then return 0 end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
"""

# Walk the index from min to max, keep live paths, drop dead ones.
# KEYS keys, hits | ARGV doc key prefix, min, max, limit, with_values(0/1)
# -> paths, or {path, value, hits} triples
LIST = """
local out = {}
local min = ARGV[2]
local limit = tonumber(ARGV[4])
while #out < limit do
  local batch = redis.call('ZRANGEBYLEX', KEYS[1], min, ARGV[3], 'LIMIT', 0, limit)
  if #batch == 0 then break end
  for _, path in ipairs(batch) do
    local d = redis.call('GET', ARGV[1] .. path)
    if not d then
      redis.call('ZREM', KEYS[1], path)
      redis.call('ZREM', KEYS[2], path)
    elseif ARGV[5] == '1' then
      out[#out + 1] = {path, d, redis.call('ZSCORE', KEYS[2], path) or '0'}
    else
      out[#out + 1] = path
    end
    if #out >= limit then break end
  end
  min = '(' .. batch[#batch]
end
return out
"""

# KEYS hits, keys | ARGV doc key prefix, limit
TOP = """
local out = {}
local limit = tonumber(ARGV[2])
local start = 0
while #out < 2 * limit do
  local batch = redis.call('ZREVRANGE', KEYS[1], start, start + limit - 1, 'WITHSCORES')
  if #batch == 0 then break end
  local removed = 0
  for i = 1, #batch, 2 do
    if redis.call('EXISTS', ARGV[1] .. batch[i]) == 1 then
      if #out < 2 * limit then
        out[#out + 1] = batch[i]
        out[#out + 1] = batch[i + 1]
      end
    else
      redis.call('ZREM', KEYS[1], batch[i])
      redis.call('ZREM', KEYS[2], batch[i])
      removed = removed + 1
    end
  end
  start = start + #batch / 2 - removed
end
return out
"""

# KEYS doc, hits, keys | ARGV path, whole value, version, expires, hits
RESTORE = """
local cur = redis.call('GET', KEYS[1])
if cur and tonumber(string.match(cur, '^(%d+):')) >= tonumber(ARGV[3]) then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PXAT', ARGV[4])
redis.call('ZADD', KEYS[3], 0, ARGV[1])
if tonumber(ARGV[5]) > 0 then
  redis.call('ZADD', KEYS[2], ARGV[5], ARGV[1])
else
  redis.call('ZREM', KEYS[2], ARGV[1])
end
return 1
"""

# One step of the sweep: check up to ARGV[2] index entries after the saved position.
# KEYS keys, hits, sweep | ARGV doc key prefix, batch  -> {removed, wrapped(0/1)}
SWEEP = """
local from = redis.call('GET', KEYS[3])
local min = '-'
if from then min = '(' .. from end
local batch = redis.call('ZRANGEBYLEX', KEYS[1], min, '+', 'LIMIT', 0, tonumber(ARGV[2]))
local removed = 0
for _, path in ipairs(batch) do
  if redis.call('EXISTS', ARGV[1] .. path) == 0 then
    redis.call('ZREM', KEYS[1], path)
    redis.call('ZREM', KEYS[2], path)
    removed = removed + 1
  end
end
if #batch < tonumber(ARGV[2]) then
  redis.call('DEL', KEYS[3])
  return {removed, 1}
end
redis.call('SET', KEYS[3], batch[#batch])
return {removed, 0}
"""
