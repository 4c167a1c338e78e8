{{/*
The effective inferstack.yaml: the user's `config` with the in-cluster wiring the chart owns filled in where
the user left it empty (as `inferstack up` does on one machine): the gateway's model_list, the agent's model
and MCP URLs, the knowledge embedding URL and the data directories. Hosts and ports are flags, not config.
*/}}

{{- define "inferstack.dataDir" -}}/var/lib/inferstack{{- end -}}
{{- define "inferstack.knowledgeSourceDir" -}}/var/lib/inferstack/knowledge-source{{- end -}}

{{- define "inferstack.chatModel" -}}
{{- $serve := (.Values.config | default dict).serve | default dict -}}
{{- default "smollm2-135m-instruct" $serve.served_model_name -}}
{{- end -}}

{{- define "inferstack.embeddingModel" -}}
{{- $k := (.Values.config | default dict).knowledge | default dict -}}
{{- default "all-minilm-l6-v2" $k.embedding_model -}}
{{- end -}}

{{/* One vLLM entry merged over vllm.defaults: (list $ <entry>) -> YAML. */}}
{{- define "inferstack.vllmModel" -}}
{{- $root := index . 0 -}}
{{- $m := mergeOverwrite (deepCopy $root.Values.vllm.defaults) (deepCopy (index . 1)) -}}
{{- $_ := set $m "servedModelName" (default $m.name $m.servedModelName) -}}
{{- toYaml $m -}}
{{- end -}}

{{- define "inferstack.url" -}}
{{- $root := index . 0 -}}
{{- printf "http://%s:%v%s" (include "inferstack.name" (list $root (index . 1))) (index . 2) (index . 3) -}}
{{- end -}}

{{- define "inferstack.config" -}}
{{- $root := . -}}
{{- $v := .Values -}}
{{- $cfg := deepCopy ($v.config | default dict) -}}
{{- $data := include "inferstack.dataDir" . -}}
{{- range $section := list "serve" "gateway" "agent" "knowledge" "mcp" }}
{{- if not (get $cfg $section) }}{{ $_ := set $cfg $section dict }}{{ end -}}
{{- end -}}
{{- $chat := include "inferstack.chatModel" . -}}
{{- $embedding := include "inferstack.embeddingModel" . -}}
{{- $gatewayUrl := include "inferstack.url" (list . "gateway" $v.gateway.port "/v1") -}}

{{- /* serve: the name the gateway routes to is the name the model server answers to */ -}}
{{- if not $cfg.serve.served_model_name -}}
{{- if and $cfg.serve.model (or $v.serve.enabled $v.ray.enabled) -}}
{{- fail "config.serve.model is set: also set config.serve.served_model_name, the model name clients and the gateway use" -}}
{{- end -}}
{{- $_ := set $cfg.serve "served_model_name" $chat -}}
{{- end -}}

{{- /* gateway: the model list over every model server this release runs, priced as `inferstack up` does */ -}}
{{- $gateway := $cfg.gateway -}}
{{- if not $gateway.model_list -}}
{{- $models := list -}}
{{- $upstreams := list -}}
{{- if $v.serve.enabled }}{{ $upstreams = append $upstreams (include "inferstack.url" (list . "serve" $v.serve.port "/v1")) }}{{ end -}}
{{- if $v.ray.enabled }}{{ $upstreams = append $upstreams (printf "http://%s-serve-svc:8000/v1" (include "inferstack.name" (list . "ray"))) }}{{ end -}}
{{- range $upstream := $upstreams }}
{{- $models = append $models (dict "model_name" $chat "model" $chat "api_base" $upstream "input_cost_per_token" 1e-07 "output_cost_per_token" 2e-07) -}}
{{- if ne (toString $cfg.serve.embeddings) "false" }}
{{- $models = append $models (dict "model_name" $embedding "model" $embedding "api_base" $upstream "input_cost_per_token" 2e-08) -}}
{{- end -}}
{{- end -}}
{{- range $entry := $v.vllm.models }}
{{- $m := include "inferstack.vllmModel" (list $root $entry) | fromYaml -}}
{{- $url := include "inferstack.url" (list $root (printf "vllm-%s" $m.name) $m.port "/v1") -}}
{{- $models = append $models (dict "model_name" $m.servedModelName "model" $m.servedModelName "api_base" $url) -}}
{{- end -}}
{{- $_ := set $gateway "model_list" $models -}}
{{- end -}}
{{- $_ := set $gateway "data_dir" (default (printf "%s/gateway" $data) $gateway.data_dir) -}}

