package plexctl

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/plexsphere/plexsphere/internal/apiv1"
)

var healthColumns = []column[apiv1.HealthCheck]{
	{"CHECK", func(c apiv1.HealthCheck) string { return c.Name }},
	{"STATUS", func(c apiv1.HealthCheck) string { return c.Status }},
	{"DETAIL", func(c apiv1.HealthCheck) string { return c.Detail }},
}

func (a *app) healthCommand() *cobra.Command {
	cmd := calls(&cobra.Command{
		Use:   "health",
		Short: "Show the server's health checks; exit 1 unless healthy",
		Example: `  plexctl health
  plexctl health -o json`,
		Args: exactArgs(),
	}, "getHealth")
	cmd.RunE = a.action(func(cmd *cobra.Command, _ []string) error {
		c, err := a.client()
		if err != nil {
			return err
		}
		h, err := c.Health(cmd.Context())
		if err != nil {
			return err
		}
		if a.flags.output != formatTable {
			err = a.encode(h)
		} else {
			err = writeTable(a.stdout, h.Checks, healthColumns)
		}
		if err != nil {
			return err
		}
		if h.Status != "ok" {
			return fmt.Errorf("server is %s", cell(h.Status))
		}
		return nil
	})
	return cmd
}

func (a *app) openAPICommand() *cobra.Command {
	cmd := calls(&cobra.Command{
		Use:   "openapi",
		Short: "Print the server's OpenAPI document as served (JSON; YAML with -o yaml)",
		Example: `  plexctl openapi > plexsphere.openapi.json
  plexctl openapi | jq '.paths | keys'`,
		Args: exactArgs(),
	}, "getOpenAPI")
	cmd.RunE = a.action(func(cmd *cobra.Command, _ []string) error {
		c, err := a.client()
		if err != nil {
			return err
		}
		doc, err := c.OpenAPI(cmd.Context())
		if err != nil {
			return err
		}
		if a.flags.output == formatYAML {
			var v any
			if err := json.Unmarshal(doc, &v); err != nil {
				return fmt.Errorf("decode OpenAPI document: %w", err)
			}
			return a.encode(v)
		}
		_, err = fmt.Fprintln(a.stdout, string(doc)) // as served, for table and json
		return err
	})
	return cmd
}
