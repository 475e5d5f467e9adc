package alerts

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/store"
)

// Webhook headers (docs/observability.md): the signature is
// "sha256=" + hex(HMAC-SHA256(secret, timestamp + "." + body)).
const (
	HeaderSignature = "X-Plexsphere-Signature"
	HeaderTimestamp = "X-Plexsphere-Timestamp"
	HeaderDelivery  = "X-Plexsphere-Delivery"
)

// Outbox states.
const (
	statePending   = "pending"
	stateDelivered = "delivered"
	stateFailed    = "failed"
)

// outboxKeep is how long delivered and failed notifications are kept.
const outboxKeep = 7 * 24 * time.Hour

// Message is the Alertmanager webhook payload (version 4).
type Message struct {
	Version           string            `json:"version"`
	GroupKey          string            `json:"groupKey"`
	TruncatedAlerts   int               `json:"truncatedAlerts"`
	Status            string            `json:"status"`
	Receiver          string            `json:"receiver"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	ExternalURL       string            `json:"externalURL"`
	Alerts            []Alert           `json:"alerts"`
}

// Alert is one alert of a Message.
type Alert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

func newID() string { return uuid.Must(uuid.NewV7()).String() }

// Sign is the signature header value of body sent at timestamp (unix
// seconds) with secret.
func Sign(secret []byte, timestamp string, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(timestamp))
	m.Write([]byte{'.'})
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Verify checks a signature header value in constant time.
func Verify(secret []byte, timestamp string, body []byte, signature string) bool {
	return hmac.Equal([]byte(Sign(secret, timestamp, body)), []byte(signature))
}

// enqueue queues the notification of an incident an alert rule opened
// (resolvedAt zero) or resolved, inside tx, when the rule has a webhook.
// The notification is due at now.
func (s *Service) enqueue(ctx context.Context, tx *sql.Tx, inc apiv1.Incident, resolvedAt, now time.Time) error {
	var name, url, sealed, severity string
	err := tx.QueryRowContext(ctx, `SELECT name, webhook_url, webhook_secret, severity FROM alert_rules WHERE id = $1`,
		inc.AlertRuleID).Scan(&name, &url, &sealed, &severity)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && url == "") {
		return nil
	}
	if err != nil {
		return err
	}
	body, err := json.Marshal(s.message(inc, name, severity, resolvedAt))
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO alert_notifications (id, domain_id, rule_id, incident_id, url, secret,
		payload, state, attempts, next_attempt_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, $9, $9)`,
		newID(), inc.DomainID, inc.AlertRuleID, inc.ID, url, sealed, string(body), statePending, store.Micros(now))
	return err
}

// message renders the Alertmanager payload of one incident.
func (s *Service) message(inc apiv1.Incident, ruleName, severity string, resolvedAt time.Time) Message {
	status := "firing"
	if !resolvedAt.IsZero() {
		status = "resolved"
	}
	ls := map[string]string{}
	for k, v := range inc.Labels {
		ls[k] = v
	}
	ls["severity"] = severity
	ls["alert_rule_id"] = inc.AlertRuleID
	ann := map[string]string{"summary": inc.Title, "incident_id": inc.ID}
	gen := s.cfg.PublicURL + "/v1/domains/" + inc.DomainID + "/incidents/" + inc.ID
	return Message{Version: "4", GroupKey: "alert_rule/" + inc.AlertRuleID + "/" + inc.Fingerprint, Status: status,
		Receiver: ruleName, GroupLabels: map[string]string{"alertname": ruleName}, CommonLabels: ls,
		CommonAnnotations: ann, ExternalURL: s.cfg.PublicURL,
		Alerts: []Alert{{Status: status, Labels: ls, Annotations: ann, StartsAt: inc.OpenedAt, EndsAt: resolvedAt,
			GeneratorURL: gen, Fingerprint: inc.Fingerprint}}}
}

type notification struct {
	id, ruleID, url, sealed, payload string
	attempts                         int
	next                             int64
}

