-- wrk script for benches/http/run.sh.
--
--   wrk -t1 -c32 -d5s --latency -s bench.lua http://127.0.0.1:PORT -- PATH MODE
--
-- MODE "session": before the run, each wrk thread obtains ONE session cookie
--   (GET /counter once, via curl, capturing Set-Cookie) and then sends it on
--   every request: the request stays static, so wrk spends no Lua per request.
-- MODE "none": no cookie at all (/plain, /health, and the new-session runs).
--
-- init() prints "COOKIE <name=value>" for session runs; done() prints one
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

function init(args)
   local path, mode = args[1] or "/", args[2] or "none"
   wrk.path = path
   wrk.method = "GET"
   if mode == "session" then
      local base = wrk.scheme .. "://" .. wrk.host .. ":" .. wrk.port
      local cookie = fetch_cookie(base)
      if not cookie then
         io.stderr:write("bench.lua: GET " .. base .. "/counter sent no Set-Cookie\n")
         os.exit(3)
      end
      wrk.headers["Cookie"] = cookie
      -- run.sh reads this back to check the counter afterwards
      io.write("COOKIE " .. cookie .. "\n")
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
