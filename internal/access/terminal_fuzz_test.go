package access

import "testing"

// FuzzTerminalControl feeds the browser terminal's text messages (an
// untrusted WebSocket input): a resize always comes out within the
// terminal bounds, and only a well-formed resize is one.
func FuzzTerminalControl(f *testing.F) {
	for _, s := range []string{`{"type":"resize","cols":80,"rows":24}`, `{"type":"resize","cols":-5,"rows":1e9}`,
		`{"type":"resize","cols":99999999999999999999}`, `{"type":"other"}`, `[]`, `{`, ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		cols, rows, ok := resizeOf(msg)
		if !ok {
			return
		}
		if cols < 1 || cols > maxTerminalCols || rows < 1 || rows > maxTerminalRows {
			t.Fatalf("%q resized to %dx%d", msg, cols, rows)
		}
	})
}
