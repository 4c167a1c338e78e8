{{/*
One inferstack service as Kubernetes objects: ServiceAccount, Deployment (or StatefulSet), Service, PDB and,
when asked, a ServiceMonitor. Every component template builds a spec dict and includes "inferstack.workload":
  root, component, c (component values), image (images entry), command (list), port,
  probes (YAML string), env (YAML string of extra env), secretEnv (secret set name),
  volumes / mounts (YAML strings, besides config, /tmp and the data dir), dataVolume (volume source of the data
  dir /var/lib/inferstack, default an emptyDir), statefulSet (bool), claimTemplates (YAML string),
  recreate (bool), podAnnotations (dict), podLabels (dict), serviceAnnotations (dict),
  configSections (the inferstack.yaml sections the pod reads: its checksum rolls the pods), noConfig (bool: the
  pod reads no inferstack.yaml, e.g. upstream vLLM, so none is mounted)
*/}}
{{- define "inferstack.workload" -}}
{{- $root := .root -}}
{{- $c := .c -}}
{{- $name := include "inferstack.name" (list $root .component) -}}
{{- $autoscaled := include "inferstack.autoscaled" (list .component $c.autoscaling) -}}
{{- $maxReplicas := int (include "inferstack.maxReplicas" (list $c.replicas $c.autoscaling)) -}}
{{- if (($c.serviceAccount | default dict).create) }}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ include "inferstack.serviceAccountName" (list $root .component $c) }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "inferstack.labels" (list $root .component) | nindent 4 }}
  {{- with $c.serviceAccount.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
automountServiceAccountToken: {{ $c.serviceAccount.automountToken | default false }}
---
{{- end }}
apiVersion: apps/v1
kind: {{ ternary "StatefulSet" "Deployment" (.statefulSet | default false) }}
metadata:
  name: {{ $name }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "inferstack.labels" (list $root .component) | nindent 4 }}
spec:
  {{- if not $autoscaled }}
  replicas: {{ $c.replicas }}
  {{- end }}
  revisionHistoryLimit: 5
  {{- if .statefulSet }}
  serviceName: {{ $name }}-headless
  podManagementPolicy: Parallel
  {{- else if .recreate }}
  {{- include "inferstack.rwoStrategy" . | nindent 2 }}
  {{- end }}
  selector:
    matchLabels:
      {{- include "inferstack.selectorLabels" (list $root .component) | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "inferstack.labels" (list $root .component) | nindent 8 }}
        {{- with (merge (dict) (.podLabels | default dict) ($root.Values.global.podLabels | default dict)) }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      annotations:
        {{- include "inferstack.podAnnotations" (list $root (dict "podAnnotations" (merge (dict) (.podAnnotations | default dict) ($c.podAnnotations | default dict))) (ternary list (.configSections | default list) (.noConfig | default false))) | nindent 8 }}
    spec:
      serviceAccountName: {{ include "inferstack.serviceAccountName" (list $root .component $c) }}
      automountServiceAccountToken: {{ ($c.serviceAccount | default dict).automountToken | default false }}
      enableServiceLinks: false
      terminationGracePeriodSeconds: {{ $c.terminationGracePeriodSeconds }}
      securityContext:
        {{- include "inferstack.podSecurityContext" $root | nindent 8 }}
      {{- include "inferstack.imagePullSecrets" $root | nindent 6 }}
      {{- include "inferstack.scheduling" (list $root $c) | nindent 6 }}
      containers:
        - name: {{ .component }}
          image: {{ include "inferstack.image" (list $root .image) | quote }}
          imagePullPolicy: {{ .image.pullPolicy | default "IfNotPresent" }}
          {{- if .rawCommand }}
          command:
            {{- toYaml .rawCommand | nindent 12 }}
          {{- end }}
          args:
            {{- toYaml .command | nindent 12 }}
          ports:
            - {name: http, containerPort: {{ .port }}, protocol: TCP}
          env:
            - {name: HOME, value: /var/lib/inferstack}
            - {name: PYTHONUNBUFFERED, value: "1"}
            {{- with .env }}
            {{- . | nindent 12 }}
            {{- end }}
            {{- if .secretEnv }}
            {{- include "inferstack.secretEnv" (list $root .secretEnv) | nindent 12 }}
            {{- end }}
            {{- with $c.extraEnv }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          {{- .probes | nindent 10 }}
          {{- with $c.resources }}
          resources:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          securityContext:
            {{- include "inferstack.containerSecurityContext" $root | nindent 12 }}
          volumeMounts:
            {{- if not .noConfig }}
            {{- include "inferstack.configMount" $root | nindent 12 }}
            {{- end }}
            {{- include "inferstack.tmpMount" $root | nindent 12 }}
            - {name: data, mountPath: /var/lib/inferstack}
            {{- with .mounts }}
            {{- . | nindent 12 }}
            {{- end }}
      volumes:
        {{- if not .noConfig }}
        {{- include "inferstack.configVolume" $root | nindent 8 }}
        {{- end }}
        {{- include "inferstack.tmpVolume" $root | nindent 8 }}
        - name: data
          {{- .dataVolume | default "emptyDir: {sizeLimit: 10Gi}" | nindent 10 }}
        {{- with .volumes }}
        {{- . | nindent 8 }}
        {{- end }}
  {{- with .claimTemplates }}
  volumeClaimTemplates:
    {{- . | nindent 4 }}
  {{- end }}
---
apiVersion: v1
kind: Service
metadata:
  name: {{ $name }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "inferstack.labels" (list $root .component) | nindent 4 }}
  {{- with .serviceAnnotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  type: ClusterIP
  selector:
    {{- include "inferstack.selectorLabels" (list $root .component) | nindent 4 }}
  ports:
    - {name: http, port: {{ .port }}, targetPort: http, protocol: TCP}
{{- if .statefulSet }}
---
apiVersion: v1
kind: Service
metadata:
  name: {{ $name }}-headless
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "inferstack.labels" (list $root .component) | nindent 4 }}
    inferstack.io/headless: "true"   # kept out of the ServiceMonitor: each pod is scraped once
spec:
  clusterIP: None
  publishNotReadyAddresses: true
  selector:
    {{- include "inferstack.selectorLabels" (list $root .component) | nindent 4 }}
  ports:
    - {name: http, port: {{ .port }}, targetPort: http, protocol: TCP}
{{- end }}
{{- if and ($c.pdb | default dict).enabled (gt $maxReplicas 1) }}
---
# maxUnavailable 1: a drain never waits on this budget for a single replica.
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ $name }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "inferstack.labels" (list $root .component) | nindent 4 }}
spec:
  maxUnavailable: 1
  selector:
    matchLabels:
      {{- include "inferstack.selectorLabels" (list $root .component) | nindent 6 }}
{{- end }}
{{- if $root.Values.monitoring.serviceMonitor.enabled }}
---
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: {{ $name }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "inferstack.labels" (list $root .component) | nindent 4 }}
    {{- with $root.Values.monitoring.labels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  selector:
    matchLabels:
      {{- include "inferstack.selectorLabels" (list $root .component) | nindent 6 }}
    matchExpressions:
      - {key: inferstack.io/headless, operator: DoesNotExist}
  endpoints:
    - {port: http, path: /metrics, interval: {{ $root.Values.monitoring.serviceMonitor.interval }}}
{{- end }}
{{- end -}}

{{/*
HPA or KEDA ScaledObject for a workload: dict root, component, c, kind (Deployment|StatefulSet),
hpaMetrics (YAML list of HPA metric specs), triggers (YAML list of KEDA triggers).
*/}}
{{- define "inferstack.autoscaler" -}}
{{- $root := .root -}}
{{- $c := .c -}}
{{- $name := include "inferstack.name" (list $root .component) -}}
{{- $hpa := ($c.autoscaling | default dict).hpa | default dict -}}
{{- $keda := ($c.autoscaling | default dict).keda | default dict -}}
{{- if $hpa.enabled }}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ $name }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "inferstack.labels" (list $root .component) | nindent 4 }}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: {{ .kind | default "Deployment" }}, name: {{ $name }}}
  minReplicas: {{ $hpa.minReplicas }}
  maxReplicas: {{ $hpa.maxReplicas }}
  metrics:
    {{- .hpaMetrics | nindent 4 }}
  behavior:
    scaleDown: {stabilizationWindowSeconds: 300}
{{- else if $keda.enabled }}
---
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata:
  name: {{ $name }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "inferstack.labels" (list $root .component) | nindent 4 }}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: {{ .kind | default "Deployment" }}, name: {{ $name }}}
  minReplicaCount: {{ $keda.minReplicas }}
  maxReplicaCount: {{ $keda.maxReplicas }}
  pollingInterval: {{ $keda.pollingInterval }}
  cooldownPeriod: {{ $keda.cooldownPeriod }}
  triggers:
    {{- .triggers | nindent 4 }}
{{- end }}
{{- end -}}

{{/* A KEDA Prometheus trigger: (list <server> <metric name> <query> <threshold>) */}}
{{- define "inferstack.promTrigger" -}}
- type: prometheus
  name: {{ index . 1 }}
  metadata:
    serverAddress: {{ index . 0 | quote }}
    query: {{ index . 2 | quote }}
    threshold: {{ index . 3 | quote }}
    ignoreNullValues: "true"
{{- end -}}
