"""The Redis store: options (URL and settings), key layout, Lua scripts, the store itself.

Importing this package imports no driver: the registry reads options.py without glide.
"""
