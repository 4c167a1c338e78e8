# ---------------------------------------------------------------- cluster and network

variable "region" {
  description = "AWS region to create the cluster in (e.g. us-east-1). Required: nothing in this module assumes a region."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.region))
    error_message = "region must look like us-east-1."
  }
}

variable "cluster_name" {
  description = "EKS cluster name; also the karpenter.sh/discovery tag value on subnets and the node security group."
  type        = string
  default     = "inferstack"

  validation {
    condition     = can(regex("^[0-9A-Za-z][A-Za-z0-9_-]{0,37}$", var.cluster_name))
    error_message = "cluster_name: letters, digits, '-' and '_', at most 38 characters (IAM role names are derived from it)."
  }
}

variable "kubernetes_version" {
  description = "EKS Kubernetes version (major.minor)."
  type        = string
  default     = "1.34"
}

variable "vpc_id" {
  description = "Existing VPC to reuse; null creates a new VPC with terraform-aws-modules/vpc."
  type        = string
  default     = null
}

variable "private_subnet_ids" {
  description = "Private subnets of the reused VPC (at least two AZs); required when vpc_id is set, ignored otherwise. They are tagged karpenter.sh/discovery=<cluster_name>."
  type        = list(string)
  default     = []
}

variable "vpc_cidr" {
  description = "CIDR of the VPC created when vpc_id is null."
  type        = string
  default     = "10.0.0.0/16"
}

variable "single_nat_gateway" {
  description = "One NAT gateway for the new VPC (cheaper) instead of one per AZ (survives an AZ outage)."
  type        = bool
  default     = true
}

variable "endpoint_public_access_cidrs" {
  description = "CIDRs allowed to reach the public Kubernetes API endpoint (e.g. your office or home IP as x.x.x.x/32). 0.0.0.0/0 is refused."
  type        = list(string)

  validation {
    condition     = length(var.endpoint_public_access_cidrs) > 0 && !contains(var.endpoint_public_access_cidrs, "0.0.0.0/0")
    error_message = "endpoint_public_access_cidrs must list at least one CIDR and must not contain 0.0.0.0/0."
  }
}

variable "system_node_instance_types" {
  description = "Instance types of the managed node group that runs Karpenter, CoreDNS and the add-ons (Graviton by default)."
  type        = list(string)
  default     = ["m7g.large"]
}

variable "system_node_ami_type" {
  description = "AMI type of the system node group; must match the architecture of system_node_instance_types."
  type        = string
  default     = "AL2023_ARM_64_STANDARD"
}

variable "system_node_count" {
  description = "Number of system nodes (two keeps Karpenter and CoreDNS available during a node replacement)."
  type        = number
  default     = 2

  validation {
    condition     = var.system_node_count >= 1 && var.system_node_count <= 10
    error_message = "system_node_count must be between 1 and 10."
  }
}

variable "tags" {
  description = "Tags added to every AWS resource."
  type        = map(string)
  default     = {}
}

# ---------------------------------------------------------------- Karpenter and node pools

variable "karpenter_chart_version" {
  description = "Karpenter Helm chart version (oci://public.ecr.aws/karpenter/karpenter); keep it within what the eks module's karpenter submodule supports."
  type        = string
  default     = "1.12.2"
}

variable "ami_alias" {
  description = "Pinned EKS-optimized AMI alias for Karpenter nodes (family@version, e.g. al2023@v20260512)."
  type        = string
  default     = "al2023@v20260512"
}

variable "node_pools" {
  description = "Per-pool overrides for modules/node-pools (graviton, x86, gpu, inferentia): enabled, capacity_types (on-demand/spot), limits, disk size, ..."
  type = map(object({
    enabled           = optional(bool)
    capacity_types    = optional(list(string))
    instance_families = optional(list(string))
    cpu_limit         = optional(number)
    memory_limit_gi   = optional(number)
    accelerator_limit = optional(number)
    root_volume_gi    = optional(number)
    consolidate_after = optional(string)
    disruption_budget = optional(string)
    expire_after      = optional(string)
    gpu_counts        = optional(list(number))
    weight            = optional(number)
  }))
  default = {}
}

# ---------------------------------------------------------------- optional add-ons

variable "enable_kuberay" {
  description = "Install the KubeRay operator (needed for `ray.enabled` in the inferstack chart: RayService)."
  type        = bool
  default     = false
}

variable "enable_nvidia_device_plugin" {
  description = "Install the NVIDIA device plugin on the gpu pool (needed for any nvidia.com/gpu request)."
  type        = bool
  default     = true
}

variable "enable_neuron_device_plugin" {
  description = "Install the AWS Neuron device plugin on the inferentia pool (needed for aws.amazon.com/neuron requests)."
  type        = bool
  default     = false
}

