package config

import (
	"maps"
	"strings"
	"testing"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
)

func TestAccessDefaults(t *testing.T) {
	cfg, err := Load(Sources{File: writeFile(t, ""), Hostname: host})
	if err != nil {
		t.Fatal(err)
	}
	a := cfg.Access
	if a.Port != nodeproto.DefaultAccessPort || len(a.SSHUsers) != 0 || a.RecordingMax != DefaultAccessRecordingMax || a.KubeAPI != "" {
		t.Errorf("defaults %+v", a)
	}
}

// TestAccessLayers: the file's YAML list, the environment's and the
// flag's strings, flags winning; port 0 disables.
func TestAccessLayers(t *testing.T) {
	file := writeFile(t, `
access_port: 7001
access_ssh_users: [alice, ops=deploy]
access_kube_api: https://10.0.0.1:6443
access_kube_token_file: /run/token
access_recording_max: 1MiB
`)
	cfg, err := Load(Sources{File: file, Hostname: host})
	if err != nil {
		t.Fatal(err)
	}
	a := cfg.Access
	if a.Port != 7001 || !maps.Equal(a.SSHUsers, map[string]string{"alice": "alice", "ops": "deploy"}) ||
		a.KubeAPI != "https://10.0.0.1:6443" || a.KubeTokenFile != "/run/token" || a.RecordingMax != 1<<20 {
		t.Errorf("file layer %+v", a)
	}
	cfg, err = Load(Sources{File: file, Hostname: host,
		Env:   env(map[string]string{"PLEXD_ACCESS_SSH_USERS": "bob", "PLEXD_ACCESS_RECORDING_MAX": "65536"}),
		Flags: map[Key]string{KeyAccessPort: "0", KeyAccessKubeCAFile: "/ca.pem"}})
	if err != nil {
		t.Fatal(err)
	}
	a = cfg.Access
	if a.Port != 0 || !maps.Equal(a.SSHUsers, map[string]string{"bob": "bob"}) || a.RecordingMax != 65536 || a.KubeCAFile != "/ca.pem" {
		t.Errorf("env and flags %+v", a)
	}
}

func TestAccessValidation(t *testing.T) {
	for name, c := range map[string]struct {
		flags map[Key]string
		want  string
	}{
		"port":           {map[Key]string{KeyAccessPort: "70000"}, "access_port"},
		"port word":      {map[Key]string{KeyAccessPort: "ssh"}, "access_port"},
		"bad local user": {map[Key]string{KeyAccessSSHUsers: "alice=ro:ot"}, "access_ssh_users"},
		"empty target":   {map[Key]string{KeyAccessSSHUsers: "=root"}, "access_ssh_users"},
		"mapped twice":   {map[Key]string{KeyAccessSSHUsers: "a=b,a=c"}, "access_ssh_users"},
		"kube url":       {map[Key]string{KeyAccessKubeAPI: "10.0.0.1:6443"}, "access_kube_api"},
		"tiny recording": {map[Key]string{KeyAccessRecordingMax: "100"}, "access_recording_max"},
		"bad unit":       {map[Key]string{KeyAccessRecordingMax: "5TB"}, "access_recording_max"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Load(Sources{File: writeFile(t, ""), Flags: c.flags, Hostname: host})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err %v, want one naming %q", err, c.want)
			}
		})
	}
}
