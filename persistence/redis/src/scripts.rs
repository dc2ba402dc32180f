//! The Lua scripts. Each one touches exactly one key (so it runs on one
//! Cluster node) and reads the time with `redis.call('TIME')`, so every
//! expiry is measured by the clock of the node that holds the key, not by
//! the app servers' clocks.
//!
//! A session hash has the fields `v` (version), `r` (encoded record), `i`
//! (idle timeout ms, 0: none), `a` (absolute end, Unix ms by Redis time, 0:
//! none), `u` (tag of the bound user), `x` (the expiry last written to the
//! count index, 0: none), `d` (`1`: a tombstone, which has no `r`) and `e`
//! (on a tombstone left by `end`: when, Unix ms by Redis time).
//! Replies are arrays whose first element says what happened; an index
//! score `-1` means "the count index needs no update", `0` "no expiry".

use redis::Script;
use std::sync::LazyLock;

/// Helpers every session script starts with.
const PRELUDE: &str = r#"
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function ms(n)
  return string.format('%.0f', n)
end
-- Sets the key's expiry to the earlier of now + idle and the absolute end
-- (0: none of either, PERSIST); returns it (0: none).
local function set_expiry(key, now, idle, abs_end)
  local e = 0
  if idle > 0 then e = now + idle end
  if abs_end > 0 and (e == 0 or abs_end < e) then e = abs_end end
  if e > 0 then
    redis.call('PEXPIREAT', key, ms(e))
  else
    redis.call('PERSIST', key)
  end
  return e
end
-- The count index must never hold a later expiry than the key's, so it is
-- rewritten when the expiry moves earlier or to or from none; a later one
-- only when it moved by more than a quarter of the idle timeout. Returns
-- the new score (0: none) or -1 when the index may stay.
local function reindex(key, e, x, idle)
  if e == x then return -1 end
  if e ~= 0 and x ~= 0 and e > x and idle > 0 and (e - x) * 4 <= idle then
    return -1
  end
  redis.call('HSET', key, 'x', ms(e))
  return e
end
"#;

/// `KEYS[1]` session; `ARGV` record, idle ms, absolute ms (0: none), user
/// tag (empty: none). `{0}`: the key holds something (record or tombstone);
/// `{1, expiry}`: created at version 1.
const CREATE: &str = r#"
if redis.call('EXISTS', KEYS[1]) == 1 then return {0} end
local now = now_ms()
local idle = tonumber(ARGV[2])
local abs = tonumber(ARGV[3])
local abs_end = 0
if abs > 0 then abs_end = now + abs end
redis.call('HSET', KEYS[1], 'v', 1, 'r', ARGV[1], 'i', ms(idle), 'a', ms(abs_end))
if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], 'u', ARGV[4]) end
local e = set_expiry(KEYS[1], now, idle, abs_end)
redis.call('HSET', KEYS[1], 'x', ms(e))
return {1, e}
"#;

/// `KEYS[1]` session; `ARGV` known version (empty: none). `{0}`: gone;
/// `{1, version, score}`: unchanged; `{2, version, score, record}`: changed;
/// `{3, ms}`: a tombstone that `end` left that long ago.
/// Extends the idle expiry; a record past its absolute end is deleted.
const TOUCH: &str = r#"
local f = redis.call('HMGET', KEYS[1], 'v', 'd', 'i', 'a', 'x', 'e')
if not f[1] then return {0} end
local now = now_ms()
if f[2] == '1' then
  if f[6] then return {3, math.max(0, now - tonumber(f[6]))} end
  return {0}
end
local abs_end = tonumber(f[4]) or 0
if abs_end > 0 and now >= abs_end then
  redis.call('DEL', KEYS[1])
  return {0}
end
local idle = tonumber(f[3]) or 0
local score = -1
if idle > 0 then
  local e = set_expiry(KEYS[1], now, idle, abs_end)
  score = reindex(KEYS[1], e, tonumber(f[5]) or 0, idle)
end
local v = tonumber(f[1])
if ARGV[1] ~= '' and tonumber(ARGV[1]) == v then return {1, v, score} end
return {2, v, score, redis.call('HGET', KEYS[1], 'r')}
"#;

/// `KEYS[1]` session; `ARGV` expected version, record, idle ms, user tag of
/// the record (empty: none). `{0}`: gone; `{1, version, score}`: written;
/// `{2, version, record}`: conflict, nothing written.
const COMMIT: &str = r#"
local f = redis.call('HMGET', KEYS[1], 'v', 'd', 'a', 'x', 'r')
if not f[1] or f[2] == '1' then return {0} end
local now = now_ms()
local abs_end = tonumber(f[3]) or 0
if abs_end > 0 and now >= abs_end then
  redis.call('DEL', KEYS[1])
  return {0}
end
local v = tonumber(f[1])
if v ~= tonumber(ARGV[1]) then return {2, v, f[5]} end
local idle = tonumber(ARGV[3])
redis.call('HSET', KEYS[1], 'v', ms(v + 1), 'r', ARGV[2], 'i', ms(idle))
if ARGV[4] ~= '' then
  redis.call('HSET', KEYS[1], 'u', ARGV[4])
else
  redis.call('HDEL', KEYS[1], 'u')
end
local e = set_expiry(KEYS[1], now, idle, abs_end)
return {1, v + 1, reindex(KEYS[1], e, tonumber(f[4]) or 0, idle)}
"#;

