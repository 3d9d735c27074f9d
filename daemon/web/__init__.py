"""The engine's one ASGI app: the /v1 control API (bearer token) and the review app (cookie login).

Served by uvicorn in a thread of the engine, loopback only; see daemon/control/server.py.
"""
