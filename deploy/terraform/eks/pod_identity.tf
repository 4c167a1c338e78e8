# EKS Pod Identity for the inferstack chart's service accounts and the add-ons that call AWS.
# Each role grants only what its workload does: no *FullAccess policies, no wildcard resources.

locals {
  create_agent_role       = var.opensearch_domain_arn != null || length(var.bedrock_model_arns) > 0
  create_model_cache_role = var.model_cache_bucket_arn != null

  # Service accounts of the inferstack chart that call AWS APIs, and the role each one gets.
  chart_pod_identities = merge(
    local.create_agent_role ? { agent = var.agent_service_account } : {},
    local.create_model_cache_role ? { model_cache = var.model_cache_service_account } : {},
  )
}

# Only EKS Pod Identity, for this account, this cluster and the one service account, may assume each role
# (it sets the eks-cluster-name / kubernetes-namespace / kubernetes-service-account session tags).
data "aws_iam_policy_document" "pod_identity_trust" {
  for_each = local.chart_pod_identities

  statement {
    effect  = "Allow"
    actions = ["sts:AssumeRole", "sts:TagSession"]

    principals {
      type        = "Service"
      identifiers = ["pods.eks.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:RequestTag/eks-cluster-name"
      values   = [var.cluster_name]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:RequestTag/kubernetes-namespace"
      values   = [var.inferstack_namespace]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:RequestTag/kubernetes-service-account"
      values   = [each.value]
    }
  }
}

# ---------------------------------------------------------------- agent: one OpenSearch domain, named Bedrock models

data "aws_iam_policy_document" "agent" {
  count = local.create_agent_role ? 1 : 0

  dynamic "statement" {
    for_each = var.opensearch_domain_arn == null ? [] : [var.opensearch_domain_arn]
    content {
      sid       = "OpenSearchDomainHttp"
      effect    = "Allow"
      actions   = ["es:ESHttpGet", "es:ESHttpHead", "es:ESHttpPost", "es:ESHttpPut", "es:ESHttpDelete"]
      resources = [statement.value, "${statement.value}/*"]
    }
  }

  dynamic "statement" {
    for_each = length(var.bedrock_model_arns) == 0 ? [] : [var.bedrock_model_arns]
    content {
      sid       = "BedrockInvokeNamedModels"
      effect    = "Allow"
      actions   = ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]
      resources = statement.value
    }
  }
}

resource "aws_iam_role" "agent" {
  count = local.create_agent_role ? 1 : 0

  name_prefix        = "${var.cluster_name}-agent-"
  description        = "inferstack agent (${var.inferstack_namespace}/${var.agent_service_account})"
  assume_role_policy = data.aws_iam_policy_document.pod_identity_trust["agent"].json
}

resource "aws_iam_role_policy" "agent" {
  count = local.create_agent_role ? 1 : 0

  name   = "inferstack-agent"
  role   = aws_iam_role.agent[0].id
  policy = data.aws_iam_policy_document.agent[0].json
}

resource "aws_eks_pod_identity_association" "agent" {
  count = local.create_agent_role ? 1 : 0

  cluster_name    = module.eks.cluster_name
  namespace       = var.inferstack_namespace
  service_account = var.agent_service_account
  role_arn        = aws_iam_role.agent[0].arn
}

# ---------------------------------------------------------------- model-cache loader: read one S3 prefix

data "aws_iam_policy_document" "model_cache" {
  count = local.create_model_cache_role ? 1 : 0

  statement {
    sid       = "ReadModelObjects"
    effect    = "Allow"
    actions   = ["s3:GetObject"]
    resources = ["${var.model_cache_bucket_arn}/${var.model_cache_prefix}*"]
  }

  statement {
    sid       = "ListModelPrefix"
    effect    = "Allow"
    actions   = ["s3:ListBucket"]
    resources = [var.model_cache_bucket_arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${var.model_cache_prefix}*"]
    }
  }
}

resource "aws_iam_role" "model_cache" {
  count = local.create_model_cache_role ? 1 : 0

  name_prefix        = "${var.cluster_name}-model-cache-"
  description        = "inferstack model-cache loader (${var.inferstack_namespace}/${var.model_cache_service_account})"
  assume_role_policy = data.aws_iam_policy_document.pod_identity_trust["model_cache"].json
}

resource "aws_iam_role_policy" "model_cache" {
  count = local.create_model_cache_role ? 1 : 0

  name   = "inferstack-model-cache"
  role   = aws_iam_role.model_cache[0].id
  policy = data.aws_iam_policy_document.model_cache[0].json
}

resource "aws_eks_pod_identity_association" "model_cache" {
  count = local.create_model_cache_role ? 1 : 0

  cluster_name    = module.eks.cluster_name
  namespace       = var.inferstack_namespace
  service_account = var.model_cache_service_account
  role_arn        = aws_iam_role.model_cache[0].arn
}

# ---------------------------------------------------------------- add-ons that call AWS

module "aws_load_balancer_controller_pod_identity" {
  source  = "terraform-aws-modules/eks-pod-identity/aws"
  version = "2.8.1"
  count   = var.enable_aws_load_balancer_controller ? 1 : 0

  name                            = "${var.cluster_name}-aws-lbc"
  attach_aws_lb_controller_policy = true

  associations = {
    controller = {
      cluster_name    = module.eks.cluster_name
      namespace       = "kube-system"
      service_account = "aws-load-balancer-controller"
    }
  }
}

module "external_secrets_pod_identity" {
  source  = "terraform-aws-modules/eks-pod-identity/aws"
  version = "2.8.1"
  count   = var.enable_external_secrets ? 1 : 0

  name                                  = "${var.cluster_name}-external-secrets"
  attach_external_secrets_policy        = true
  external_secrets_secrets_manager_arns = var.external_secrets_secret_arns
  external_secrets_create_permission    = false

  associations = {
    operator = {
      cluster_name    = module.eks.cluster_name
      namespace       = "external-secrets"
      service_account = "external-secrets"
    }
  }
}
