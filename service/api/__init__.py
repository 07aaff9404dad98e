"""The gRPC face of the service: server lifecycle, handlers, message conversion, auth, admission limits,
flow control, logs and metrics.

Uses the pipeline (``contra.service.detector``, ``validate``, ``wiring``) and below; never ``batch`` or the
CLI. Nothing below imports it.
"""
