-- wrk script: POST /api/auth/login with a correct password.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"login":"bench","password":"benchmark password 1"}'
