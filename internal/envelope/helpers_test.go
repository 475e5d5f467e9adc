package envelope

import (
	"time"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
)

func signingKeys(cur, prev string, exp time.Time) nodeproto.SigningKeys {
	sk := nodeproto.SigningKeys{Current: cur, Previous: prev}
	if prev != "" {
		sk.TransitionExpires = exp
	}
	return sk
}
