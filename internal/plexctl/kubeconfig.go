package plexctl

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"gopkg.in/yaml.v3"
)

// kubeEntry is what 'kube login' writes: a cluster, a user and a context,
// all named name.
type kubeEntry struct {
	name    string
	server  string
	caData  string
	command string
	args    []string
	env     map[string]string
}

// The kubeconfig shapes written (k8s.io/client-go/tools/clientcmd/api/v1).
type (
	kubeNamedCluster struct {
		Name    string      `yaml:"name"`
		Cluster kubeCluster `yaml:"cluster"`
	}
	kubeCluster struct {
		Server                   string `yaml:"server"`
		CertificateAuthorityData string `yaml:"certificate-authority-data,omitempty"`
	}
	kubeNamedUser struct {
		Name string   `yaml:"name"`
		User kubeUser `yaml:"user"`
	}
	kubeUser struct {
		Exec kubeExec `yaml:"exec"`
	}
	kubeExec struct {
		APIVersion         string       `yaml:"apiVersion"`
		Command            string       `yaml:"command"`
		Args               []string     `yaml:"args"`
		Env                []kubeEnvVar `yaml:"env"`
		InteractiveMode    string       `yaml:"interactiveMode"`
		ProvideClusterInfo bool         `yaml:"provideClusterInfo"`
	}
	kubeEnvVar struct {
		Name  string `yaml:"name"`
		Value string `yaml:"value"`
	}
	kubeNamedContext struct {
		Name    string      `yaml:"name"`
		Context kubeContext `yaml:"context"`
	}
	kubeContext struct {
		Cluster string `yaml:"cluster"`
		User    string `yaml:"user"`
	}
)

func (e kubeEntry) cluster() kubeNamedCluster {
	return kubeNamedCluster{Name: e.name, Cluster: kubeCluster{Server: e.server, CertificateAuthorityData: e.caData}}
}

func (e kubeEntry) user() kubeNamedUser {
	env := make([]kubeEnvVar, 0, len(e.env))
	for k, v := range e.env {
		env = append(env, kubeEnvVar{Name: k, Value: v})
	}
	sort.Slice(env, func(i, j int) bool { return env[i].Name < env[j].Name })
	return kubeNamedUser{Name: e.name, User: kubeUser{Exec: kubeExec{
		APIVersion: execCredentialAPIVersion, Command: e.command, Args: e.args, Env: env,
		InteractiveMode: "Never",
	}}}
}

func (e kubeEntry) context() kubeNamedContext {
	return kubeNamedContext{Name: e.name, Context: kubeContext{Cluster: e.name, User: e.name}}
}

// mergeKubeconfig upserts e into the kubeconfig at path (created when
// missing), keeping every other entry, key and comment, and writes it
// back with mode 0600.
func mergeKubeconfig(path string, e kubeEntry, setCurrent bool) error {
	doc, err := loadKubeconfig(path)
	if err != nil {
		return err
	}
	root := doc.Content[0]
	for _, u := range []struct {
		list  string
		value any
	}{{"clusters", e.cluster()}, {"users", e.user()}, {"contexts", e.context()}} {
		if err := upsertNamed(root, u.list, e.name, u.value); err != nil {
			return fmt.Errorf("kubeconfig %s: %w", path, err)
		}
	}
	if setCurrent {
		setMapValue(root, "current-context", &yaml.Node{Kind: yaml.ScalarNode, Value: e.name})
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("kubeconfig %s: %w", path, err)
	}
	if err := enc.Close(); err != nil {
		return fmt.Errorf("kubeconfig %s: %w", path, err)
	}
	if real, err := filepath.EvalSymlinks(path); err == nil {
		path = real
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("write kubeconfig: %w", err)
	}
	if err := writeFileAtomic(path, buf.Bytes(), 0o600); err != nil {
		return fmt.Errorf("write kubeconfig: %w", err)
	}
	return nil
}

// loadKubeconfig parses path as a YAML document whose root is a mapping;
// a missing or empty file is a new, empty kubeconfig.
func loadKubeconfig(path string) (*yaml.Node, error) {
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read kubeconfig: %w", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %w", path, err)
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return newKubeconfig(), nil
	}
	if doc.Kind != yaml.DocumentNode || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("kubeconfig %s: not a kubeconfig (its root is not a mapping)", path)
	}
	return &doc, nil
}

func newKubeconfig() *yaml.Node {
	root := &yaml.Node{Kind: yaml.MappingNode}
	setMapValue(root, "apiVersion", &yaml.Node{Kind: yaml.ScalarNode, Value: "v1"})
	setMapValue(root, "kind", &yaml.Node{Kind: yaml.ScalarNode, Value: "Config"})
	setMapValue(root, "preferences", &yaml.Node{Kind: yaml.MappingNode})
	return &yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{root}}
}

// mapValue returns the value of key in mapping m, or nil.
func mapValue(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// setMapValue sets key in mapping m to v, appending the key if needed.
func setMapValue(m *yaml.Node, key string, v *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content[i+1] = v
			return
		}
	}
	m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: key}, v)
}

// upsertNamed replaces the item named name in the list under key of
// mapping m, or appends it.
func upsertNamed(m *yaml.Node, key, name string, value any) error {
	var item yaml.Node
	if err := item.Encode(value); err != nil {
		return err
	}
	list := mapValue(m, key)
	switch {
	case list == nil || list.Kind == yaml.ScalarNode && list.ShortTag() == "!!null":
		list = &yaml.Node{Kind: yaml.SequenceNode}
		setMapValue(m, key, list)
	case list.Kind != yaml.SequenceNode:
		return fmt.Errorf("%s is not a list", key)
	}
	for i, it := range list.Content {
		if it.Kind == yaml.MappingNode {
			if n := mapValue(it, "name"); n != nil && n.Value == name {
				list.Content[i] = &item
				return nil
			}
		}
	}
	list.Content = append(list.Content, &item)
	return nil
}