variable "enable_keda" {
  description = "Install KEDA (the chart's ScaledObjects: scale model servers on queue depth, and to zero)."
  type        = bool
  default     = true
}

variable "enable_kube_prometheus_stack" {
  description = "Install kube-prometheus-stack (Prometheus Operator CRDs for ServiceMonitor/PrometheusRule, Prometheus, Grafana)."
  type        = bool
  default     = true
}

variable "enable_aws_load_balancer_controller" {
  description = "Install the AWS Load Balancer Controller (ALB Ingress for the gateway and agent)."
  type        = bool
  default     = true
}

variable "enable_external_secrets" {
  description = "Install External Secrets Operator with read access to the Secrets Manager ARNs in external_secrets_secret_arns."
  type        = bool
  default     = false
}

variable "external_secrets_secret_arns" {
  description = "Secrets Manager secret ARNs (wildcards allowed at the end) External Secrets may read, e.g. the gateway master key."
  type        = list(string)
  default     = []
}

variable "addon_chart_versions" {
  description = "Pinned Helm chart version per optional add-on."
  type = object({
    kuberay_operator             = optional(string, "1.4.2")
    nvidia_device_plugin         = optional(string, "0.18.0")
    neuron_helm_chart            = optional(string, "1.4.0")
    keda                         = optional(string, "2.17.2")
    kube_prometheus_stack        = optional(string, "77.0.0")
    aws_load_balancer_controller = optional(string, "1.13.0")
    external_secrets             = optional(string, "0.19.2")
  })
  default = {}
}

# ---------------------------------------------------------------- inferstack workload identities

variable "inferstack_namespace" {
  description = "Namespace the inferstack chart is installed into (Pod Identity associations are bound to it)."
  type        = string
  default     = "inferstack"
}

variable "agent_service_account" {
  description = "Service account of the chart's agent Deployment."
  type        = string
  default     = "inferstack-agent"
}

variable "model_cache_service_account" {
  description = "Service account of the chart's model-cache loader (copies weights from S3 into the cache volume)."
  type        = string
  default     = "inferstack-model-cache"
}

variable "opensearch_domain_arn" {
  description = "ARN of the one Amazon OpenSearch Service domain the agent may read and write (null: the agent gets no OpenSearch access)."
  type        = string
  default     = null

  validation {
    condition     = var.opensearch_domain_arn == null || can(regex("^arn:aws[a-z-]*:es:[a-z0-9-]+:[0-9]{12}:domain/[a-z][a-z0-9-]{2,27}$", var.opensearch_domain_arn))
    error_message = "opensearch_domain_arn must be an OpenSearch domain ARN (arn:aws:es:<region>:<account>:domain/<name>), without a trailing /*."
  }
}

variable "bedrock_model_arns" {
  description = "Bedrock foundation-model or inference-profile ARNs the agent may invoke (empty: no Bedrock access)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for arn in var.bedrock_model_arns : can(regex("^arn:aws[a-z-]*:bedrock:", arn)) && !endswith(arn, "*")])
    error_message = "bedrock_model_arns must be Bedrock ARNs without wildcards."
  }
}

variable "model_cache_bucket_arn" {
  description = "ARN of the S3 bucket holding model weights (null: no model-cache loader identity)."
  type        = string
  default     = null

  validation {
    condition     = var.model_cache_bucket_arn == null || can(regex("^arn:aws[a-z-]*:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.model_cache_bucket_arn))
    error_message = "model_cache_bucket_arn must be a bucket ARN (arn:aws:s3:::<bucket>) without a key."
  }
}

variable "model_cache_prefix" {
  description = "Key prefix inside model_cache_bucket_arn the loader may read (ends with '/')."
  type        = string
  default     = "models/"

  validation {
    condition     = endswith(var.model_cache_prefix, "/") && !startswith(var.model_cache_prefix, "/") && !strcontains(var.model_cache_prefix, "*")
    error_message = "model_cache_prefix must end with '/', not start with '/', and contain no '*'."
  }
}

# ---------------------------------------------------------------- the inferstack chart (optional)

variable "install_inferstack_chart" {
  description = "Install deploy/helm/inferstack from this checkout after the platform is ready."
  type        = bool
  default     = false
}

variable "inferstack_values_file" {
  description = "Values file for the inferstack chart (e.g. ../../helm/inferstack/examples/eks-full.yaml); secrets stay in Kubernetes Secrets it references."
  type        = string
  default     = null
}

variable "create_spot_service_linked_role" {
  description = "Create the account's EC2 Spot service-linked role (needed once per account before any spot capacity; false if it already exists)."
  type        = bool
  default     = false
}
