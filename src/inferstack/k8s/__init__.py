"""Read-only Kubernetes tooling: the kubeconfig, a small API client, and `inferstack k8s preflight`'s checks."""
