package enroll

import (
	"context"
	"database/sql"
	"time"
)

// Consume is the registration's conditional consume of a bootstrap token,
// so tests can drive it without racing real registrations.
func Consume(ctx context.Context, tx *sql.Tx, tokenID string, now time.Time) error {
	return consume(ctx, tx, tokenID, now)
}

// ErrTokenLost is what Consume returns when the token is not redeemable.
var ErrTokenLost = errTokenLost
