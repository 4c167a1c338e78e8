{{/*
Model weights for a model server, by cache mode:
  image       weights in the image; nothing mounted, Hugging Face offline
  ephemeral   emptyDir at /models, filled by the server at start (download)
  shared      one PersistentVolumeClaim for every replica: ReadWriteMany, or an existingClaim
  perReplica  a StatefulSet with one claim per replica (volumeClaimTemplates)
A ReadWriteOnce claim shared by more than one replica is refused: a second pod on another node could not attach
it and a rolling update would deadlock on it.
Input: dict root, component, field (values path for messages), cache, maxReplicas.
Output (YAML): volumes, mounts, claimTemplates, env, statefulSet, recreate, pvc (a PVC object to render or "").
*/}}
{{- define "inferstack.modelCache" -}}
{{- $root := .root -}}
{{- $cache := .cache -}}
{{- $name := include "inferstack.name" (list $root .component) -}}
{{- $mode := $cache.mode -}}
{{- $out := dict "volumes" "" "mounts" "" "claimTemplates" "" "statefulSet" false "recreate" false "pvc" "" -}}
{{- $mount := "- name: models\n  mountPath: /models" -}}
{{- $hfEnv := "- {name: HF_HOME, value: /models/huggingface}" -}}
{{- if eq $mode "image" -}}
{{- $_ := set $out "env" "- {name: HF_HUB_OFFLINE, value: \"1\"}" -}}
{{- else if eq $mode "ephemeral" -}}
{{- $_ := set $out "volumes" (printf "- name: models\n  emptyDir: {sizeLimit: %s}" $cache.size) -}}
{{- $_ := set $out "mounts" $mount -}}
{{- $_ := set $out "env" $hfEnv -}}
{{- else if eq $mode "shared" -}}
{{- $access := default "ReadWriteMany" $cache.accessMode -}}
{{- if and (eq $access "ReadWriteOnce") (gt (int .maxReplicas) 1) -}}
{{- fail (printf "%s.modelCache: mode shared with accessMode ReadWriteOnce cannot serve %d replicas (a ReadWriteOnce volume attaches to one node): use accessMode ReadWriteMany (e.g. EFS), mode perReplica, ephemeral or image, or one replica" .field (int .maxReplicas)) -}}
{{- end -}}
{{- $claim := default (printf "%s-models" $name) $cache.existingClaim -}}
{{- $_ := set $out "volumes" (printf "- name: models\n  persistentVolumeClaim: {claimName: %s}" $claim) -}}
{{- $_ := set $out "mounts" $mount -}}
{{- $_ := set $out "env" $hfEnv -}}
{{- $_ := set $out "recreate" (eq $access "ReadWriteOnce") -}}
{{- if not $cache.existingClaim -}}
{{- $_ := set $out "pvc" (dict "name" $claim "access" $access "size" $cache.size "storageClass" $cache.storageClass) -}}
{{- end -}}
{{- else if eq $mode "perReplica" -}}
{{- $sc := "" -}}
{{- if $cache.storageClass }}{{ $sc = printf "\n    storageClassName: %s" $cache.storageClass }}{{ end -}}
{{- $_ := set $out "claimTemplates" (printf "- metadata: {name: models}\n  spec:\n    accessModes: [ReadWriteOnce]%s\n    resources: {requests: {storage: %s}}" $sc $cache.size) -}}
{{- $_ := set $out "mounts" $mount -}}
{{- $_ := set $out "env" $hfEnv -}}
{{- $_ := set $out "statefulSet" true -}}
{{- else -}}
{{- fail (printf "%s.modelCache.mode: %q is not one of image, ephemeral, shared, perReplica" .field $mode) -}}
{{- end -}}
{{- toYaml $out -}}
{{- end -}}

{{/* The PersistentVolumeClaim of a shared model cache: (list $ <pvc dict from modelCache> <component>) */}}
{{- define "inferstack.modelPvc" -}}
{{- $root := index . 0 -}}
{{- $pvc := index . 1 -}}
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: {{ $pvc.name }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "inferstack.labels" (list $root (index . 2)) | nindent 4 }}
  annotations:
    helm.sh/resource-policy: keep
spec:
  accessModes: [{{ $pvc.access }}]
  {{- with $pvc.storageClass }}
  storageClassName: {{ . }}
  {{- end }}
  resources:
    requests: {storage: {{ $pvc.size }}}
{{- end -}}

{{/* startupProbe gates liveness and readiness; no initialDelaySeconds anywhere. (list <path> <startupProbe>) */}}
{{- define "inferstack.modelProbes" -}}
{{- $path := index . 0 -}}
{{- $s := index . 1 -}}
startupProbe:
  httpGet: {path: {{ $path }}, port: http}
  periodSeconds: {{ $s.periodSeconds }}
  failureThreshold: {{ $s.failureThreshold }}
  timeoutSeconds: 5
livenessProbe:
  httpGet: {path: {{ $path }}, port: http}
  periodSeconds: 15
  timeoutSeconds: 5
  failureThreshold: 4
readinessProbe:
  httpGet: {path: {{ $path }}, port: http}
  periodSeconds: 5
  timeoutSeconds: 5
  failureThreshold: 3
{{- end -}}

{{/* KEDA triggers of a model server on the vLLM metric names: (list $ <keda> <service name>) */}}
{{- define "inferstack.modelTriggers" -}}
{{- $root := index . 0 -}}
{{- $k := index . 1 -}}
{{- $sel := printf "namespace=\"%s\",service=\"%s\"" $root.Release.Namespace (index . 2) -}}
{{- include "inferstack.promTrigger" (list $k.prometheusServer "waiting" (printf "sum(vllm:num_requests_waiting{%s})" $sel) $k.waitingThreshold) }}
{{- if $k.runningThreshold }}
{{ include "inferstack.promTrigger" (list $k.prometheusServer "running" (printf "sum(vllm:num_requests_running{%s})" $sel) $k.runningThreshold) }}
{{- end }}
{{- if $k.kvCacheThreshold }}
{{ include "inferstack.promTrigger" (list $k.prometheusServer "kv-cache" (printf "avg(vllm:kv_cache_usage_perc{%s})" $sel) $k.kvCacheThreshold) }}
{{- end }}
{{- end -}}

{{/* HPA Pods metrics from a list of {name, averageValue}. */}}
{{- define "inferstack.hpaPodsMetrics" -}}
{{- range $m := . }}
- type: Pods
  pods:
    metric: {name: {{ $m.name }}}
    target: {type: AverageValue, averageValue: {{ $m.averageValue | quote }}}
{{- end }}
{{- end -}}
