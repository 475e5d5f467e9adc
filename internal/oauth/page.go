package oauth

import (
	"net/http"
	"net/url"
)

// The verification page at /device, the browser side of the device flow,
// is the dashboard's device-approval screen (internal/dashboard, route
// #/device): it signs the user in through the login's IdP binding when
// needed, then approves or denies the user code with the public API (POST
// /v1/auth/device/approve, with the session cookie and the CSRF header),
// offering a fresh sign-in when the approval asks for step-up. /device
// stays the verification_uri devices print and redirects there.

// dashboardDevice is the dashboard's device-approval screen.
const dashboardDevice = "/ui/#/device"

// VerificationPage serves /device: a redirect to the dashboard's
// device-approval screen carrying the user code and the login's binding
// (only those, re-encoded; anything else is dropped).
func (s *Service) VerificationPage() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		keep := url.Values{}
		for _, k := range []string{"user_code", "idp_binding_id"} {
			if v := q.Get(k); v != "" && len(v) <= 128 {
				keep.Set(k, v)
			}
		}
		target := dashboardDevice
		if len(keep) > 0 {
			target += "?" + keep.Encode()
		}
		h := w.Header()
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-store")
		h.Set("Location", target)
		w.WriteHeader(http.StatusSeeOther)
	})
}
