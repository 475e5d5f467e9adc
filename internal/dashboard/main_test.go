package dashboard_test

import (
	"testing"

	"github.com/plexsphere/plexsphere/internal/dashboard/browsertest"
)

func TestMain(m *testing.M) { browsertest.Main(m) }
