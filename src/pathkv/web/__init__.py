"""The HTTP adapter: a framework-free ASGI application over the core service."""
