"""Server-side Lua scripts of the Redis store: each request is one round trip, atomic.

The key layout and the batch layouts are declared in layout.py.

Times come from Redis' clock (``TIME``, and lifetimes given as ``PX``), never from pathkv's:
with pathkv's clock behind or ahead of Redis', a document still lives exactly its TTL.

The index and hit ranking outlive expired documents; entries whose document is gone are
removed when listing or ranking meets them (on a cluster, once the expiry index says the
document's time has come: see DUE_ON_CLUSTER), and by the sweep.

KEYS name every key a script reaches, or, for the batched GET and PUT on a single Redis,
the bucket's keys (store.py declares every key of a batch on a cluster, where Redis checks
them before the script runs). What a walk meets (the documents of index entries) cannot be
named in advance; every one of them lies in the slot of the declared keys.

Conditions (mode): "" unconditional, "absent", "exists", "tags" (a flat list of version,
digest pairs), "since" (one argument: Unix seconds the last write must not be after).
"""

from __future__ import annotations

from pathkv.stores.redis.layout import (
    GET_ITEM,
    GET_REPLY,
    OVER_BYTES,
    OVER_DOCUMENTS,
    PUT_ITEM,
    PUT_REPLY,
)

CONDITION = """
local function holds(cur, mode, tags)
  if mode == '' then return true end
  if mode == 'absent' then return cur == false end
  if cur == false then return false end
  if mode == 'exists' then return true end
  if mode == 'since' then
    local u = string.match(cur, '^%d+:[^:]*:(%d+):')
    return math.floor(tonumber(u) / 1000) <= tonumber(tags[1])
  end
  local v, g = string.match(cur, '^(%d+):([^:]*):')
  for i = 1, #tags, 2 do
    if tags[i] == v and tags[i + 1] == g then return true end
  end
  return false
end
"""

# Whether a walk may forget a path whose document it found missing. On a cluster, only once
# the expiry index says its time has come (or holds no entry for it: a keyspace from before
# that index): a document missing before its time may be on another node for a moment (a
# slot moving, its keys migrated one by one), or was evicted; the walk skips it and forgets
# nothing, and the sweep does when its time comes. On one Redis a document is missing only
# because it expired or was evicted: forgotten at once (an evicted one would otherwise stay
# counted in its namespace's usage until its time). sources() picks one.
DUE_ON_CLUSTER = """
local function due(keys, path)
  local at = redis.call('ZSCORE', string.sub(keys, 1, -5) .. 'expiry', path)
  if not at then return true end
  local clock = redis.call('TIME')
  return tonumber(at) <= clock[1] * 1000 + math.floor(clock[2] / 1000)
end
"""
DUE_AT_ONCE = """
local function due(keys, path) return true end
"""

# Usage: ``B sizes`` holds the length of every indexed path's body and ``B usage`` their
# count and sum; every script that adds or drops an index entry goes through these two.
USAGE = (
    """
local function forget(keys, hits, sizes, usage, path)
  local size = redis.call('HGET', sizes, path)
  if size then
    redis.call('HDEL', sizes, path)
    redis.call('HINCRBY', usage, 'documents', -1)
    redis.call('HINCRBY', usage, 'bytes', -tonumber(size))
  end
  redis.call('ZREM', keys, path)
  redis.call('ZREM', hits, path)
  -- B expiry lies beside B keys (layout.py).
  redis.call('ZREM', string.sub(keys, 1, -5) .. 'expiry', path)
end
"""
    + DUE_ON_CLUSTER
    + """
-- The change feed (layout.py: a stream per bucket of its changes, in commit order). With
-- several buckets (micro, set by the script from its arguments) an entry's id is Redis'
-- time in microseconds, so that the streams of different buckets merge in commit order;
-- with one, Redis makes the id (milliseconds), as before buckets existed.
local micro = false
local last_us, last_seq = nil, 0
local function next_id(changes)
  if not micro then return '*' end
  local clock = redis.call('TIME')
  local us = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
  if last_us == nil then
    last_us = -1
    local top = redis.call('XREVRANGE', changes, '+', '-', 'COUNT', 1)
    if top[1] then
      local a, b = string.match(top[1][1], '^(%d+)-(%d+)$')
      last_us, last_seq = tonumber(a), tonumber(b)
    end
  end
  if us > last_us then
    last_us, last_seq = us, 0
  else
    last_seq = last_seq + 1
  end
  return string.format('%d-%d', last_us, last_seq)
end
local function changed(changes, ns, event, path, version, digest, updated, expires, body)
  local entry = {'n', ns, 'e', event, 'p', path}
  if version then
    entry[#entry + 1], entry[#entry + 2] = 'v', version
    entry[#entry + 1], entry[#entry + 2] = 'g', digest
    entry[#entry + 1], entry[#entry + 2] = 'u', updated
    entry[#entry + 1], entry[#entry + 2] = 'x', expires
  end
  if body then entry[#entry + 1], entry[#entry + 2] = 'b', body end
  redis.call('XADD', changes, next_id(changes), unpack(entry))
end
local function remember(sizes, usage, path, old, size)
  redis.call('HSET', sizes, path, size)
  if old then
    redis.call('HINCRBY', usage, 'bytes', size - tonumber(old))
  else
    redis.call('HINCRBY', usage, 'documents', 1)
    redis.call('HINCRBY', usage, 'bytes', size)
  end
end
"""
)

