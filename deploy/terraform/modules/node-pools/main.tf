# Karpenter v1 NodePools and EC2NodeClasses for the four inferstack pools, as data.
# The root module applies `manifests`; tests validate them against the Karpenter CRDs.

locals {
  pool_label = "inferstack.io/pool"

  # Defaults per pool; var.pools overrides field by field.
  defaults = {
    graviton = {
      enabled           = true
      arch              = "arm64"
      capacity_types    = ["on-demand"]
      instance_families = ["m8g", "c8g", "m7g", "c7g"]
      cpu_limit         = 64
      memory_limit_gi   = 256
      accelerator_limit = 0
      root_volume_gi    = 100
      consolidation     = "WhenEmptyOrUnderutilized"
      consolidate_after = "5m"
      disruption_budget = "10%"
      expire_after      = "720h"
      gpu_counts        = []
      weight            = 50
      taints            = []
      accelerator       = null
      iops              = 3000
      throughput        = 125
      termination_grace = null
      description       = "Arm64 (Graviton) nodes for the gateway, agent, MCP servers and the llama.cpp model server"
    }
    x86 = {
      enabled           = true
      arch              = "amd64"
      capacity_types    = ["on-demand"]
      instance_families = []
      cpu_limit         = 64
      memory_limit_gi   = 256
      accelerator_limit = 0
      root_volume_gi    = 100
      consolidation     = "WhenEmptyOrUnderutilized"
      consolidate_after = "5m"
      disruption_budget = "10%"
      expire_after      = "720h"
      gpu_counts        = []
      weight            = 10
      taints            = [{ key = "inferstack.io/pool", value = "x86", effect = "NoSchedule" }]
      accelerator       = null
      iops              = 3000
      throughput        = 125
      termination_grace = null
      description       = "x86-64 nodes for images or tools that have no arm64 build"
    }
    gpu = {
      enabled           = true
      arch              = "amd64"
      capacity_types    = ["on-demand"]
      instance_families = ["g5", "g6", "g6e"]
      cpu_limit         = 192
      memory_limit_gi   = 1536
      accelerator_limit = 8
      root_volume_gi    = 500
      consolidation     = "WhenEmpty"
      consolidate_after = "10m"
      disruption_budget = "1"
      expire_after      = "720h"
      gpu_counts        = [1, 2, 4]
      weight            = 10
      taints            = [{ key = "nvidia.com/gpu", value = "true", effect = "NoSchedule" }]
      accelerator       = "nvidia.com/gpu"
      iops              = 10000
      throughput        = 500
      termination_grace = "24h"
      description       = "NVIDIA GPU nodes (g5/g6/g6e) for vLLM model servers"
    }
    inferentia = {
      enabled           = true
      arch              = "amd64"
      capacity_types    = ["on-demand"]
      instance_families = ["inf2"]
      cpu_limit         = 192
      memory_limit_gi   = 768
      accelerator_limit = 12
      root_volume_gi    = 300
      consolidation     = "WhenEmpty"
      consolidate_after = "10m"
      disruption_budget = "1"
      expire_after      = "720h"
      gpu_counts        = []
      weight            = 10
      taints            = [{ key = "aws.amazon.com/neuron", value = "true", effect = "NoSchedule" }]
      accelerator       = "aws.amazon.com/neuron"
      iops              = 6000
      throughput        = 250
      termination_grace = "24h"
      description       = "AWS Inferentia2 nodes for Neuron model servers"
    }
  }

  # Each pool = its defaults with the non-null overrides from var.pools laid over them.
  pools = {
    for name, d in local.defaults : name => merge(d, {
      for field, value in try(var.pools[name], {}) : field => value if value != null
    })
  }

  enabled = { for name, p in local.pools : name => p if p.enabled }

  requirements = {
    for name, p in local.enabled : name => concat(
      [
        { key = "kubernetes.io/os", operator = "In", values = ["linux"] },
        { key = "kubernetes.io/arch", operator = "In", values = [p.arch] },
        { key = "karpenter.sh/capacity-type", operator = "In", values = p.capacity_types },
      ],
      length(p.instance_families) > 0 ? [
        { key = "karpenter.k8s.aws/instance-family", operator = "In", values = p.instance_families },
        ] : [
        { key = "karpenter.k8s.aws/instance-category", operator = "In", values = ["c", "m", "r"] },
        { key = "karpenter.k8s.aws/instance-generation", operator = "Gt", values = ["6"] },
      ],
      p.accelerator == "nvidia.com/gpu" ? [
        { key = "karpenter.k8s.aws/instance-gpu-manufacturer", operator = "In", values = ["nvidia"] },
        { key = "karpenter.k8s.aws/instance-gpu-count", operator = "In", values = [for c in p.gpu_counts : tostring(c)] },
      ] : [],
    )
  }

  limits = {
    for name, p in local.enabled : name => merge(
      { cpu = tostring(p.cpu_limit), memory = "${p.memory_limit_gi}Gi" },
      p.accelerator == null ? {} : { (p.accelerator) = tostring(p.accelerator_limit) },
    )
  }

  node_class_names = { for name, _ in local.enabled : name => "inferstack-${name}" }

  node_pools = {
    for name, p in local.enabled : name => {
      apiVersion = "karpenter.sh/v1"
      kind       = "NodePool"
      metadata = {
        name        = "inferstack-${name}"
        annotations = { "kubernetes.io/description" = p.description }
      }
      spec = {
        weight = p.weight
        limits = local.limits[name]
        disruption = {
          consolidationPolicy = p.consolidation
          consolidateAfter    = p.consolidate_after
          budgets             = [{ nodes = p.disruption_budget }]
        }
        template = {
          metadata = { labels = { (local.pool_label) = name } }
          spec = merge(
            {
              nodeClassRef = { group = "karpenter.k8s.aws", kind = "EC2NodeClass", name = local.node_class_names[name] }
              requirements = local.requirements[name]
              expireAfter  = p.expire_after
            },
            length(p.taints) > 0 ? { taints = p.taints } : {},
            p.termination_grace == null ? {} : { terminationGracePeriod = p.termination_grace },
          )
        }
      }
    }
  }

  discovery = { "karpenter.sh/discovery" = var.cluster_name }

  node_classes = {
    for name, p in local.enabled : name => {
      apiVersion = "karpenter.k8s.aws/v1"
      kind       = "EC2NodeClass"
      metadata   = { name = local.node_class_names[name] }
      spec = {
        role                       = var.node_iam_role_name
        amiSelectorTerms           = [{ alias = var.ami_alias }]
        subnetSelectorTerms        = [{ tags = local.discovery }]
        securityGroupSelectorTerms = [{ tags = local.discovery }]
        metadataOptions = {
          httpEndpoint            = "enabled"
          httpProtocolIPv6        = "disabled"
          httpPutResponseHopLimit = 1
          httpTokens              = "required"
        }
        blockDeviceMappings = [{
          deviceName = "/dev/xvda"
          rootVolume = true
          ebs = {
            volumeSize          = "${p.root_volume_gi}Gi"
            volumeType          = "gp3"
            iops                = p.iops
            throughput          = p.throughput
            encrypted           = true
            deleteOnTermination = true
          }
        }]
        tags = merge(var.tags, { (local.pool_label) = name })
      }
    }
  }

  manifests = merge(
    { for name, obj in local.node_classes : "ec2nodeclass-${name}" => yamlencode(obj) },
    { for name, obj in local.node_pools : "nodepool-${name}" => yamlencode(obj) },
  )
}
