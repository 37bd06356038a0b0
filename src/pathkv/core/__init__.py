"""The rules of pathkv: pure Python, no HTTP and no storage engine imports."""
