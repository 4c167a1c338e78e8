# Offline checks of the rendered pools: `terraform test` in this folder (no provider needed).

variables {
  cluster_name       = "inferstack-test"
  node_iam_role_name = "inferstack-test-karpenter-node"
}

run "defaults_render_four_pools" {
  command = plan

  assert {
    condition     = length(output.node_pools) == 4 && length(output.node_classes) == 4 && length(output.manifests) == 8
    error_message = "the default renders graviton, x86, gpu and inferentia, each with a NodePool and an EC2NodeClass"
  }

  assert {
    condition     = alltrue([for name, pool in output.node_pools : pool.spec.template.metadata.labels["inferstack.io/pool"] == name])
    error_message = "every pool labels its nodes inferstack.io/pool=<pool name>"
  }

  assert {
    condition     = output.node_pools["gpu"].spec.template.spec.taints == [{ key = "nvidia.com/gpu", value = "true", effect = "NoSchedule" }]
    error_message = "the GPU pool is tainted nvidia.com/gpu=true:NoSchedule"
  }

  assert {
    condition     = output.node_pools["inferentia"].spec.template.spec.taints == [{ key = "aws.amazon.com/neuron", value = "true", effect = "NoSchedule" }]
    error_message = "the Inferentia pool is tainted aws.amazon.com/neuron=true:NoSchedule"
  }

  assert {
    condition     = !contains(keys(output.node_pools["graviton"].spec.template.spec), "taints")
    error_message = "the Graviton pool has no taint: it is where untolerating pods land"
  }

  assert {
    condition     = output.node_pools["x86"].spec.template.spec.taints == [{ key = "inferstack.io/pool", value = "x86", effect = "NoSchedule" }]
    error_message = "the x86 pool only takes pods that ask for it (inferstack.io/pool=x86:NoSchedule)"
  }

  assert {
    condition     = output.node_pools["gpu"].spec.disruption.consolidationPolicy == "WhenEmpty" && output.node_pools["inferentia"].spec.disruption.consolidationPolicy == "WhenEmpty"
    error_message = "accelerator pools consolidate only when empty, so busy model servers are never moved to save money"
  }

  assert {
    condition     = output.node_pools["gpu"].spec.disruption.budgets == [{ nodes = "1" }]
    error_message = "the GPU pool disrupts at most one node at a time"
  }

  assert {
    condition     = output.node_pools["gpu"].spec.limits["nvidia.com/gpu"] == "8" && output.node_pools["inferentia"].spec.limits["aws.amazon.com/neuron"] == "12"
    error_message = "accelerator pools are capped by accelerator count"
  }

  assert {
    condition     = alltrue([for c in values(output.node_classes) : c.spec.amiSelectorTerms == [{ alias = "al2023@v20260512" }]])
    error_message = "every node class pins the same AMI release"
  }

  assert {
    condition     = alltrue([for c in values(output.node_classes) : c.spec.role == "inferstack-test-karpenter-node" && c.spec.subnetSelectorTerms[0].tags["karpenter.sh/discovery"] == "inferstack-test"])
    error_message = "node classes take the role from the input and discover subnets by the cluster tag"
  }

  assert {
    condition     = output.node_classes["gpu"].spec.blockDeviceMappings[0].ebs.volumeSize == "500Gi"
    error_message = "GPU nodes get a 500Gi root volume for model caches and CUDA images"
  }

  assert {
    condition     = alltrue([for p in values(output.node_pools) : contains(p.spec.template.spec.requirements, { key = "karpenter.sh/capacity-type", operator = "In", values = ["on-demand"] })])
    error_message = "on-demand is the default capacity type"
  }
}

run "overrides_spot_disable_and_disk" {
  command = plan

  variables {
    pools = {
      gpu        = { capacity_types = ["spot", "on-demand"], root_volume_gi = 1000, gpu_counts = [1] }
      x86        = { enabled = false }
      inferentia = { enabled = false }
    }
  }

  assert {
    condition     = jsonencode(sort(keys(output.node_pools))) == jsonencode(["gpu", "graviton"])
    error_message = "disabled pools are not rendered"
  }

  assert {
    condition     = contains([for r in output.node_pools["gpu"].spec.template.spec.requirements : jsonencode(r)], jsonencode({ key = "karpenter.sh/capacity-type", operator = "In", values = ["spot", "on-demand"] }))
    error_message = "capacity types follow the variable"
  }

  assert {
    condition     = contains([for r in output.node_pools["gpu"].spec.template.spec.requirements : jsonencode(r)], jsonencode({ key = "karpenter.k8s.aws/instance-gpu-count", operator = "In", values = ["1"] }))
    error_message = "GPU counts follow the variable"
  }

  assert {
    condition     = output.node_classes["gpu"].spec.blockDeviceMappings[0].ebs.volumeSize == "1000Gi"
    error_message = "the root volume follows the variable"
  }
}

run "latest_ami_is_refused" {
  command = plan

  variables {
    ami_alias = "al2023@latest"
  }

  expect_failures = [var.ami_alias]
}

run "unknown_pool_is_refused" {
  command = plan

  variables {
    pools = { tpu = { enabled = true } }
  }

  expect_failures = [var.pools]
}

run "unknown_capacity_type_is_refused" {
  command = plan

  variables {
    pools = { graviton = { capacity_types = ["reserved-ish"] } }
  }

  expect_failures = [var.pools]
}