/// `KEYS[1]` session; `ARGV` `end` to remember when it ended (a logout or
/// a regenerate, field `e`), empty otherwise. `{0}`: absent or already a
/// tombstone; `{1, user tag}`: now a tombstone, keeping its expiry.
const DELETE: &str = r#"
local f = redis.call('HMGET', KEYS[1], 'v', 'd', 'u')
if not f[1] or f[2] == '1' then return {0} end
redis.call('HSET', KEYS[1], 'd', '1')
if ARGV[1] == 'end' then redis.call('HSET', KEYS[1], 'e', ms(now_ms())) end
redis.call('HDEL', KEYS[1], 'r', 'x')
return {1, f[3] or ''}
"#;

/// `KEYS[1]` session; `ARGV` record, expiry (Unix ms, 0: none), user tag,
/// mode (`nx`: only if the key holds nothing). `{0}`: the key holds
/// something (mode `nx`); `{2}`: a tombstone, left alone; `{1, expiry}`:
/// written at the next version.
const SAVE: &str = r#"
if ARGV[4] == 'nx' and redis.call('EXISTS', KEYS[1]) == 1 then return {0} end
local f = redis.call('HMGET', KEYS[1], 'v', 'd')
if f[2] == '1' then return {2} end
local v = (tonumber(f[1]) or 0) + 1
redis.call('HSET', KEYS[1], 'v', ms(v), 'r', ARGV[1])
if ARGV[3] ~= '' then
  redis.call('HSET', KEYS[1], 'u', ARGV[3])
else
  redis.call('HDEL', KEYS[1], 'u')
end
local e = tonumber(ARGV[2])
redis.call('HSET', KEYS[1], 'x', ms(e))
if e > 0 then
  redis.call('PEXPIREAT', KEYS[1], ms(e))
else
  redis.call('PERSIST', KEYS[1])
end
return {1, e}
"#;

/// `KEYS[1]` user index; `ARGV` hex key. Indexes the session, scored with
/// the Redis time of the binding; returns the index's size.
const USER_ADD: &str = r#"
redis.call('ZADD', KEYS[1], ms(now_ms()), ARGV[1])
return redis.call('ZCARD', KEYS[1])
"#;

/// `KEYS[1]` user index; `ARGV` grace ms, then pairs of hex key and mode:
/// `t` removes the member (a tombstone is final), `s` only if it was
/// indexed more than the grace ago (its session may still be on its way).
/// Returns how many were removed.
const USER_PRUNE: &str = r#"
local now = now_ms()
local grace = tonumber(ARGV[1])
local removed = 0
for j = 2, #ARGV - 1, 2 do
  local m = ARGV[j]
  if ARGV[j + 1] == 't' then
    removed = removed + redis.call('ZREM', KEYS[1], m)
  else
    local s = tonumber(redis.call('ZSCORE', KEYS[1], m))
    if s and s <= now - grace then
      removed = removed + redis.call('ZREM', KEYS[1], m)
    end
  end
end
return removed
"#;

/// `KEYS[1]` count index; `ARGV` limit. `{cardinality, {member, score,
/// ...}}`: the members whose indexed expiry has passed, up to the limit.
const COUNT_DUE: &str = r#"
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ms(now_ms()),
  'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[1]))
return {redis.call('ZCARD', KEYS[1]), due}
"#;

/// `KEYS[1]` count index; `ARGV` triples of hex key, the score it was seen
/// with, and its new score (empty: remove). A member whose score changed
/// since (a concurrent write indexed it anew) is left alone. Returns the
/// cardinality.
const COUNT_FIX: &str = r#"
for j = 1, #ARGV - 2, 3 do
  local cur = redis.call('ZSCORE', KEYS[1], ARGV[j])
  if cur and tonumber(cur) == tonumber(ARGV[j + 1]) then
    if ARGV[j + 2] == '' then
      redis.call('ZREM', KEYS[1], ARGV[j])
    else
      redis.call('ZADD', KEYS[1], ARGV[j + 2], ARGV[j])
    end
  end
end
return redis.call('ZCARD', KEYS[1])
"#;

fn with_prelude(body: &str) -> Script {
    Script::new(&format!("{PRELUDE}{body}"))
}

pub(crate) static CREATE_SCRIPT: LazyLock<Script> = LazyLock::new(|| with_prelude(CREATE));
pub(crate) static TOUCH_SCRIPT: LazyLock<Script> = LazyLock::new(|| with_prelude(TOUCH));
pub(crate) static COMMIT_SCRIPT: LazyLock<Script> = LazyLock::new(|| with_prelude(COMMIT));
pub(crate) static DELETE_SCRIPT: LazyLock<Script> = LazyLock::new(|| with_prelude(DELETE));
pub(crate) static SAVE_SCRIPT: LazyLock<Script> = LazyLock::new(|| with_prelude(SAVE));
pub(crate) static USER_ADD_SCRIPT: LazyLock<Script> = LazyLock::new(|| with_prelude(USER_ADD));
pub(crate) static USER_PRUNE_SCRIPT: LazyLock<Script> = LazyLock::new(|| with_prelude(USER_PRUNE));
pub(crate) static COUNT_DUE_SCRIPT: LazyLock<Script> = LazyLock::new(|| with_prelude(COUNT_DUE));
pub(crate) static COUNT_FIX_SCRIPT: LazyLock<Script> = LazyLock::new(|| with_prelude(COUNT_FIX));
