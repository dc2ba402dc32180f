-- wrk script for benches/http/run.sh.
--
--   wrk -t1 -c32 -d5s --latency -s bench.lua http://127.0.0.1:PORT -- PATH MODE [COOKIES]
--
-- MODE "session": before the run, each wrk thread obtains COOKIES (default 1)
--   distinct session cookies (one GET /counter each, via curl, capturing
--   Set-Cookie; the timed run starts after init()).
--   COOKIES = 1: the cookie goes into wrk.headers and is sent on every request:
--     the request stays static, so wrk spends no Lua per request.
--   COOKIES > 1: init() pre-formats one request per cookie (wrk.format) and
--     defines request(), which rotates through them request by request
--     (round-robin over the thread's connections, so every cookie sees about
--     requests / COOKIES of the load, concurrently).
--   COOKIES = @FILE (run.sh's POPULATION cells): the cookies are read from
--     FILE, one "name=value" per line (written by make-sessions: sessions made
--     before the run, which this script does not make), and rotated request by
--     request like COOKIES > 1; each wrk thread walks the whole list, from a
--     point of its own. Every request is pre-formatted in init() as the fixed
--     head .. cookie .. fixed tail (one concatenation per cookie, not
--     wrk.format), so request() allocates nothing: with 1 000 000 cookies wrk
--     starts in ~3 s and holds ~240 MB. (Concatenating in request() instead
--     started in ~1 s but made a new Lua string per request, and wrk, with a
--     million strings live, then stalled for tens of ms now and then: p99
--     47-200 ms against 4 ms with 1 000 cookies, on /plain.) No COOKIE
--     lines are printed (run.sh checks the counters with make-sessions
--     --read-back).
-- MODE "none": no cookie at all (/plain, /health, and the new-session runs).
--
-- init() prints one "COOKIE <name=value>" line per cookie for session runs
-- (run.sh reads the counters back through them); done() prints one
-- machine-readable line that run.sh parses:
--   BENCH requests=.. duration_us=.. p50_us=.. p99_us=.. status_errors=.. socket_errors=..

local function fetch_cookie(base)
   local cmd = "curl -s -o /dev/null -D - --max-time 10 '" .. base .. "/counter'"
   local p = assert(io.popen(cmd))
   local headers = p:read("*a")
   p:close()
   for line in headers:gmatch("[^\r\n]+") do
      local value = line:match("^[Ss][Ee][Tt]%-[Cc][Oo][Oo][Kk][Ii][Ee]:%s*([^;]+)")
      if value and not value:match("=$") then
         return value
      end
   end
   return nil
end

-- setup() runs once per thread, in wrk's main Lua state, before init():
-- numbers the threads, so that each starts at its own point of a cookie file
local threads = 0
function setup(thread)
   threads = threads + 1
   thread:set("thread_id", threads)
end

-- cookie_file(path, headers): the cookies of FILE and request(), rotating them
local function cookie_file(path, file)
   local f, err = io.open(file, "r")
   if not f then
      io.stderr:write("bench.lua: cannot open cookie file " .. tostring(err) .. "\n")
      os.exit(3)
   end
   local cookies, n = {}, 0
   for line in f:lines() do
      if line ~= "" then
         n = n + 1
         cookies[n] = line
      end
   end
   f:close()
   if n == 0 then
      io.stderr:write("bench.lua: no cookies in " .. file .. "\n")
      os.exit(3)
   end
   -- the request with a marker for the cookie, split around it
   local marker = "@@BENCH-COOKIE@@"
   local headers = {}
   for k, v in pairs(wrk.headers) do headers[k] = v end
   headers["Cookie"] = marker
   local req = wrk.format("GET", path, headers)
   local at = req:find(marker, 1, true)
   local head, tail = req:sub(1, at - 1), req:sub(at + #marker)
   -- each thread from its own point of the list (thread_id is set by setup)
   local i = ((tonumber(thread_id) or 1) - 1) * 7919 % n
   for j = 1, n do
      cookies[j] = head .. cookies[j] .. tail
   end
   collectgarbage("collect")   -- the cookie strings, before the timed run
   function request()
      i = i % n + 1
      return cookies[i]
   end
   io.stderr:write(string.format("bench.lua: %d cookies from %s\n", n, file))
end

function init(args)
   local path, mode = args[1] or "/", args[2] or "none"
   wrk.path = path
   wrk.method = "GET"
   if mode == "session" and (args[3] or ""):sub(1, 1) == "@" then
      cookie_file(path, args[3]:sub(2))
      return
   end
   local n = tonumber(args[3] or "1") or 1
   if mode == "session" then
      local base = wrk.scheme .. "://" .. wrk.host .. ":" .. wrk.port
      local cookies, seen = {}, {}
      for _ = 1, n do
         local cookie = fetch_cookie(base)
         if not cookie then
            io.stderr:write("bench.lua: GET " .. base .. "/counter sent no Set-Cookie\n")
            os.exit(3)
         end
         if seen[cookie] then
            io.stderr:write("bench.lua: GET " .. base .. "/counter sent a cookie twice\n")
            os.exit(3)
         end
         seen[cookie] = true
         cookies[#cookies + 1] = cookie
         -- run.sh reads these back to check the counters afterwards
         io.write("COOKIE " .. cookie .. "\n")
      end
      if n == 1 then
         wrk.headers["Cookie"] = cookies[1]   -- static request: no Lua per request
      else
         local reqs = {}
         for i, cookie in ipairs(cookies) do
            local headers = {}
            for k, v in pairs(wrk.headers) do headers[k] = v end
            headers["Cookie"] = cookie
            reqs[i] = wrk.format("GET", path, headers)
         end
         local i = 0
         -- a global defined here: wrk looks for request() after init()
         function request()
            i = i % n + 1
            return reqs[i]
         end
      end
   end
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      "BENCH requests=%d duration_us=%d p50_us=%d p99_us=%d status_errors=%d socket_errors=%d\n",
      summary.requests, summary.duration,
      latency:percentile(50.0), latency:percentile(99.0),
      e.status, e.connect + e.read + e.write + e.timeout))
end
