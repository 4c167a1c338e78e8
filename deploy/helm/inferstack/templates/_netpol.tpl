{{/* NetworkPolicy building blocks: a peer list of this release's pods by component, a policy, a rule. */}}
{{- define "inferstack.np.pods" -}}
- podSelector:
    matchExpressions:
      - {key: app.kubernetes.io/instance, operator: In, values: [{{ (index . 0).Release.Name }}]}
      - {key: app.kubernetes.io/component, operator: In, values: [{{ join ", " (index . 1) }}]}
{{- end -}}
{{- define "inferstack.np.policy" -}}
{{- $root := .root }}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ include "inferstack.name" (list $root (printf "np-%s" .component)) }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "inferstack.labels" (list $root .component) | nindent 4 }}
spec:
  podSelector:
    matchExpressions:
      - {key: app.kubernetes.io/instance, operator: In, values: [{{ $root.Release.Name }}]}
      - {key: app.kubernetes.io/component, operator: In, values: [{{ join ", " .components }}]}
  policyTypes: [Ingress, Egress]
  ingress:
    {{- if .ingress }}{{ .ingress | nindent 4 }}{{ else }} []{{ end }}
  egress:
    {{- if .egress }}{{ .egress | nindent 4 }}{{ else }} []{{ end }}
{{- end -}}
{{- define "inferstack.np.rule" -}}
{{- /* (list <peers YAML or ""> <ports list>) ; an empty peers string means any source/destination */ -}}
- {{- if index . 0 }}
  {{ ternary "from" "to" (eq (index . 2) "in") }}:
    {{- index . 0 | nindent 4 }}
  {{- end }}
  ports:
    {{- range $p := index . 1 }}
    - {port: {{ $p }}, protocol: TCP}
    {{- end }}
{{- end -}}
