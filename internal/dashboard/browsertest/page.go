package browsertest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/plexsphere/plexsphere/internal/devstack"
)

// Request is one request the page made.
type Request struct {
	Method string
	URL    string
	// Path is set for requests to the control plane.
	Path string
	// Status is the answer's status (0 when none arrived yet).
	Status int64
}

// Page is one browser tab in a browser context of its own (own cookies
// and storage), recording its requests and console errors.
type Page struct {
	T   testing.TB
	Env *Env
	// Ctx is the chromedp context of the tab; Do and Run take it.
	Ctx context.Context

	mu       sync.Mutex
	requests []*Request
	byID     map[network.RequestID]*Request
	errors   []string
	shots    int
	// AllowConsoleErrors, set by a test that provokes them on purpose,
	// lists substrings of console errors not to fail on.
	AllowConsoleErrors []string
	// SkipChecks turns the end-of-test checks off.
	SkipChecks bool
}

// TestID is the CSS selector of the element with this data-testid.
func TestID(id string) chromedp.CSS { return chromedp.CSS(fmt.Sprintf(`[data-testid=%q]`, id)) }

// NewPage opens a tab in a fresh browser context. At the end of the test
// it fails the test on console errors and on requests that break the
// parity rule (see the package doc).
func (e *Env) NewPage(t testing.TB) *Page {
	t.Helper()
	ctx, cancel := chromedp.NewContext(e.browser, chromedp.WithNewBrowserContext())
	p := &Page{T: t, Env: e, Ctx: ctx, byID: map[network.RequestID]*Request{}}
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		t.Fatalf("browsertest: open a tab: %v", err)
	}
	if err := chromedp.Listen(ctx, p.record); err != nil {
		cancel()
		t.Fatalf("browsertest: listen: %v", err)
	}
	t.Cleanup(func() {
		if !p.SkipChecks && !t.Failed() {
			p.CheckConsole()
			p.CheckParity()
		}
		if t.Failed() {
			p.Shot("failure")
		}
		cancel()
	})
	return p
}

// record runs in chromedp's event loop: it only appends under the lock.
func (p *Page) record(ev any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		if ev.Request == nil || strings.HasPrefix(ev.Request.URL, "data:") {
			return
		}
		r := &Request{Method: ev.Request.Method, URL: ev.Request.URL}
		if path, ok := p.Env.sameOrigin(ev.Request.URL); ok {
			r.Path = path
		}
		p.requests = append(p.requests, r)
		p.byID[ev.RequestID] = r
	case *network.EventResponseReceived:
		if r := p.byID[ev.RequestID]; r != nil && ev.Response != nil {
			r.Status = ev.Response.Status
		}
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
			var parts []string
			for _, a := range ev.Args {
				if len(a.Value) > 0 {
					parts = append(parts, string(a.Value))
				} else {
					parts = append(parts, a.Description)
				}
			}
			p.errors = append(p.errors, "console."+string(ev.Type)+": "+strings.Join(parts, " "))
		}
	case *runtime.EventExceptionThrown:
		if d := ev.ExceptionDetails; d != nil {
			text := d.Text
			if d.Exception != nil && d.Exception.Description != "" {
				text += " " + d.Exception.Description
			}
			p.errors = append(p.errors, fmt.Sprintf("exception: %s (%s:%d)", text, d.URL, d.LineNumber))
		}
	case *log.EventEntryAdded:
		if e := ev.Entry; e != nil && e.Level == log.EntryLevelError {
			p.errors = append(p.errors, fmt.Sprintf("log.%s: %s %s", e.Source, e.Text, e.URL))
		}
	}
}

// Requests returns a copy of every request the page made so far.
func (p *Page) Requests() []Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]Request, len(p.requests))
	for i, r := range p.requests {
		out[i] = *r
	}
	return out
}

// APIRequests returns the requests to the control plane's /v1 API.
func (p *Page) APIRequests() []Request {
	var out []Request
	for _, r := range p.Requests() {
		if strings.HasPrefix(r.Path, "/v1/") {
			out = append(out, r)
		}
	}
	return out
}

