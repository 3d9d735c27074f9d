"""The tray app: a per-user icon that shows what the service is doing and pauses, resumes or rescans it.

Speaks only the control API (daemon.control.protocol/client, stdlib only); pystray loads lazily in tray.app.
"""
