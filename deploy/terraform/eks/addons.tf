# Optional cluster add-ons, each behind an enable_* variable. They are installed only after Karpenter
# runs and the node pools exist, so their pods can be scheduled (system nodes or a Karpenter pool).

locals {
  gpu_toleration    = { key = "nvidia.com/gpu", operator = "Exists", effect = "NoSchedule" }
  neuron_toleration = { key = "aws.amazon.com/neuron", operator = "Exists", effect = "NoSchedule" }

  addons = {
    kuberay_operator = {
      enabled    = var.enable_kuberay
      namespace  = "kuberay-system"
      repository = "https://ray-project.github.io/kuberay-helm/"
      chart      = "kuberay-operator"
      version    = var.addon_chart_versions.kuberay_operator
      values     = {}
    }
    nvidia_device_plugin = {
      enabled    = var.enable_nvidia_device_plugin
      namespace  = "nvidia-device-plugin"
      repository = "https://nvidia.github.io/k8s-device-plugin"
      chart      = "nvidia-device-plugin"
      version    = var.addon_chart_versions.nvidia_device_plugin
      values = {
        nodeSelector = { "inferstack.io/pool" = "gpu" }
        tolerations  = [local.gpu_toleration]
      }
    }
    neuron_device_plugin = {
      enabled    = var.enable_neuron_device_plugin
      namespace  = "kube-system"
      repository = "oci://public.ecr.aws/neuron"
      chart      = "neuron-helm-chart"
      version    = var.addon_chart_versions.neuron_helm_chart
      values = {
        npd          = { enabled = false }
        devicePlugin = { tolerations = [local.neuron_toleration, { key = "CriticalAddonsOnly", operator = "Exists" }] }
      }
    }
    keda = {
      enabled    = var.enable_keda
      namespace  = "keda"
      repository = "https://kedacore.github.io/charts"
      chart      = "keda"
      version    = var.addon_chart_versions.keda
      values     = {}
    }
    kube_prometheus_stack = {
      enabled    = var.enable_kube_prometheus_stack
      namespace  = "monitoring"
      repository = "https://prometheus-community.github.io/helm-charts"
      chart      = "kube-prometheus-stack"
      version    = var.addon_chart_versions.kube_prometheus_stack
      values = {
        # Pick up ServiceMonitors, PodMonitors and PrometheusRules from every release, not only this one.
        prometheus = {
          prometheusSpec = {
            serviceMonitorSelectorNilUsesHelmValues = false
            podMonitorSelectorNilUsesHelmValues     = false
            ruleSelectorNilUsesHelmValues           = false
          }
        }
        # The inferstack chart ships dashboards as ConfigMaps labelled grafana_dashboard: "1".
        grafana = {
          sidecar = { dashboards = { enabled = true, label = "grafana_dashboard", labelValue = "1", searchNamespace = "ALL" } }
        }
      }
    }
    aws_load_balancer_controller = {
      enabled    = var.enable_aws_load_balancer_controller
      namespace  = "kube-system"
      repository = "https://aws.github.io/eks-charts"
      chart      = "aws-load-balancer-controller"
      version    = var.addon_chart_versions.aws_load_balancer_controller
      values = {
        clusterName    = module.eks.cluster_name
        region         = var.region
        vpcId          = local.vpc_id
        serviceAccount = { name = "aws-load-balancer-controller" }
      }
    }
    external_secrets = {
      enabled    = var.enable_external_secrets
      namespace  = "external-secrets"
      repository = "https://charts.external-secrets.io"
      chart      = "external-secrets"
      version    = var.addon_chart_versions.external_secrets
      values = {
        installCRDs    = true
        serviceAccount = { name = "external-secrets" }
      }
    }
  }

  enabled_addons = { for name, addon in local.addons : name => addon if addon.enabled }
}

resource "helm_release" "addon" {
  for_each = local.enabled_addons

  name             = replace(each.key, "_", "-")
  namespace        = each.value.namespace
  create_namespace = true
  repository       = each.value.repository
  chart            = each.value.chart
  version          = each.value.version
  values           = [yamlencode(each.value.values)]
  wait             = true
  timeout          = 900

  depends_on = [
    helm_release.karpenter,
    kubectl_manifest.node_pools,
    kubectl_manifest.gp3_storage_class,
    module.aws_load_balancer_controller_pod_identity,
    module.external_secrets_pod_identity,
  ]
}
