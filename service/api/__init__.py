"""The REST API: FastAPI routes that each call one library function (see service/api/app.py)."""