{{- /* mcp */ -}}
{{- $mcp := $cfg.mcp -}}
{{- if not $mcp.filesystem }}{{ $_ := set $mcp "filesystem" dict }}{{ end -}}
{{- $_ := set $mcp.filesystem "root" (default (printf "%s/output" $data) $mcp.filesystem.root) -}}

{{- /* knowledge */ -}}
{{- $k := $cfg.knowledge -}}
{{- $_ := set $k "data_dir" (default (printf "%s/knowledge" $data) $k.data_dir) -}}
{{- $_ := set $k "embedding_base_url" (default $gatewayUrl $k.embedding_base_url) -}}
{{- $_ := set $k "embedding_model" $embedding -}}

{{- /* agent */ -}}
{{- $agent := $cfg.agent -}}
{{- $_ := set $agent "model_base_url" (default $gatewayUrl $agent.model_base_url) -}}
{{- $_ := set $agent "model" (default $chat $agent.model) -}}
{{- if not (hasKey $agent "web_search_url") -}}
{{- $_ := set $agent "web_search_url" (ternary (include "inferstack.url" (list . "mcp-web-search" $v.mcp.webSearch.port "/mcp")) "" $v.mcp.webSearch.enabled) -}}
{{- end -}}
{{- if not (hasKey $agent "filesystem_url") -}}
{{- $_ := set $agent "filesystem_url" (ternary (include "inferstack.url" (list . "mcp-filesystem" $v.mcp.filesystem.port "/mcp")) "" $v.mcp.filesystem.enabled) -}}
{{- end -}}
{{- $_ := set $agent "output_dir" (default $mcp.filesystem.root $agent.output_dir) -}}
{{- if ne $v.knowledge.source.type "sample" -}}
{{- $source := include "inferstack.knowledgeSourceDir" . -}}
{{- $_ := set $agent "embed_path" (default $source $agent.embed_path) -}}
{{- if not $agent.ingest_roots }}{{ $_ := set $agent "ingest_roots" (list $source) }}{{ end -}}
{{- end -}}
{{- /* weather chat: the gateway and the chat model, as the agent */ -}}
{{- if $v.weather.chat.enabled -}}
{{- if not $cfg.weather }}{{ $_ := set $cfg "weather" dict }}{{ end -}}
{{- $_ := set $cfg.weather "model_base_url" (default $gatewayUrl $cfg.weather.model_base_url) -}}
{{- $_ := set $cfg.weather "model" (default $chat $cfg.weather.model) -}}
{{- end -}}
{{- /* document processing: the gateway and the chat model; its SQLite file on the data volume */ -}}
{{- if $v.idp.enabled -}}
{{- if not $cfg.idp }}{{ $_ := set $cfg "idp" dict }}{{ end -}}
{{- $_ := set $cfg.idp "model_base_url" (default $gatewayUrl $cfg.idp.model_base_url) -}}
{{- $_ := set $cfg.idp "model" (default $chat $cfg.idp.model) -}}
{{- $_ := set $cfg.idp "database" (default (printf "%s/idp/idp.sqlite3" $data) $cfg.idp.database) -}}
{{- end -}}
{{- toYaml $cfg -}}
{{- end -}}

{{- define "inferstack.configYaml" -}}
# inferstack.yaml rendered by the inferstack chart: the stack config with the in-cluster wiring filled in.
{{ include "inferstack.config" . }}
{{- end -}}

{{/* The knowledge store lives in one agent pod (Milvus Lite .db file, or memory) unless it is OpenSearch or a
Milvus server URL. */}}
{{- define "inferstack.milvusLite" -}}
{{- $k := (.Values.config | default dict).knowledge | default dict -}}
{{- $store := toString (default "milvus" $k.store) -}}
{{- $uri := toString (default "" $k.milvus_uri) -}}
{{- if eq $store "memory" }}true{{ else if and (eq $store "milvus") (not (regexMatch "^(https?|tcp|grpc)://" $uri)) }}true{{ end -}}
{{- end -}}
