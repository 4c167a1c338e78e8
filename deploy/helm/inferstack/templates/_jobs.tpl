{{/* The migration hook runs when the gateway is on, migrateJob.enabled, and the key store is PostgreSQL (a SQLite
file lives in one pod, which migrates it itself at start). */}}
{{- define "inferstack.migrateJob" -}}
{{- $dbUrl := toString (dig "gateway" "database_url" "" (.Values.config | default dict)) -}}
{{- if and .Values.gateway.enabled .Values.gateway.migrateJob.enabled (or (include "inferstack.hasSecret" (list . "databaseUrl")) (hasPrefix "postgres" $dbUrl)) }}true{{ end -}}
{{- end -}}

{{/* A Job's pod spec: (dict root, component, args, secretEnv, restartPolicy, volumes, mounts, configMap) */}}
{{- define "inferstack.jobPod" -}}
{{- $root := .root -}}
metadata:
  labels:
    {{- include "inferstack.labels" (list $root .component) | nindent 4 }}
spec:
  restartPolicy: Never
  automountServiceAccountToken: false
  enableServiceLinks: false
  securityContext:
    {{- include "inferstack.podSecurityContext" $root | nindent 4 }}
  {{- include "inferstack.imagePullSecrets" $root | nindent 2 }}
  {{- include "inferstack.scheduling" (list $root $root.Values.gateway) | nindent 2 }}
  containers:
    - name: {{ .component }}
      image: {{ include "inferstack.image" (list $root $root.Values.images.core) | quote }}
      imagePullPolicy: {{ $root.Values.images.core.pullPolicy }}
      args:
        {{- toYaml .args | nindent 8 }}
      env:
        - {name: HOME, value: /var/lib/inferstack}
        {{- include "inferstack.secretEnv" (list $root .secretEnv) | nindent 8 }}
      resources:
        requests: {cpu: 100m, memory: 256Mi}
        limits: {memory: 512Mi}
      securityContext:
        {{- include "inferstack.containerSecurityContext" $root | nindent 8 }}
      volumeMounts:
        - {name: config, mountPath: /etc/inferstack, readOnly: true}
        - {name: tmp, mountPath: /tmp}
        - {name: data, mountPath: /var/lib/inferstack}
  volumes:
    - name: config
      configMap: {name: {{ .configMap }}}
    - name: tmp
      emptyDir: {sizeLimit: 1Gi}
    - name: data
      emptyDir: {sizeLimit: 1Gi}
{{- end -}}
