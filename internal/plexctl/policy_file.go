package plexctl

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/plexsphere/plexsphere/internal/apiv1"
)

// maxPolicyFile bounds a policy file (the API takes 256 KiB of JSON per
// policy; YAML is a little larger).
const maxPolicyFile = 1 << 20

// maxPolicyDocs bounds the documents of one file.
const maxPolicyDocs = 64

// policyDoc is one policy of a file for `plexctl policy apply`: the
// create body plus the Project it belongs to.
type policyDoc struct {
	Project     string            `yaml:"project"`
	Slug        string            `yaml:"slug"`
	DisplayName string            `yaml:"display_name"`
	Selector    policyDocSelector `yaml:"selector"`
	Rules       []policyDocRule   `yaml:"rules"`
	Tests       []policyDocTest   `yaml:"tests"`
}

type policyDocSelector struct {
	Source      string `yaml:"source"`
	Destination string `yaml:"destination"`
}

type policyDocRule struct {
	Action          string         `yaml:"action"`
	Protocol        string         `yaml:"protocol"`
	SourceCIDR      string         `yaml:"source_cidr"`
	DestinationCIDR string         `yaml:"destination_cidr"`
	Ports           *policyDocPort `yaml:"ports"`
	Description     string         `yaml:"description"`
}

type policyDocPort struct {
	From int `yaml:"from"`
	To   int `yaml:"to"`
}

type policyDocTest struct {
	From     string `yaml:"from"`
	To       string `yaml:"to"`
	Protocol string `yaml:"protocol"`
	Port     int    `yaml:"port"`
	Expect   string `yaml:"expect"`
}

// readPolicyFile reads name ("-" for stdin) and decodes its YAML (or JSON)
// documents strictly: an unknown key is an error, not a silently dropped
// rule field.
func (a *app) readPolicyFile(name string) ([]policyDoc, error) {
	if name == "" {
		return nil, usagef("-f FILE is required (a YAML policy document; - reads stdin)")
	}
	var r io.Reader
	if name == "-" {
		r = a.stdin
	} else {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	raw, err := io.ReadAll(io.LimitReader(r, maxPolicyFile+1))
	if err != nil {
		return nil, err
	}
	if len(raw) > maxPolicyFile {
		return nil, fmt.Errorf("%s: larger than %d bytes", name, maxPolicyFile)
	}
	return decodePolicyDocs(name, raw)
}

// decodePolicyDocs decodes every document of raw.
func decodePolicyDocs(name string, raw []byte) ([]policyDoc, error) {
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	var docs []policyDoc
	for {
		var d policyDoc
		err := dec.Decode(&d)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: document %d: %v", name, len(docs)+1, err)
		}
		if len(docs) == maxPolicyDocs {
			return nil, fmt.Errorf("%s: more than %d documents", name, maxPolicyDocs)
		}
		if strings.TrimSpace(d.Slug) == "" {
			return nil, fmt.Errorf("%s: document %d: slug is required", name, len(docs)+1)
		}
		docs = append(docs, d)
	}
	if len(docs) == 0 {
		return nil, fmt.Errorf("%s: no policy document", name)
	}
	return docs, nil
}

// selector is the document's selector on the wire.
func (d policyDoc) selector() apiv1.PolicySelector {
	return apiv1.PolicySelector{Source: d.Selector.Source, Destination: d.Selector.Destination}
}

// rules are the document's rules on the wire.
func (d policyDoc) rules() []apiv1.NetworkPolicyRule {
	out := make([]apiv1.NetworkPolicyRule, len(d.Rules))
	for i, r := range d.Rules {
		out[i] = apiv1.NetworkPolicyRule{Action: r.Action, Protocol: r.Protocol, SourceCIDR: r.SourceCIDR,
			DestinationCIDR: r.DestinationCIDR, Description: r.Description}
		if r.Ports != nil {
			out[i].Ports = &apiv1.PolicyPortRange{From: r.Ports.From, To: r.Ports.To}
		}
	}
	return out
}

// tests are the document's tests on the wire.
func (d policyDoc) tests() []apiv1.PolicyTest {
	if len(d.Tests) == 0 {
		return nil
	}
	out := make([]apiv1.PolicyTest, len(d.Tests))
	for i, t := range d.Tests {
		out[i] = apiv1.PolicyTest{From: t.From, To: t.To, Protocol: t.Protocol, Port: t.Port, Expect: t.Expect}
	}
	return out
}
