"""The Kubernetes operator (`pathkv-operator`, `pip install 'pathkv[operator]'`).

The model is pure, no Kubernetes client and no I/O, so every object it produces can be
validated offline against the Kubernetes schemas and the workload policy: `spec` (a
PathKV's spec, read and checked), `children` (the objects that realise it, as plain
dictionaries), `status` (its conditions), `tenants` (a PathKVTenant as admin API calls).
The controller is `handlers` (kopf) on `kube` (lightkube); it reaches pathkv only through
its HTTP client."""
