package config

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestTelemetryDefaults(t *testing.T) {
	cfg, err := Load(Sources{File: writeFile(t, ""), Hostname: host})
	if err != nil {
		t.Fatal(err)
	}
	tc := cfg.Telemetry
	if tc.Disabled || tc.MetricsInterval != time.Minute || tc.LogsInterval != 30*time.Second || tc.AuditInterval != 15*time.Second ||
		len(tc.JournaldUnits) != 0 || tc.AuditLog != DefaultTelemetryAuditLog || tc.QueueMax != DefaultTelemetryQueueMax ||
		tc.KubeAuditLog != "" {
		t.Errorf("defaults %+v", tc)
	}
}

// TestTelemetryLayers: YAML in the file, strings in the environment and
// flags, flags winning.
func TestTelemetryLayers(t *testing.T) {
	file := writeFile(t, `
telemetry_metrics_interval: 2m
telemetry_journald_units: [sshd, nginx.service]
telemetry_audit_log: "off"
telemetry_queue_max: 8MiB
telemetry_kube_audit_log: /var/log/kubernetes/audit.log
`)
	cfg, err := Load(Sources{File: file, Hostname: host})
	if err != nil {
		t.Fatal(err)
	}
	tc := cfg.Telemetry
	if tc.MetricsInterval != 2*time.Minute || !slices.Equal(tc.JournaldUnits, []string{"sshd", "nginx.service"}) ||
		tc.AuditLog != "" || tc.QueueMax != 8<<20 || tc.KubeAuditLog != "/var/log/kubernetes/audit.log" {
		t.Errorf("file layer %+v", tc)
	}
	cfg, err = Load(Sources{File: file, Hostname: host,
		Env: env(map[string]string{"PLEXD_TELEMETRY_JOURNALD_UNITS": "cron", "PLEXD_TELEMETRY_DISABLED": "true",
			"PLEXD_TELEMETRY_KUBE_AUDIT_LOG": "/srv/kube-audit.log"}),
		Flags: map[Key]string{KeyTelemetryDisabled: "false", KeyTelemetryAuditLog: "/srv/audit.log", KeyTelemetryLogsInterval: "5s"}})
	if err != nil {
		t.Fatal(err)
	}
	tc = cfg.Telemetry
	if tc.Disabled || !slices.Equal(tc.JournaldUnits, []string{"cron"}) || tc.AuditLog != "/srv/audit.log" || tc.LogsInterval != 5*time.Second ||
		tc.KubeAuditLog != "/srv/kube-audit.log" {
		t.Errorf("env and flags %+v", tc)
	}
}

func TestTelemetryInvalid(t *testing.T) {
	for k, v := range map[Key]string{
		KeyTelemetryDisabled:        "maybe",
		KeyTelemetryMetricsInterval: "500ms",
		KeyTelemetryLogsInterval:    "-1s",
		KeyTelemetryAuditInterval:   "soon",
		KeyTelemetryJournaldUnits:   "sshd,--all",
		KeyTelemetryAuditLog:        "relative/audit.log",
		KeyTelemetryKubeAuditLog:    "audit.log",
		KeyTelemetryQueueMax:        "1KiB",
	} {
		_, err := Load(Sources{File: writeFile(t, ""), Hostname: host, Flags: map[Key]string{k: v}})
		if err == nil || !strings.Contains(err.Error(), string(k)) {
			t.Errorf("%s=%q: %v", k, v, err)
		}
	}
}
