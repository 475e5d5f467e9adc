package oauth

import (
	"crypto/sha256"
	"encoding/base64"
	"html/template"
	"net/http"
)

// The verification page at /device: the browser side of the device flow.
// It signs the user in through the login's IdP binding when needed (the
// ordinary code+PKCE sign-in, returning here), then approves or denies
// the user code with the session cookie and the CSRF header; when the
// approval asks for step-up it offers to sign in again with the acr_values
// of the challenge. It is a static page: every decision is made by the API
// it calls.

const pageScript = `(function () {
  var q = new URLSearchParams(location.search);
  var code = q.get("user_code") || "", binding = q.get("idp_binding_id") || "";
  var $ = function (id) { return document.getElementById(id); };
  var acr = null;
  $("code").textContent = code;
  function csrf() {
    var m = document.cookie.match(/(?:^|; )plexsphere_csrf=([^;]*)/);
    return m ? decodeURIComponent(m[1]) : "";
  }
  function say(msg) { $("msg").textContent = msg; }
  function post(path, body) {
    return fetch(path, {method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-Plexsphere-CSRF": csrf()}, body: JSON.stringify(body)});
  }
  function decide(deny) {
    post("/v1/auth/device/approve", {user_code: code, deny: deny}).then(function (r) {
      return r.json().then(function (b) {
        say(r.ok ? (deny ? "Refused. You can close this page." : "Approved. Return to your terminal.") : (b.detail || b.title));
        $("decide").hidden = r.ok;
        if (b.code === "step_up_required") {
          var m = (r.headers.get("WWW-Authenticate") || "").match(/acr_values="([^"]*)"/);
          acr = m ? m[1].split(" ") : [];
          $("decide").hidden = true;
          $("login").hidden = false;
        }
      });
    }, function () { say("The server could not be reached."); });
  }
  $("approve").onclick = function () { decide(false); };
  $("deny").onclick = function () { decide(true); };
  $("signin").onclick = function () {
    var body = {return_to: location.pathname + location.search};
    if (binding) { body.idp_binding_id = binding; }
    if (acr && acr.length) { body.acr_values = acr; }
    post("/v1/auth/sign-in", body).then(function (r) { return r.json(); }).then(function (b) {
      if (b.authorization_url) { location.assign(b.authorization_url); } else { say(b.detail || b.title); }
    });
  };
  fetch("/v1/auth/whoami", {credentials: "same-origin"}).then(function (r) {
    if (!r.ok) { $("login").hidden = false; return; }
    return r.json().then(function (w) {
      $("who").textContent = w.email || w.subject;
      $("decide").hidden = false;
    });
  });
})();`

var (
	pageScriptHash = func() string {
		sum := sha256.Sum256([]byte(pageScript))
		return "sha256-" + base64.StdEncoding.EncodeToString(sum[:])
	}()
	pageCSP = "default-src 'none'; script-src '" + pageScriptHash + "'; style-src 'unsafe-inline'; " +
		"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
	pageTemplate = template.Must(template.New("device").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>plexsphere: approve a device login</title>
<style>body{font-family:sans-serif;max-width:36em;margin:3em auto}code{font-size:1.6em}</style></head>
<body><h1>Approve a device login</h1>
<p>A device (for example <code>plexctl login</code>) asks to act as you with the code:</p>
<p><code id="code"></code></p>
<p>Approve only if it matches the code shown on your device.</p>
<div id="login" hidden><button id="signin">Sign in to continue</button></div>
<div id="decide" hidden><p>Signed in as <b id="who"></b>.</p>
<button id="approve">Approve</button> <button id="deny">Deny</button></div>
<p id="msg" role="status"></p>
<script>{{.}}</script></body></html>`))
)

// VerificationPage serves the /device page.
func (s *Service) VerificationPage() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Content-Security-Policy", pageCSP)
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-store")
		pageTemplate.Execute(w, template.JS(pageScript))
	})
}
