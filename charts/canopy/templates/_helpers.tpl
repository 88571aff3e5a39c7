{{/* The release's full name, at most 63 characters. */}}
{{- define "canopy.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Labels every object carries. */}}
{{- define "canopy.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* The labels the Deployment selects its pods by. */}}
{{- define "canopy.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* The ServiceAccount the controller runs as. */}}
{{- define "canopy.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "canopy.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The rules on the namespaced kinds and events (a ClusterRole's or a Role's). */}}
{{- define "canopy.namespacedRules" -}}
- apiGroups: ["canopy.dev"]
  resources: ["accounts", "accountgroups", "serviceplans"]
  verbs: ["get", "list", "watch", "patch"]
- apiGroups: ["canopy.dev"]
  resources: ["accounts/status", "accountgroups/status", "serviceplans/status"]
  verbs: ["patch"]
- apiGroups: ["canopy.dev"]
  resources: ["accounts/finalizers", "accountgroups/finalizers", "serviceplans/finalizers"]
  verbs: ["update"]
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- end -}}
