package actions

import (
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
)

// FuzzParseHookManifest: any input either fails to parse or yields a hook
// that satisfies every manifest rule, whose parameters map to distinct
// environment variables, and that survives a round trip through YAML.
func FuzzParseHookManifest(f *testing.F) {
	sum := strings.Repeat("ab", 32)
	for _, seed := range []string{
		"name: backup\ncommand: /usr/local/bin/backup\nchecksum: " + sum + "\n",
		"name: b\ndescription: d\ncommand: /x\nchecksum: " + sum + "\ntimeout: 5m\nparameters:\n  - {name: a-b, type: int, required: true, description: x}\n",
		"name: b\ncommand: /x\nchecksum: " + sum + "\nparameters: [{name: a}, {name: A}]\n",
		"name: b\ncommand: /x/../y\nchecksum: " + sum + "\n",
		"---\nname: a\n---\nname: b\n",
		"name: [1, 2]\n",
		"&a [*a]",
		"",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := ParseHookManifest(data)
		if err != nil {
			return
		}
		if !validName(h.Name) || !nodeproto.ValidChecksum(h.Checksum) || !strings.HasPrefix(h.Command, "/") ||
			h.Timeout < 0 || h.Timeout > nodeproto.MaxActionTimeout || len(h.Params) > maxHookParams {
			t.Fatalf("accepted an invalid hook %+v", h)
		}
		envs := map[string]bool{}
		m := HookManifest{Name: h.Name, Description: h.Description, Command: h.Command, Checksum: h.Checksum}
		if h.Timeout > 0 {
			m.Timeout = h.Timeout.String()
		}
		for _, p := range h.Params {
			if envs[ParamEnv(p.Name)] || p.Type == "" {
				t.Fatalf("parameter %+v: duplicate variable or no type", p)
			}
			envs[ParamEnv(p.Name)] = true
			m.Parameters = append(m.Parameters, HookParam{Name: p.Name, Type: p.Type, Required: p.Required, Description: p.Description})
		}
		raw, err := yaml.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParseHookManifest(raw)
		if err != nil || !reflect.DeepEqual(back, h) {
			t.Fatalf("round trip: %v\n%s\n%+v\n%+v", err, raw, back, h)
		}
	})
}
