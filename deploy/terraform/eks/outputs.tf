output "cluster_name" {
  description = "EKS cluster name."
  value       = module.eks.cluster_name
}

output "cluster_endpoint" {
  description = "Kubernetes API endpoint."
  value       = module.eks.cluster_endpoint
}

output "configure_kubectl" {
  description = "Command that writes a kubeconfig entry for this cluster (uses your AWS credentials; nothing secret is stored here)."
  value       = "aws eks update-kubeconfig --region ${var.region} --name ${module.eks.cluster_name}"
}

output "karpenter_node_iam_role_name" {
  description = "IAM role of Karpenter-launched nodes (used by the EC2NodeClasses)."
  value       = module.karpenter.node_iam_role_name
}

output "karpenter_interruption_queue" {
  description = "SQS queue Karpenter reads spot interruption and rebalance events from."
  value       = module.karpenter.queue_name
}

output "node_pool_names" {
  description = "Karpenter NodePools created, by inferstack.io/pool value."
  value       = { for pool, obj in module.node_pools.node_pools : pool => obj.metadata.name }
}

output "agent_role_arn" {
  description = "IAM role bound to the agent's service account (null when the agent needs no AWS access)."
  value       = try(aws_iam_role.agent[0].arn, null)
}

output "model_cache_role_arn" {
  description = "IAM role bound to the model-cache loader's service account (null when no bucket is configured)."
  value       = try(aws_iam_role.model_cache[0].arn, null)
}

output "chart_pod_identities" {
  description = "Chart service accounts that have a Pod Identity association, by role."
  value       = local.chart_pod_identities
}
