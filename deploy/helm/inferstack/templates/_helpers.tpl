{{/*
Names, labels, images, security contexts and shared pod parts. Selectors use only name, instance and
component (selectors are immutable); everything carries the full app.kubernetes.io set.
*/}}

{{- define "inferstack.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* A component's object name: <fullname>-<component>. Call with (list $ "gateway"). */}}
{{- define "inferstack.name" -}}
{{- $root := index . 0 -}}
{{- printf "%s-%s" (include "inferstack.fullname" $root) (index . 1) | trunc 54 | trimSuffix "-" -}}
{{- end -}}

{{- define "inferstack.selectorLabels" -}}
{{- $root := index . 0 -}}
app.kubernetes.io/name: {{ $root.Chart.Name }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{- define "inferstack.labels" -}}
{{- $root := index . 0 -}}
{{ include "inferstack.selectorLabels" . }}
app.kubernetes.io/version: {{ $root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ $root.Release.Service }}
app.kubernetes.io/part-of: inferstack
helm.sh/chart: {{ printf "%s-%s" $root.Chart.Name $root.Chart.Version }}
{{- end -}}

{{/* Image reference from (list $ <images entry>): digest wins, else the tag, else the chart's appVersion. */}}
{{- define "inferstack.image" -}}
{{- $root := index . 0 -}}
{{- $img := index . 1 -}}
{{- if $img.digest -}}
{{- printf "%s@%s" $img.repository $img.digest -}}
{{- else -}}
{{- printf "%s:%s" $img.repository (default $root.Chart.AppVersion $img.tag) -}}
{{- end -}}
{{- end -}}

{{- define "inferstack.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
fsGroupChangePolicy: OnRootMismatch
seccompProfile: {type: RuntimeDefault}
{{- end -}}

{{- define "inferstack.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
privileged: false
capabilities: {drop: [ALL]}
seccompProfile: {type: RuntimeDefault}
{{- end -}}

{{- define "inferstack.imagePullSecrets" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
{{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* ServiceAccount name of a component: (list $ "gateway" <component values>). */}}
{{- define "inferstack.serviceAccountName" -}}
{{- $sa := (index . 2).serviceAccount | default dict -}}
{{- if $sa.create -}}
{{- default (include "inferstack.name" (list (index . 0) (index . 1))) $sa.name -}}
{{- else -}}
{{- default "default" $sa.name -}}
{{- end -}}
{{- end -}}

{{/* Scheduling: a component's own nodeSelector/tolerations/affinity, else the global ones. */}}
{{- define "inferstack.scheduling" -}}
{{- $root := index . 0 -}}
{{- $c := index . 1 -}}
{{- with (default $root.Values.global.nodeSelector $c.nodeSelector) }}
nodeSelector:
{{- toYaml . | nindent 2 }}
{{- end }}
{{- with (default $root.Values.global.tolerations $c.tolerations) }}
tolerations:
{{- toYaml . | nindent 2 }}
{{- end }}
{{- with $c.affinity }}
affinity:
{{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* Pod annotations: a checksum of the inferstack.yaml sections the pod reads (it rolls when they change, and
only then: a gateway setting does not restart model servers), plus user annotations.
(list $ <component values> [<sections>]); no sections list: the whole file; an empty one: no checksum. */}}
{{- define "inferstack.podAnnotations" -}}
{{- $root := index . 0 -}}
{{- $c := index . 1 -}}
{{- $config := include "inferstack.config" $root | fromYaml -}}
{{- $sections := keys $config | sortAlpha -}}
{{- if gt (len .) 2 }}{{ $sections = index . 2 }}{{ end -}}
{{- $picked := dict -}}
{{- range $s := $sections }}{{ $_ := set $picked $s (get $config $s) }}{{ end -}}
{{- if $sections }}
checksum/config: {{ toYaml $picked | sha256sum }}
{{- end }}
{{- with (merge (dict) ($c.podAnnotations | default dict) $root.Values.global.podAnnotations) }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* The volume holding inferstack.yaml, and its mount. */}}
{{- define "inferstack.configVolume" -}}
- name: config
  configMap:
    name: {{ include "inferstack.name" (list . "config") }}
{{- end -}}

{{- define "inferstack.configMount" -}}
- name: config
  mountPath: /etc/inferstack
  readOnly: true
{{- end -}}

{{/* Writable scratch: /tmp is always an emptyDir (read-only root filesystem). */}}
{{- define "inferstack.tmpVolume" -}}
- name: tmp
  emptyDir: {sizeLimit: 1Gi}
{{- end -}}

{{- define "inferstack.tmpMount" -}}
- name: tmp
  mountPath: /tmp
{{- end -}}

{{/* True when autoscaling of a component is on (either kind); fails when both are. (list "<field>" <autoscaling>) */}}
{{- define "inferstack.autoscaled" -}}
{{- $field := index . 0 -}}
{{- $a := index . 1 | default dict -}}
{{- $hpa := ($a.hpa | default dict).enabled -}}
{{- $keda := ($a.keda | default dict).enabled -}}
{{- if and $hpa $keda -}}
{{- fail (printf "%s.autoscaling: hpa.enabled and keda.enabled are mutually exclusive (KEDA creates its own HPA); enable one" $field) -}}
{{- end -}}
{{- if or $hpa $keda }}true{{ end -}}
{{- end -}}

{{/* The largest replica count a component can reach: (list <replicas> <autoscaling>). */}}
{{- define "inferstack.maxReplicas" -}}
{{- $replicas := int (index . 0) -}}
{{- $a := index . 1 | default dict -}}
{{- $max := $replicas -}}
{{- range $kind := list "hpa" "keda" }}
{{- $s := get $a $kind | default dict -}}
{{- if and $s.enabled (gt (int $s.maxReplicas) $max) }}{{ $max = int $s.maxReplicas }}{{ end -}}
{{- end -}}
{{- $max -}}
{{- end -}}

{{/* Deployment strategy: Recreate when a ReadWriteOnce claim is mounted (a second pod could not attach it). */}}
{{- define "inferstack.rwoStrategy" -}}
strategy:
  type: Recreate
{{- end -}}
