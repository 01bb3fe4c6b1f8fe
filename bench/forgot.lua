-- wrk script: POST /api/auth/password/forgot for BENCH_EMAIL (default: the benchmark
-- account's address).
local email = os.getenv("BENCH_EMAIL") or "bench@example.com"
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = string.format('{"email":"%s"}', email)
