-- wrk script: POST /api/auth/login. BENCH_LOGIN and BENCH_PASSWORD choose the
-- credentials (default: the benchmark account's correct ones).
local login = os.getenv("BENCH_LOGIN") or "bench"
local password = os.getenv("BENCH_PASSWORD") or "quiet harbour lantern"
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = string.format('{"login":"%s","password":"%s"}', login, password)
