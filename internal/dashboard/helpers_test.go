package dashboard_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/plexsphere/plexsphere/internal/dashboard/browsertest"
)

// clear empties an input: select all, delete (fires input events as typing does).
func clear(testid string) chromedp.Action[chromedp.Void] {
	sel := browsertest.TestID(testid)
	return chromedp.Steps(chromedp.Focus(sel), chromedp.Evaluate[chromedp.Void](fmt.Sprintf(
		`document.querySelector(%q).select()`, string(sel))), chromedp.SendKeys(sel, "\b"))
}

// post sends a JSON body with the platform admin token (test setup) and
// decodes a 2xx answer into out when non-nil.
func post(t *testing.T, env *browsertest.Env, path string, body, out any) int {
	t.Helper()
	raw, _ := json.Marshal(body)
	req, err := http.NewRequest("POST", env.URL+path, bytes.NewReader(raw))
	if err != nil {
		t.Error(err)
		return 0
	}
	req.Header.Set("Authorization", "Bearer "+env.Token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Error(err)
		return 0
	}
	defer resp.Body.Close()
	if out != nil && resp.StatusCode < 300 {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Error(err)
		}
	}
	return resp.StatusCode
}

// adminCall sends method path with a JSON body (nil: none) as the platform
// admin (test setup) and decodes a 2xx answer into out when non-nil.
func adminCall(t *testing.T, env *browsertest.Env, method, path string, body, out any) int {
	t.Helper()
	var rd *bytes.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = bytes.NewReader(raw)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, err := http.NewRequest(method, env.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+env.Token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil && resp.StatusCode < 300 {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatal(err)
		}
	}
	return resp.StatusCode
}
