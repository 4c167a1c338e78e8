# Optionally installs the inferstack chart from this checkout once every add-on it may use is ready.

resource "helm_release" "inferstack" {
  count = var.install_inferstack_chart ? 1 : 0

  name             = "inferstack"
  namespace        = var.inferstack_namespace
  create_namespace = true
  chart            = "${path.module}/../../helm/inferstack"
  values           = var.inferstack_values_file == null ? [] : [file(var.inferstack_values_file)]
  wait             = true
  timeout          = 1800

  depends_on = [
    helm_release.addon,
    kubectl_manifest.node_pools,
    aws_eks_pod_identity_association.agent,
    aws_eks_pod_identity_association.model_cache,
  ]
}
