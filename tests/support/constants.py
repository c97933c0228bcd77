"""Values every test module shares."""

API = "/external-api/v1.0"
TOKEN_URL = f"{API}/application/token/"
ROOMS_URL = f"{API}/rooms"
SECRET_KEY = "test-signing-key-long-enough-for-hs512-" + "0123456789abcdef" * 2
