{{/* Chart name, cut to the 63 characters a label value may hold. */}}
{{- define "driftwarden.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name of the release's objects: the release name, plus the chart name unless it holds it. */}}
{{- define "driftwarden.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Chart name and version for the helm.sh/chart label. */}}
{{- define "driftwarden.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The recommended app.kubernetes.io labels of every object. */}}
{{- define "driftwarden.labels" -}}
helm.sh/chart: {{ include "driftwarden.chart" . }}
{{ include "driftwarden.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: monitor
app.kubernetes.io/part-of: driftwarden
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* The labels that select the release's pods; never change them (selectors are immutable). */}}
{{- define "driftwarden.selectorLabels" -}}
app.kubernetes.io/name: {{ include "driftwarden.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "driftwarden.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "driftwarden.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "driftwarden.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* Where the chart mounts things in the container. */}}
{{- define "driftwarden.configDir" -}}/etc/driftwarden/config{{- end }}
{{- define "driftwarden.baselinesDir" -}}/etc/driftwarden/baselines{{- end }}
{{- define "driftwarden.dataDir" -}}/var/lib/driftwarden{{- end }}
{{- define "driftwarden.tlsDir" -}}/etc/driftwarden/kafka-tls{{- end }}

{{/* The daemon's HTTP port, from config.daemon.http_port (default 8000). */}}
{{- define "driftwarden.httpPort" -}}
{{- dig "daemon" "http_port" 8000 .Values.config }}
{{- end }}

{{/* The baselines volume: the chart's ConfigMap of baselines.files, baselines.volume, or baselines.configMap. */}}
{{- define "driftwarden.baselinesVolume" -}}
{{- if .Values.baselines.files }}
configMap:
  name: {{ include "driftwarden.fullname" . }}-baselines
{{- else if .Values.baselines.volume }}
{{- toYaml .Values.baselines.volume }}
{{- else if .Values.baselines.configMap }}
configMap:
  name: {{ .Values.baselines.configMap }}
{{- end }}
{{- end }}

{{/*
What makes more than one pod run, as words for messages ("replicaCount is 3"); empty for one pod.
*/}}
{{- define "driftwarden.scaledOutBy" -}}
{{- if .Values.keda.enabled }}keda.enabled is true
{{- else if .Values.autoscaling.enabled }}autoscaling.enabled is true
{{- else if gt (int .Values.replicaCount) 1 }}replicaCount is {{ .Values.replicaCount }}
{{- end }}
{{- end }}

{{/*
"true" when the pods run the daemon's two stages apart through Kafka (exchange mode,
docs/scale-out.md): config.exchange.enabled when the values set it, otherwise whenever more
than one pod can run. Empty otherwise.
*/}}
{{- define "driftwarden.exchange" -}}
{{- $exchange := dig "exchange" (dict) .Values.config | default (dict) }}
{{- if hasKey $exchange "enabled" }}
{{- if $exchange.enabled }}true{{ end }}
{{- else if include "driftwarden.scaledOutBy" . }}true
{{- end }}
{{- end }}

{{/* Merge the fields of .fields into section .name of the config mapping .config, in place. */}}
{{- define "driftwarden.setFields" -}}
{{- $section := dig .name (dict) .config | default (dict) }}
{{- $_ := set .config .name (mergeOverwrite $section .fields) }}
{{- end }}

{{/*
driftwarden.yaml: config from values, plus what the chart owns (the checkpoint on the data
volume, the HTTP address, the TLS file paths of kafkaTls, exchange mode for several pods).
*/}}
{{- define "driftwarden.config" -}}
{{- $config := deepCopy .Values.config }}
{{- $daemon := dict "http_host" "0.0.0.0" "checkpoint_path" (printf "%s/checkpoint.json" (include "driftwarden.dataDir" .)) }}
{{- include "driftwarden.setFields" (dict "config" $config "name" "daemon" "fields" $daemon) }}
{{- if .Values.kafkaTls.secretName }}
{{- $tls := dict }}
{{- $dir := include "driftwarden.tlsDir" . }}
{{- range $field, $key := dict "ssl_cafile" .Values.kafkaTls.caKey "ssl_certfile" .Values.kafkaTls.certKey "ssl_keyfile" .Values.kafkaTls.keyKey }}
{{- if $key }}
{{- $_ := set $tls $field (printf "%s/%s" $dir $key) }}
{{- end }}
{{- end }}
{{- include "driftwarden.setFields" (dict "config" $config "name" "kafka" "fields" $tls) }}
{{- end }}
{{- if include "driftwarden.exchange" . }}
{{- include "driftwarden.setFields" (dict "config" $config "name" "exchange" "fields" (dict "enabled" true)) }}
{{- end }}
{{- toYaml $config }}
{{- end }}

{{/*
One KEDA Kafka trigger: the lag of consumer group .group on .topic, aiming at .lagThreshold per
pod; with allowIdleConsumers false it never asks for more pods than the topic has partitions.
*/}}
{{- define "driftwarden.kafkaTrigger" -}}
- type: kafka
  metadata:
    bootstrapServers: {{ join "," (.root.Values.config.kafka.bootstrap_servers | default (list "127.0.0.1:9092")) | quote }}
    consumerGroup: {{ .group | quote }}
    topic: {{ .topic | quote }}
    lagThreshold: {{ .lagThreshold | quote }}
    allowIdleConsumers: "false"
  {{- with .root.Values.keda.triggerAuthenticationName }}
  authenticationRef:
    name: {{ . }}
  {{- end }}
{{- end }}

{{/* Refuse combinations that cannot work, with one line naming the values and the fix. */}}
{{- define "driftwarden.validate" -}}
{{- if and .Values.keda.enabled .Values.autoscaling.enabled }}
{{- fail "keda.enabled and autoscaling.enabled are both true; KEDA creates its own HPA, so enable only one of them" }}
{{- end }}
{{- range $field := list "checkpoint_path" "http_host" }}
{{- if hasKey (dig "daemon" (dict) $.Values.config | default (dict)) $field }}
{{- fail (printf "config.daemon.%s is set by the chart (checkpoints go to the data volume at %s, the endpoints listen on 0.0.0.0); remove it from the values" $field (include "driftwarden.dataDir" $)) }}
{{- end }}
{{- end }}
{{- $scaledOutBy := include "driftwarden.scaledOutBy" . }}
{{- if and $scaledOutBy (not (include "driftwarden.exchange" .)) }}
{{- fail (printf "config.exchange.enabled is false, but %s: without the exchange every pod judges only its own share of the traffic; remove config.exchange.enabled (the chart turns it on for several pods) or run one pod (replicaCount: 1, autoscaling and keda off)" $scaledOutBy) }}
{{- end }}
{{- if and (include "driftwarden.exchange" .) (not .Values.staticMembership) }}
{{- fail "staticMembership is false, but exchange mode needs each pod's name as its kafka.group_instance_id (it names the pod's transactional producers); set staticMembership: true" }}
{{- end }}
{{- if and .Values.kafkaCredentials.saslPassword.secretName (dig "kafka" "sasl_password_file" "" .Values.config) }}
{{- fail "kafkaCredentials.saslPassword.secretName and config.kafka.sasl_password_file are both set; the daemon takes one SASL password, so keep only one of them" }}
{{- end }}
{{- end }}