// ConsoleErrors returns the console errors seen so far.
func (p *Page) ConsoleErrors() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.errors...)
}

// CheckConsole fails the test on console errors (exceptions, console.error,
// failed loads, CSP violations), except the allowed ones.
func (p *Page) CheckConsole() {
	p.T.Helper()
next:
	for _, e := range p.ConsoleErrors() {
		if strings.Contains(e, "/favicon.ico") {
			continue // the development issuer's page has no icon
		}
		if strings.HasPrefix(e, "log.network:") && strings.Contains(e, "status of 401") && strings.HasSuffix(e, "/v1/auth/whoami") {
			continue // the session probe of a signed-out browser: the expected answer
		}
		for _, ok := range p.AllowConsoleErrors {
			if strings.Contains(e, ok) {
				continue next
			}
		}
		p.T.Errorf("console error: %s", e)
	}
}

// CheckParity fails the test on any request to the control plane that is
// neither a dashboard file under /ui/ nor an operation of /v1/openapi.json
// (method and path template). It returns the operations matched, as
// "METHOD template".
func (p *Page) CheckParity() []string {
	p.T.Helper()
	ops := p.Env.OpenAPI(p.T)
	var matched []string
	for _, r := range p.Requests() {
		switch {
		case r.Path == "":
			continue // another origin: the IdP
		case r.Path == "/ui/" || strings.HasPrefix(r.Path, "/ui/"):
			continue
		}
		tmpl := ops.Match(r.Method, r.Path)
		if tmpl == "" {
			p.T.Errorf("parity: %s %s is not an operation of /v1/openapi.json", r.Method, r.Path)
			continue
		}
		matched = append(matched, r.Method+" "+tmpl)
	}
	return matched
}

// Do runs chromedp steps with the step timeout, failing the test on error.
func (p *Page) Do(steps ...chromedp.Action[chromedp.Void]) {
	p.T.Helper()
	ctx, cancel := context.WithTimeout(p.Ctx, Timeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		p.T.Fatalf("browser: %v (at %s)", err, p.location())
	}
}

// Run runs one chromedp action with the step timeout and returns its value.
func Run[T any](p *Page, a chromedp.Action[T]) T {
	p.T.Helper()
	ctx, cancel := context.WithTimeout(p.Ctx, Timeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		p.T.Fatalf("browser: %v (at %s)", err, p.location())
	}
	return v
}

func (p *Page) location() string {
	ctx, cancel := context.WithTimeout(p.Ctx, Timeout/4)
	defer cancel()
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	return loc
}

// Open loads the dashboard at a hash route ("#/domains"), as a fresh page
// load (a URL that differs only in its fragment would not reload).
func (p *Page) Open(route string) {
	p.T.Helper()
	p.Do(chromedp.Navigate("about:blank"), chromedp.Navigate(p.Env.URL+"/ui/"+route))
}

// Go moves the loaded dashboard to a hash route without reloading.
func (p *Page) Go(route string) {
	p.T.Helper()
	raw, _ := json.Marshal(route)
	p.Do(chromedp.Evaluate[chromedp.Void]("location.hash = " + string(raw)))
}

// Wait waits until the element with this data-testid is visible.
func (p *Page) Wait(testid string) {
	p.T.Helper()
	p.Do(chromedp.WaitVisible(TestID(testid)))
}

// Click clicks the (first) element with this data-testid.
func (p *Page) Click(testid string) {
	p.T.Helper()
	p.Do(chromedp.WaitVisible(TestID(testid)), chromedp.Click(TestID(testid)))
}

// Fill types text into the input with this data-testid (Form fields are
// "field-<name>").
func (p *Page) Fill(testid, text string) {
	p.T.Helper()
	p.Do(chromedp.WaitVisible(TestID(testid)), chromedp.SendKeys(TestID(testid), text))
}

// Text returns the text of the element with this data-testid.
func (p *Page) Text(testid string) string {
	p.T.Helper()
	p.Wait(testid)
	return Run(p, chromedp.Text(TestID(testid)))
}

// Eval evaluates a JavaScript expression and decodes its value.
func Eval[T any](p *Page, expr string) T {
	p.T.Helper()
	return Run(p, chromedp.Evaluate[T](expr))
}

