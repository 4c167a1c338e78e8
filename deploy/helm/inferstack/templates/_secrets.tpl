{{/*
Secret references. Each secrets.<entry> names an existing Secret and key; with dev.inlineSecrets an entry given
in dev.secrets points at the chart's development Secret instead. Nothing here generates a value.
The environment variable of each entry, per component:
*/}}
{{- define "inferstack.secretEnvNames" -}}
gateway:
  - [gatewayMasterKey, INFERSTACK_GATEWAY_MASTER_KEY]
  - [databaseUrl, INFERSTACK_GATEWAY_DATABASE_URL]
  - [redisUrl, INFERSTACK_GATEWAY_CACHE__REDIS_URL]
agent:
  - [agentApiKey, INFERSTACK_AGENT_API_KEY]
  - [agentApiKey, INFERSTACK_KNOWLEDGE_EMBEDDING_API_KEY]
  - [agentServerApiKey, INFERSTACK_AGENT_SERVER_API_KEY]
  - [agentRedisUrl, INFERSTACK_AGENT_SESSION_STORE__REDIS_URL]
  - [milvusToken, INFERSTACK_KNOWLEDGE_MILVUS_TOKEN]
  - [opensearchUsername, INFERSTACK_KNOWLEDGE_OPENSEARCH_USERNAME]
  - [opensearchPassword, INFERSTACK_KNOWLEDGE_OPENSEARCH_PASSWORD]
ingest:
  - [agentServerApiKey, INFERSTACK_AGENT_SERVER_API_KEY]
webSearch:
  - [tavilyApiKey, TAVILY_API_KEY]
modelServer:
  - [huggingFaceToken, HF_TOKEN]
weatherChat:
  - [weatherChatApiKey, INFERSTACK_WEATHER_API_KEY]
idp:
  - [idpApiKey, INFERSTACK_IDP_API_KEY]
  - [idpServerApiKey, INFERSTACK_IDP_SERVER_API_KEY]
  - [idpDatabaseUrl, INFERSTACK_IDP_DATABASE_URL]
{{- end -}}

{{- define "inferstack.devSecretName" -}}{{ include "inferstack.name" (list . "dev-secrets") }}{{- end -}}

{{/* env entries for (list $ "<component>") */}}
{{- define "inferstack.secretEnv" -}}
{{- $root := index . 0 -}}
{{- $names := include "inferstack.secretEnvNames" $root | fromYaml -}}
{{- range $pair := get $names (index . 1) }}
{{- $entry := index $pair 0 -}}
{{- $ref := get $root.Values.secrets $entry | default dict -}}
{{- $dev := get ($root.Values.dev.secrets | default dict) $entry -}}
{{- if $ref.name }}
- name: {{ index $pair 1 }}
  valueFrom:
    secretKeyRef: {name: {{ $ref.name | quote }}, key: {{ $ref.key | quote }}}
{{- else if and $root.Values.dev.inlineSecrets $dev }}
- name: {{ index $pair 1 }}
  valueFrom:
    secretKeyRef: {name: {{ include "inferstack.devSecretName" $root | quote }}, key: {{ $entry | quote }}}
{{- end }}
{{- end }}
{{- end -}}

{{/* True when an entry has a value from either source: (list $ "<entry>") */}}
{{- define "inferstack.hasSecret" -}}
{{- $root := index . 0 -}}
{{- $ref := get $root.Values.secrets (index . 1) | default dict -}}
{{- if or $ref.name (and $root.Values.dev.inlineSecrets (get ($root.Values.dev.secrets | default dict) (index . 1))) }}true{{ end -}}
{{- end -}}