// Deliver sends the notifications due at now: one POST each, signed when
// the rule has a secret; a 2xx answer delivers it, anything else retries
// it after an exponential backoff until MaxAttempts. Each notification is
// claimed first, so replicas do not send it twice at once. It returns the
// number delivered.
func (s *Service) Deliver(ctx context.Context, now time.Time) (int, error) {
	s.deliverMu.Lock()
	defer s.deliverMu.Unlock()
	due, err := s.due(ctx, now)
	if err != nil {
		return 0, err
	}
	sent := 0
	for _, n := range due {
		lease := store.Micros(now.Add(2 * deliverTimeout))
		res, err := s.cfg.DB.ExecContext(ctx, `UPDATE alert_notifications SET next_attempt_at = $1
			WHERE id = $2 AND state = $3 AND next_attempt_at = $4`, lease, n.id, statePending, n.next)
		if err != nil {
			return sent, err
		}
		if c, _ := res.RowsAffected(); c == 0 {
			continue
		}
		if derr := s.post(ctx, n, now); derr == nil {
			sent++
			s.delivered.Add(1)
			_, err = s.cfg.DB.ExecContext(ctx, `UPDATE alert_notifications SET state = $1, attempts = $2, last_error = ''
				WHERE id = $3`, stateDelivered, n.attempts+1, n.id)
		} else {
			err = s.retry(ctx, n, now, derr)
		}
		if err != nil {
			return sent, err
		}
	}
	_, err = s.cfg.DB.ExecContext(ctx, `DELETE FROM alert_notifications WHERE state <> $1 AND created_at < $2`,
		statePending, store.Micros(now.Add(-outboxKeep)))
	return sent, err
}

func (s *Service) due(ctx context.Context, now time.Time) ([]notification, error) {
	rows, err := s.cfg.DB.QueryContext(ctx, `SELECT id, rule_id, url, secret, payload, attempts, next_attempt_at
		FROM alert_notifications WHERE state = $1 AND next_attempt_at <= $2 ORDER BY created_at, id LIMIT `+
		strconv.Itoa(deliverBatch), statePending, store.Micros(now))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []notification
	for rows.Next() {
		var n notification
		if err := rows.Scan(&n.id, &n.ruleID, &n.url, &n.sealed, &n.payload, &n.attempts, &n.next); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// retry records a failed attempt: the next one after Backoff·2^(attempts-1)
// (at most an hour), or none after MaxAttempts.
func (s *Service) retry(ctx context.Context, n notification, now time.Time, cause error) error {
	attempts := n.attempts + 1
	msg := cause.Error()
	if len(msg) > 512 {
		msg = msg[:512]
	}
	if attempts >= s.cfg.MaxAttempts {
		s.dropped.Add(1)
		s.cfg.Logger.Warn("alerts: webhook notification dropped after its last attempt", "notification_id", n.id,
			"rule_id", n.ruleID, "attempts", attempts, "error", msg)
		_, err := s.cfg.DB.ExecContext(ctx, `UPDATE alert_notifications SET state = $1, attempts = $2, last_error = $3
			WHERE id = $4`, stateFailed, attempts, msg, n.id)
		return err
	}
	s.retried.Add(1)
	delay := s.cfg.Backoff << min(attempts-1, 20)
	if delay > maxBackoff || delay <= 0 {
		delay = maxBackoff
	}
	_, err := s.cfg.DB.ExecContext(ctx, `UPDATE alert_notifications SET attempts = $1, next_attempt_at = $2,
		last_error = $3 WHERE id = $4`, attempts, store.Micros(now.Add(delay)), msg, n.id)
	return err
}

// post sends one notification.
func (s *Service) post(ctx context.Context, n notification, now time.Time) error {
	secret, err := s.unseal(n.ruleID, n.sealed)
	if err != nil {
		return errors.New("the webhook secret cannot be unsealed")
	}
	ctx, cancel := context.WithTimeout(ctx, deliverTimeout)
	defer cancel()
	body := []byte(n.payload)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	ts := strconv.FormatInt(now.Unix(), 10)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "plexsphere-alerts/1")
	req.Header.Set(HeaderTimestamp, ts)
	req.Header.Set(HeaderDelivery, n.id)
	if len(secret) > 0 {
		req.Header.Set(HeaderSignature, Sign(secret, ts, body))
	}
	resp, err := s.cfg.Client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("webhook answered %d", resp.StatusCode)
	}
	return nil
}