// WaitFor polls a JavaScript expression until it is truthy.
func (p *Page) WaitFor(expr string) {
	p.T.Helper()
	Run(p, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(Timeout)))
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// Shot saves a full-page screenshot as <screenshots>/<test>-<NN>-<name>.png
// and returns its path.
func (p *Page) Shot(name string) string {
	p.T.Helper()
	ctx, cancel := context.WithTimeout(p.Ctx, Timeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		p.T.Errorf("browsertest: screenshot %s: %v", name, err)
		return ""
	}
	p.mu.Lock()
	p.shots++
	n := p.shots
	p.mu.Unlock()
	file := filepath.Join(p.Env.Screenshots, fmt.Sprintf("%s-%02d-%s.png",
		unsafeName.ReplaceAllString(p.T.Name(), "_"), n, unsafeName.ReplaceAllString(name, "_")))
	if err := os.WriteFile(file, png, 0o644); err != nil {
		p.T.Errorf("browsertest: write %s: %v", file, err)
	}
	return file
}

// SignIn signs in as a seeded user of the development issuer ("alice",
// "bob") through the dashboard's sign-in page and the IdP chooser, and
// waits for the signed-in shell.
func (p *Page) SignIn(user string) {
	p.T.Helper()
	known := false
	for _, u := range devstack.Users {
		known = known || u.ID == user
	}
	if !known {
		p.T.Fatalf("browsertest: %q is not a seeded user of the development issuer", user)
	}
	p.Open("#/sign-in?domain=" + p.Env.DomainID)
	p.Click("idp-option")
	// The development issuer's page: one form per user.
	p.Do(chromedp.Click(chromedp.Search(fmt.Sprintf(`//form[input[@name="user" and @value=%q]]/button`, user))))
	p.Wait("whoami")
}

// a11yScript lists accessibility faults of the current page: form
// controls without a label, buttons and links without an accessible name,
// images without alt text, and not exactly one h1.
const a11yScript = `(() => {
  const bad = [];
  const label = (el) => (el.labels && el.labels.length) || el.getAttribute('aria-label') || el.getAttribute('aria-labelledby') || el.closest('label');
  for (const el of document.querySelectorAll('input:not([type=hidden]), select, textarea')) {
    if (!label(el)) bad.push('unlabelled ' + el.tagName.toLowerCase() + ' ' + (el.name || el.dataset.testid || ''));
  }
  for (const el of document.querySelectorAll('button, a[href]')) {
    const name = (el.getAttribute('aria-label') || el.textContent || el.title || '').trim();
    if (!name) bad.push('nameless ' + el.tagName.toLowerCase() + ' ' + (el.dataset.testid || el.outerHTML.slice(0, 80)));
  }
  for (const el of document.querySelectorAll('img:not([alt])')) bad.push('img without alt ' + el.src);
  const h1 = document.querySelectorAll('h1').length;
  if (h1 !== 1) bad.push(h1 + ' h1 elements');
  return bad;
})()`

// CheckAccessible fails the test on the accessibility faults a script can
// see on the current page (see a11yScript): unlabelled controls, nameless
// buttons and links, images without alt, not exactly one h1.
func (p *Page) CheckAccessible() {
	p.T.Helper()
	for _, f := range Eval[[]string](p, a11yScript) {
		p.T.Errorf("accessibility (%s): %s", p.location(), f)
	}
}

// LoadTime loads the dashboard afresh at route and returns the time until
// the element with testid is visible: navigation, modules, API calls and
// rendering, as the browser measures it (performance.now() in the first
// animation frame that has the element, from the navigation's start).
func (p *Page) LoadTime(route, testid string) time.Duration {
	p.T.Helper()
	p.Open(route)
	// Polled in the page on every animation frame: the time of the first
	// frame that has the element.
	sel, _ := json.Marshal(string(TestID(testid)))
	ms := Run(p, chromedp.Poll[float64](`(document.querySelector(`+string(sel)+`) || false) && performance.now()`,
		chromedp.WithPollingTimeout(Timeout)))
	return time.Duration(ms * float64(time.Millisecond))
}
