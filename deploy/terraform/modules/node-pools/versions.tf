# Provider-free on purpose: this module only computes Karpenter manifests, so
# `terraform init -backend=false`, `validate` and `terraform test` run offline.
terraform {
  required_version = ">= 1.5.7"
}
