output "node_pools" {
  description = "NodePool objects by pool name (only enabled pools)."
  value       = local.node_pools
}

output "node_classes" {
  description = "EC2NodeClass objects by pool name (only enabled pools)."
  value       = local.node_classes
}

output "manifests" {
  description = "One YAML document per object, keyed ec2nodeclass-<pool> / nodepool-<pool>; the root module applies them after Karpenter is running."
  value       = local.manifests
}

output "manifests_yaml" {
  description = "All manifests as one multi-document YAML stream (for `kubectl apply -f -` or review)."
  value       = join("---\n", [for key in sort(keys(local.manifests)) : local.manifests[key]])
}

output "pool_label" {
  description = "Node label that names the pool; the chart's nodeSelectors use it."
  value       = local.pool_label
}
