"""Server, RPC handlers, detection pipeline and CLI."""
