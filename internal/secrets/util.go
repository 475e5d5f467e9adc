package secrets

import (
	"errors"
	"log/slog"
	"reflect"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/secrets/backend"
)

var reflectPut = reflect.TypeFor[apiv1.SecretPutRequest]()

// levelFor logs an unavailable backend as a warning, anything else (a
// denied credential, a bug) as an error.
func levelFor(err error) slog.Level {
	if errors.Is(err, backend.ErrUnavailable) {
		return slog.LevelWarn
	}
	return slog.LevelError
}

// slogErr logs an error's text: backends never put a value in one.
func slogErr(err error) slog.Attr { return slog.String("error", err.Error()) }

func slogBackend(name string) slog.Attr { return slog.String("backend", name) }