# The start of a batched script: ARGV[1] is the batch in MessagePack (laid out as in
# layout.py); the answer is collected flat in `out`, `n` entries so far, and goes back as one
# MessagePack string.
# Tuning: a batch travels as one argument and its answer as one string because the client's
# cost is per argument and per reply element, hardly per byte (measured: about 30% less CPU
# per GET than an argument per field, and 10% less Redis CPU than a table per document).
BATCH = """
if redis.replicate_commands then redis.replicate_commands() end
local batch = cmsgpack.unpack(ARGV[1])
local out = {}
local n = 0
"""

# Many reads in one call (see RedisStore: concurrent requests are batched). A hit that
# cannot be written (Redis out of memory) is not counted; the document is served anyway.
GET = (
    BATCH
    + GET_ITEM.lua_for_each()
    + """
  local key = base .. 'd:' .. path
  local d = redis.call('GET', key)
  local h, left = 0, 0
  if d then
    left = redis.call('PTTL', key)
    if count then
      h = redis.pcall('ZINCRBY', base .. 'hits', 1, path)
      if type(h) == 'table' and h.err then h = redis.call('ZSCORE', base .. 'hits', path) or 0 end
    else
      h = redis.call('ZSCORE', base .. 'hits', path) or 0
    end
  end
"""
    + GET_REPLY.lua_emit("d", "h", "left")
    + """end
return cmsgpack.pack(out)
"""
)

# Many writes in one call, applied in order, each with its own condition. The document's
# SET comes first: under Redis' out-of-memory rule for scripts without flags (6.2), only a
# script's first write is checked, and a create must not slip past it. One write that Redis
# refuses fails that write alone.
# A write that grows usage past a limit is refused (version OVER_DOCUMENTS or OVER_BYTES).
PUT = (
    CONDITION
    + USAGE
    + BATCH
    + """
micro = ARGV[2] == 'u'
local clock = redis.call('TIME')
local now = clock[1] * 1000 + math.floor(clock[2] / 1000)
"""
    + PUT_ITEM.lua_for_each()
    + f"""
  local doc = base .. 'd:' .. path
  local cur = redis.call('GET', doc)
  local version, hits, created = 0, 0, 0
  local old = false
  local ok = mode == '' or holds(cur, mode, tags)
  local space = ns
  if space == '' then space = 'default' end
  if ok then
    old = redis.call('HGET', base .. 'sizes', path)
    if max_docs >= 0 or max_bytes >= 0 then
      local used = redis.call('HMGET', base .. 'usage', 'documents', 'bytes')
      local docs, bytes = tonumber(used[1] or '0'), tonumber(used[2] or '0')
      local before = tonumber(old or '0')
      docs, bytes = docs + other_docs, bytes + other_bytes
      if max_docs >= 0 and not old and docs + 1 > max_docs then
        version = {OVER_DOCUMENTS}
      elseif max_bytes >= 0 and size > before and bytes + size - before > max_bytes then
        version = {OVER_BYTES}
      end
    end
  end
  if ok and version == 0 then
    if cur then
      version = tonumber(string.match(cur, '^(%d+):')) + 1
    else
      version, created = 1, 1
    end
    local value = version .. ':' .. digest .. ':' .. now .. ':' .. (now + ttl) .. ':' .. body
    local stored = redis.pcall('SET', doc, value, 'PX', ttl)
    if type(stored) == 'table' and stored.err then
      version, created, hits = -1, 0, stored.err
    else
      if cur then
        hits = redis.call('ZSCORE', base .. 'hits', path) or 0
      else
        redis.call('ZREM', base .. 'hits', path)
      end
      redis.call('ZADD', base .. 'keys', 0, path)
      redis.call('ZADD', base .. 'expiry', now + ttl, path)
      if old and not cur then changed(KEYS[2], space, 'expire', path) end
      remember(base .. 'sizes', base .. 'usage', path, old, size)
      if not old and ns ~= '' then redis.call('SADD', KEYS[1], ns) end
      changed(KEYS[2], space, 'put', path, version, digest, now, now + ttl, body)
    end
  end
  local docs, bytes = 0, 0
  if max_docs >= 0 or max_bytes >= 0 then
    local used = redis.call('HMGET', base .. 'usage', 'documents', 'bytes')
    docs, bytes = tonumber(used[1] or '0'), tonumber(used[2] or '0')
  end
"""
    + PUT_REPLY.lua_emit("version", "hits", "created", "now", "docs", "bytes")
    + """end
return cmsgpack.pack(out)
"""
)

