-- GET a page of /rooms (the page is in the URL) with the bearer token in BENCH_TOKEN.
wrk.method = "GET"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
