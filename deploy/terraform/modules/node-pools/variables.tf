variable "cluster_name" {
  description = "EKS cluster name; subnets and security groups are discovered by the tag karpenter.sh/discovery=<cluster_name>."
  type        = string

  validation {
    condition     = can(regex("^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$", var.cluster_name))
    error_message = "cluster_name must be a valid EKS cluster name (letters, digits, '-' and '_', at most 100 characters)."
  }
}

variable "node_iam_role_name" {
  description = "IAM role the Karpenter nodes assume, taken from the karpenter module's node_iam_role_name output (never typed by hand)."
  type        = string

  validation {
    condition     = length(var.node_iam_role_name) > 0
    error_message = "node_iam_role_name must not be empty."
  }
}

variable "ami_alias" {
  description = "Pinned EKS-optimized AMI alias for every pool, family@version (e.g. al2023@v20260512). 'latest' is refused: it drifts every node when AWS publishes an AMI."
  type        = string
  default     = "al2023@v20260512"

  validation {
    condition     = can(regex("^(al2023|bottlerocket)@v[0-9][0-9.]*$", var.ami_alias))
    error_message = "ami_alias must be al2023@vYYYYMMDD or bottlerocket@vX.Y.Z; 'latest' is not allowed."
  }
}

variable "pools" {
  description = "Per-pool overrides keyed by pool name (graviton, x86, gpu, inferentia). Unset fields keep the defaults documented in docs/eks.md."
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

  validation {
    condition     = alltrue([for name in keys(var.pools) : contains(["graviton", "x86", "gpu", "inferentia"], name)])
    error_message = "pools keys must be among graviton, x86, gpu, inferentia."
  }

  validation {
    condition = alltrue(flatten([
      for pool in values(var.pools) : [
        for c in coalesce(pool.capacity_types, ["on-demand"]) : contains(["on-demand", "spot"], c)
      ]
    ]))
    error_message = "capacity_types may only contain \"on-demand\" and \"spot\"."
  }

  validation {
    condition     = alltrue([for pool in values(var.pools) : pool.root_volume_gi == null ? true : pool.root_volume_gi >= 20 && pool.root_volume_gi <= 16384])
    error_message = "root_volume_gi must be between 20 and 16384 (gp3 limits)."
  }
}

variable "tags" {
  description = "Extra EC2 tags put on every instance Karpenter launches (keys reserved by Karpenter/EKS are refused by the CRD)."
  type        = map(string)
  default     = {}
}