# KEYS doc, hits, keys, sizes, usage, changes, expiry | ARGV path, namespace, micro ("u" or ""),
#   mode, tags...
#   -> 1 deleted, 0 missing, -1 condition
# The change is recorded first: while Redis refuses to grow (maxmemory), the delete fails
# whole rather than go unrecorded.
DELETE = (
    CONDITION
    + USAGE
    + """
micro = ARGV[3] == 'u'
local cur = redis.call('GET', KEYS[1])
if not holds(cur, ARGV[4], {unpack(ARGV, 5)}) then return -1 end
if not cur then return 0 end
local v, g, u, x = string.match(cur, '^(%d+):([^:]*):(%d+):(%d+):')
changed(KEYS[6], ARGV[2], 'delete', ARGV[1], v, g, u, x)
redis.call('DEL', KEYS[1])
forget(KEYS[3], KEYS[2], KEYS[4], KEYS[5], ARGV[1])
return 1
"""
)

# Walk the index from min to max, keep live paths, drop dead ones.
# KEYS keys, hits, sizes, usage, changes, expiry | ARGV doc key prefix, min, max, limit,
#   with_values(0/1), namespace, micro -> paths, or {path, value, hits} triples
LIST = (
    USAGE
    + """
micro = ARGV[7] == 'u'
local out = {}
local min = ARGV[2]
local limit = tonumber(ARGV[4])
while #out < limit do
  local batch = redis.call('ZRANGEBYLEX', KEYS[1], min, ARGV[3], 'LIMIT', 0, limit)
  if #batch == 0 then break end
  for _, path in ipairs(batch) do
    local d = redis.call('GET', ARGV[1] .. path)
    if not d then
      if due(KEYS[1], path) then
        forget(KEYS[1], KEYS[2], KEYS[3], KEYS[4], path)
        changed(KEYS[5], ARGV[6], 'expire', path)
      end
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
)

# One level of the index (core/levels.py says what): a folder is one entry, and the walk
# jumps past it. KEYS as LIST | ARGV doc key prefix, min, max, limit, namespace, prefix,
#   delimiter, micro -> {name, 1 for a folder else 0} pairs
LEVEL = (
    USAGE
    + """
micro = ARGV[8] == 'u'
local out = {}
local min = ARGV[2]
local limit = tonumber(ARGV[4])
local skip = #ARGV[6] + 1
local delimiter = ARGV[7]
-- One member after a folder, twice as many after each run of plain paths (core/levels.py).
local step = 1
while #out < limit do
  local want = math.min(limit - #out, step)
  local batch = redis.call('ZRANGEBYLEX', KEYS[1], min, ARGV[3], 'LIMIT', 0, want)
  if #batch == 0 then break end
  step = step * 2
  for _, path in ipairs(batch) do
    local cut = string.find(path, delimiter, skip, true)
    if cut then
      local folder = string.sub(path, 1, cut + #delimiter - 1)
      out[#out + 1] = {folder, 1}
      -- Past every member that starts with the folder (UTF-8 never ends a character on 0xFF).
      min = '[' .. string.sub(folder, 1, -2) .. string.char(string.byte(folder, -1) + 1)
      step = 1
      break
    end
    if redis.call('EXISTS', ARGV[1] .. path) == 1 then
      out[#out + 1] = {path, 0}
    elseif due(KEYS[1], path) then
      forget(KEYS[1], KEYS[2], KEYS[3], KEYS[4], path)
      changed(KEYS[5], ARGV[5], 'expire', path)
    end
    min = '(' .. path
    if #out >= limit then break end
  end
end
return out
"""
)

# KEYS hits, keys, sizes, usage, changes, expiry | ARGV doc key prefix, limit, namespace,
#   micro
TOP = (
    USAGE
    + """
micro = ARGV[4] == 'u'
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
    elseif due(KEYS[2], batch[i]) then
      forget(KEYS[2], KEYS[1], KEYS[3], KEYS[4], batch[i])
      changed(KEYS[5], ARGV[3], 'expire', batch[i])
      removed = removed + 1
    end
  end
  start = start + #batch / 2 - removed
end
return out
"""
)

# KEYS doc, hits, keys, sizes, usage, changes, expiry
# ARGV path, whole value, version, expires, hits, size, namespace, micro
RESTORE = (
    USAGE
    + """
micro = ARGV[8] == 'u'
local cur = redis.call('GET', KEYS[1])
if cur and tonumber(string.match(cur, '^(%d+):')) >= tonumber(ARGV[3]) then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PXAT', ARGV[4])
redis.call('ZADD', KEYS[3], 0, ARGV[1])
redis.call('ZADD', string.sub(KEYS[3], 1, -5) .. 'expiry', ARGV[4], ARGV[1])
remember(KEYS[4], KEYS[5], ARGV[1], redis.call('HGET', KEYS[4], ARGV[1]), tonumber(ARGV[6]))
local v, g, u, x, body = string.match(ARGV[2], '^(%d+):([^:]*):(%d+):(%d+):(.*)$')
changed(KEYS[6], ARGV[7], 'put', ARGV[1], v, g, u, x, body)
if tonumber(ARGV[5]) > 0 then
  redis.call('ZADD', KEYS[2], ARGV[5], ARGV[1])
else
  redis.call('ZREM', KEYS[2], ARGV[1])
end
return 1
"""
)

# What both sweeps do with one path: drop its entries when its document is gone (-2; -3
# when it is missing before its time, see due: nothing is dropped), and say what is left of
# its lifetime otherwise (-1: none). KEYS 1, 2, 4, 5, 6 and ARGV 1, 3
# and 4 (micro) are the same in both.
SWEEP_STEP = (
    USAGE
    + """
micro = ARGV[4] == 'u'
local clock = redis.call('TIME')
local now = clock[1] * 1000 + math.floor(clock[2] / 1000)
local function swept(path)
  local left = redis.call('PTTL', ARGV[1] .. path)
  if left == -2 then
    if not due(KEYS[1], path) then return -3 end
    forget(KEYS[1], KEYS[2], KEYS[4], KEYS[5], path)
    changed(KEYS[6], ARGV[3], 'expire', path)
  end
  return left
end
"""
)

# The sweep, once the expiry index is complete: up to ARGV[2] entries whose time has come,
# oldest first; a document written again since has a later score (PUT keeps it), so one
# still there here is only rescored (Redis' clock ahead of the score by a millisecond).
# KEYS keys, hits, expiry, sizes, usage, changes | ARGV doc key prefix, batch, namespace,
#   micro -> {removed, done(0/1)}
SWEEP_DUE = (
    SWEEP_STEP
    + """
local due = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now, 'LIMIT', 0, tonumber(ARGV[2]))
local removed = 0
for _, path in ipairs(due) do
  local left = swept(path)
  if left == -2 then
    removed = removed + 1
  elseif left == -1 then
    redis.call('ZREM', KEYS[3], path)
  elseif left >= 0 then
    redis.call('ZADD', KEYS[3], now + left, path)
  end
end
if #due < tonumber(ARGV[2]) then return {removed, 1} end
return {removed, 0}
"""
)

# One step of the walk over the whole index, from the saved position: the sweep of a
# keyspace written before the expiry index existed. It drops the entries of expired
# documents and indexes the expiry of the others; a completed walk marks the index complete
# (KEYS[8]) and later sweeps take SWEEP_DUE.
# KEYS keys, hits, sweep, sizes, usage, changes, expiry, indexed | ARGV doc key prefix,
#   batch, namespace, micro -> {removed, wrapped(0/1)}
SWEEP = (
    SWEEP_STEP
    + """
local from = redis.call('GET', KEYS[3])
local min = '-'
if from then min = '(' .. from end
local batch = redis.call('ZRANGEBYLEX', KEYS[1], min, '+', 'LIMIT', 0, tonumber(ARGV[2]))
local removed = 0
for _, path in ipairs(batch) do
  local left = swept(path)
  if left == -2 then
    removed = removed + 1
  elseif left >= 0 then
    redis.call('ZADD', KEYS[7], now + left, path)
  end
end
if #batch < tonumber(ARGV[2]) then
  redis.call('DEL', KEYS[3])
  redis.call('SET', KEYS[8], '1')
  return {removed, 1}
end
redis.call('SET', KEYS[3], batch[#batch])
return {removed, 0}
"""
)

# Rate limits, for a batch of requests: ARGV[1] is a MessagePack list with, per request, a
# flat list of its buckets (key, limit, window ms). A request is counted in all its buckets
# or, when one is full, in none. A bucket's window is its key's lifetime: it starts with the
# first request counted after the last window ended (see core/contract.py, Bucket).
#   -> per request: allowed (0/1), then remaining and ms to the window's end, per bucket
RATE = (
    BATCH
    + """
for _, buckets in ipairs(batch) do
  local counts, reply = {}, {1}
  for i = 1, #buckets, 3 do
    local limit = tonumber(buckets[i + 1])
    local count = tonumber(redis.call('GET', buckets[i]) or '0')
    local left = redis.call('PTTL', buckets[i])
    if left < 0 then count, left = 0, tonumber(buckets[i + 2]) end
    counts[#counts + 1] = count
    if count >= limit then reply[1] = 0 end
    reply[#reply + 1] = limit - count
    reply[#reply + 1] = left
  end
  if reply[1] == 1 then
    for j = 1, #counts do
      local key = buckets[3 * j - 2]
      if counts[j] == 0 then
        redis.call('SET', key, 1, 'PX', buckets[3 * j])
      else
        redis.call('INCR', key)
      end
      reply[2 * j] = reply[2 * j] - 1
    end
  end
  out[#out + 1] = reply
end
return cmsgpack.pack(out)
"""
)


# Redis' time in a stream's unit: microseconds with several buckets ("u"), else ms.
CLOCK = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
if ARGV[#ARGV] == 'u' then now = tonumber(clock[1]) * 1000000 + tonumber(clock[2]) end
"""

# Read the feed: KEYS changes | ARGV the first id, "(" before it when it is excluded, count,
#   micro -> MessagePack: Redis' time when read, then id, fields, id, fields, ...
# Every entry added later has an id after that time (a stream's ids grow, from the server's
# clock): store.py merges the buckets' streams up to there.
# Tuning: one string for the whole batch (see BATCH): the client took 18 us an entry to
# convert an XREAD reply, against about 2 to unpack this.
READ = (
    CLOCK
    + """
local entries = redis.call('XRANGE', KEYS[1], ARGV[1], '+', 'COUNT', tonumber(ARGV[2]))
local out = {now}
for _, entry in ipairs(entries) do
  out[#out + 1] = entry[1]
  out[#out + 1] = entry[2]
end
return cmsgpack.pack(out)
"""
)

# The ids of the oldest entries of the feed: KEYS changes | ARGV count -> ids (where a
#   trim by count cuts: store.py; the entries' fields stay on the server)
OLDEST = """
local entries = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', tonumber(ARGV[1]))
local ids = {}
for i, entry in ipairs(entries) do ids[i] = entry[1] end
return ids
"""

# The end of the feed: KEYS changes, floor | ARGV micro -> {Redis' time, the last id or "",
#   the floor or ""}
LAST = (
    CLOCK
    + """
local top = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local last = ''
if top[1] then last = top[1][1] end
return {string.format('%d', now), last, redis.call('GET', KEYS[2]) or ''}
"""
)

# Trim the feed: KEYS changes, floor | ARGV the first id to keep ("" to trim by age only),
#   the age to keep in the stream's unit ("" to trim by id only), chunk, micro
#   -> entries deleted (at most chunk: the caller calls again; Redis serves others between)
# Deletes exactly (no "~"), and records in floor the last id deleted, so a cursor before it
# is known to be expired (and one at it is not).
TRIM = (
    CLOCK
    + """
local function before(a, b)
  local am, as = string.match(a, '^(%d+)-(%d+)$')
  local bm, bs = string.match(b, '^(%d+)-(%d+)$')
  am, as, bm, bs = tonumber(am), tonumber(as), tonumber(bm), tonumber(bs)
  return am < bm or (am == bm and as < bs)
end
local keep = ARGV[1]
if ARGV[2] ~= '' then
  local aged = string.format('%d-0', math.max(now - tonumber(ARGV[2]), 0))
  if keep == '' or before(keep, aged) then keep = aged end
end
local gone = redis.call('XRANGE', KEYS[1], '-', '(' .. keep, 'COUNT', tonumber(ARGV[3]))
if #gone == 0 then return 0 end
local last = gone[#gone][1]
local ms, seq = string.match(last, '^(%d+)-(%d+)$')
local removed = redis.call('XTRIM', KEYS[1], 'MINID', ms .. '-' .. (tonumber(seq) + 1))
local floor = redis.call('GET', KEYS[2])
if not floor or before(floor, last) then redis.call('SET', KEYS[2], last) end
return removed
"""
)

# Drop a namespace's documents in one bucket, a step at a time: KEYS keys | ARGV doc key
#   prefix, step -> documents dropped (fewer than step: none left)
DROP = """
local paths = redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[2]) - 1)
for _, path in ipairs(paths) do
  redis.call('UNLINK', ARGV[1] .. path)
end
if #paths > 0 then redis.call('ZREM', KEYS[1], unpack(paths)) end
return #paths
"""


# Redis 7 and later read flags from a first line (``#!lua flags=...``): a script that may
# write and carries no ``allow-oom`` is refused whole while Redis is over its maxmemory, before
# it runs. Scripts that only read, count hits or free memory may run then; those that store
# documents may not. Redis 6.2 knows no such line: it gets the scripts without it.
FLAGS = {
    "GET": "allow-oom",
    "PUT": "",
    "DELETE": "allow-oom",
    "LIST": "allow-oom",
    "LEVEL": "allow-oom",
    "TOP": "allow-oom",
    "RESTORE": "",
    "SWEEP": "allow-oom",
    "SWEEP_DUE": "allow-oom",
    "RATE": "allow-oom",
    "TRIM": "allow-oom",
    "READ": "allow-oom",
    "OLDEST": "allow-oom",
    "LAST": "allow-oom",
    "DROP": "allow-oom",
}


def sources(flags: bool, cluster: bool) -> dict[str, str]:
    """Every script by name, with its flags line when the server reads one, and the rule
    for documents missing before their time that fits the server (DUE_ON_CLUSTER)."""
    scripts = {
        "GET": GET,
        "PUT": PUT,
        "DELETE": DELETE,
        "LIST": LIST,
        "LEVEL": LEVEL,
        "TOP": TOP,
        "RESTORE": RESTORE,
        "SWEEP": SWEEP,
        "SWEEP_DUE": SWEEP_DUE,
        "RATE": RATE,
        "TRIM": TRIM,
        "READ": READ,
        "OLDEST": OLDEST,
        "LAST": LAST,
        "DROP": DROP,
    }
    if not cluster:
        scripts = {name: s.replace(DUE_ON_CLUSTER, DUE_AT_ONCE) for name, s in scripts.items()}
    if not flags:
        return scripts
    return {
        name: (f"#!lua flags={FLAGS[name]}\n" if FLAGS[name] else "#!lua\n") + source
        for name, source in scripts.items()
    }
