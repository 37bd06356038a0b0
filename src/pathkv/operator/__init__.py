"""The Kubernetes operator's model: a `PathKV` object's spec, read and checked
(`spec`), and the objects that realise it, built as plain dictionaries (`children`).

Both are pure: no Kubernetes client, no I/O, so every object they produce can be
validated offline against the Kubernetes schemas and the workload policy."""
