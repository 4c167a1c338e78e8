# Karpenter: IAM (controller via Pod Identity, node role, instance profile), the interruption queue,
# the controller on the system nodes, then the inferstack node pools.

module "karpenter" {
  source  = "terraform-aws-modules/eks/aws//modules/karpenter"
  version = "21.19.0"

  cluster_name = module.eks.cluster_name

  # Pod Identity for the controller's service account kube-system/karpenter.
  create_pod_identity_association = true
  namespace                       = "kube-system"
  service_account                 = "karpenter"

  # Spot interruption, rebalance and health events reach Karpenter through the SQS queue.
  enable_spot_termination = true

  # The node role name is generated (prefix + suffix) and handed to the EC2NodeClasses below:
  # no hand-written role names that only fit one cluster.
  node_iam_role_use_name_prefix = true
  node_iam_role_additional_policies = {
    AmazonSSMManagedInstanceCore = "arn:${data.aws_partition.current.partition}:iam::aws:policy/AmazonSSMManagedInstanceCore"
  }
}

resource "helm_release" "karpenter" {
  name       = "karpenter"
  namespace  = "kube-system"
  repository = "oci://public.ecr.aws/karpenter"
  chart      = "karpenter"
  version    = var.karpenter_chart_version
  wait       = true
  timeout    = 900

  values = [yamlencode({
    # Runs only on the managed system nodes; it must never run on a node it could remove.
    nodeSelector      = { "karpenter.sh/controller" = "true" }
    priorityClassName = "system-cluster-critical"
    # CoreDNS may not be scheduled yet when Karpenter starts.
    dnsPolicy = "Default"
    serviceAccount = {
      name = module.karpenter.service_account
    }
    settings = {
      clusterName       = module.eks.cluster_name
      clusterEndpoint   = module.eks.cluster_endpoint
      interruptionQueue = module.karpenter.queue_name
    }
    webhook = { enabled = false }
  })]

  # The system node group (and the Pod Identity agent) must exist before the controller is scheduled.
  depends_on = [module.eks, module.karpenter]
}

module "node_pools" {
  source = "../modules/node-pools"

  cluster_name       = module.eks.cluster_name
  node_iam_role_name = module.karpenter.node_iam_role_name
  ami_alias          = var.ami_alias
  pools              = var.node_pools
  tags               = var.tags
}

# NodePools/EC2NodeClasses need Karpenter's CRDs, so they wait for the release (wait = true above).
resource "kubectl_manifest" "node_pools" {
  for_each = module.node_pools.manifests

  yaml_body         = each.value
  server_side_apply = true
  wait              = true

  depends_on = [helm_release.karpenter]
}

# Default StorageClass: encrypted gp3, bound where the pod lands (WaitForFirstConsumer), so a
# model-cache volume is created in the AZ of the node Karpenter picked.
resource "kubectl_manifest" "gp3_storage_class" {
  yaml_body = yamlencode({
    apiVersion = "storage.k8s.io/v1"
    kind       = "StorageClass"
    metadata = {
      name        = "gp3"
      annotations = { "storageclass.kubernetes.io/is-default-class" = "true" }
    }
    provisioner          = "ebs.csi.aws.com"
    volumeBindingMode    = "WaitForFirstConsumer"
    allowVolumeExpansion = true
    reclaimPolicy        = "Delete"
    parameters = {
      type      = "gp3"
      encrypted = "true"
    }
  })

  depends_on = [module.eks]
}

# EC2 needs this role once per account to launch spot instances; creating it twice fails, hence the switch.
resource "aws_iam_service_linked_role" "spot" {
  count = var.create_spot_service_linked_role ? 1 : 0

  aws_service_name = "spot.amazonaws.com"
}
