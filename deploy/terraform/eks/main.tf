# inferstack on EKS: network, cluster, Karpenter and its pools, add-ons, workload identities.
# Order (by depends_on): VPC -> EKS + system nodes + core add-ons -> Karpenter -> node pools
# -> optional add-ons -> inferstack chart.

data "aws_availability_zones" "available" {
  filter {
    name   = "opt-in-status"
    values = ["opt-in-not-required"]
  }
}

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

locals {
  tags = merge(var.tags, { "inferstack.io/cluster" = var.cluster_name })

  create_vpc = var.vpc_id == null
  azs        = slice(data.aws_availability_zones.available.names, 0, 3)

  vpc_id             = local.create_vpc ? module.vpc[0].vpc_id : var.vpc_id
  private_subnet_ids = local.create_vpc ? module.vpc[0].private_subnets : var.private_subnet_ids
  control_subnet_ids = local.create_vpc ? module.vpc[0].intra_subnets : var.private_subnet_ids

  discovery_tag = { "karpenter.sh/discovery" = var.cluster_name }
}

module "vpc" {
  source  = "terraform-aws-modules/vpc/aws"
  version = "6.6.0"
  count   = local.create_vpc ? 1 : 0

  name = var.cluster_name
  cidr = var.vpc_cidr
  azs  = local.azs

  private_subnets = [for i, _ in local.azs : cidrsubnet(var.vpc_cidr, 4, i)]
  public_subnets  = [for i, _ in local.azs : cidrsubnet(var.vpc_cidr, 8, i + 48)]
  intra_subnets   = [for i, _ in local.azs : cidrsubnet(var.vpc_cidr, 8, i + 52)]

  enable_nat_gateway = true
  single_nat_gateway = var.single_nat_gateway

  manage_default_security_group = true
  map_public_ip_on_launch       = false

  public_subnet_tags  = { "kubernetes.io/role/elb" = 1 }
  private_subnet_tags = merge({ "kubernetes.io/role/internal-elb" = 1 }, local.discovery_tag)
}

# A reused VPC's private subnets get the discovery tag Karpenter selects subnets by.
resource "aws_ec2_tag" "reused_subnet_discovery" {
  for_each = local.create_vpc ? toset([]) : toset(var.private_subnet_ids)

  resource_id = each.value
  key         = "karpenter.sh/discovery"
  value       = var.cluster_name
}

check "reused_vpc_has_subnets" {
  assert {
    condition     = local.create_vpc || length(var.private_subnet_ids) >= 2
    error_message = "vpc_id is set: private_subnet_ids must list at least two private subnets in different AZs."
  }
}
