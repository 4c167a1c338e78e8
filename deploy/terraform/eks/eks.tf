# The cluster, its system node group (Karpenter runs here, never on nodes it manages) and core add-ons.

module "ebs_csi_pod_identity" {
  source  = "terraform-aws-modules/eks-pod-identity/aws"
  version = "2.8.1"

  name                      = "${var.cluster_name}-ebs-csi"
  attach_aws_ebs_csi_policy = true
}

module "eks" {
  source  = "terraform-aws-modules/eks/aws"
  version = "21.19.0"

  name               = var.cluster_name
  kubernetes_version = var.kubernetes_version

  endpoint_public_access       = true
  endpoint_public_access_cidrs = var.endpoint_public_access_cidrs
  endpoint_private_access      = true

  # The identity running Terraform administers the cluster (it installs Karpenter and the add-ons).
  enable_cluster_creator_admin_permissions = true

  enabled_log_types = ["api", "audit", "authenticator"]

  vpc_id                   = local.vpc_id
  subnet_ids               = local.private_subnet_ids
  control_plane_subnet_ids = local.control_subnet_ids

  addons = {
    # Network policy enforcement is on, so the chart's NetworkPolicies actually filter traffic.
    vpc-cni = {
      before_compute       = true
      configuration_values = jsonencode({ enableNetworkPolicy = "true" })
    }
    eks-pod-identity-agent = {
      before_compute = true
    }
    kube-proxy = {}
    coredns    = {}
    aws-ebs-csi-driver = {
      pod_identity_association = [{
        role_arn        = module.ebs_csi_pod_identity.iam_role_arn
        service_account = "ebs-csi-controller-sa"
      }]
    }
  }

  eks_managed_node_groups = {
    system = {
      ami_type       = var.system_node_ami_type
      instance_types = var.system_node_instance_types
      min_size       = var.system_node_count
      max_size       = var.system_node_count + 1
      desired_size   = var.system_node_count

      labels = {
        "karpenter.sh/controller" = "true"
        "inferstack.io/pool"      = "system"
      }
    }
  }

  # Only this security group carries the discovery tag, so Karpenter nodes join exactly it.
  node_security_group_tags = local.discovery_tag
}
