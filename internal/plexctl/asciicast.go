package plexctl

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"time"
)

// maxCastLine bounds one line of an asciicast file.
const maxCastLine = 4 << 20

// playOptions are the flags of 'plexctl sessions play'.
type playOptions struct {
	speed     float64
	idleLimit time.Duration
}

// castHeader is the first line of an asciicast v2 file.
type castHeader struct {
	Version   int   `json:"version"`
	Width     int   `json:"width"`
	Height    int   `json:"height"`
	Timestamp int64 `json:"timestamp,omitempty"`
}

// castEvent is one event line: [time, code, data].
type castEvent struct {
	at   float64 // seconds since the start
	code string  // "o" output, "i" input, "m" marker, "r" resize
	data string
}

// parseCastHeader validates the header line of an asciicast v2 file.
func parseCastHeader(line []byte) (castHeader, error) {
	var h castHeader
	if err := json.Unmarshal(line, &h); err != nil {
		return h, fmt.Errorf("not an asciicast recording: header: %w", err)
	}
	if h.Version != 2 {
		return h, fmt.Errorf("asciicast version %d: plexctl plays version 2", h.Version)
	}
	if h.Width < 0 || h.Height < 0 {
		return h, errors.New("asciicast header: negative terminal size")
	}
	return h, nil
}

// parseCastEvent decodes one event line.
func parseCastEvent(line []byte) (castEvent, error) {
	var raw []json.RawMessage
	if err := json.Unmarshal(line, &raw); err != nil || len(raw) != 3 {
		return castEvent{}, errors.New("event is not [time, code, data]")
	}
	var ev castEvent
	if err := json.Unmarshal(raw[0], &ev.at); err != nil || ev.at < 0 || math.IsInf(ev.at, 0) {
		return castEvent{}, errors.New("event time is not a non-negative number")
	}
	if err := json.Unmarshal(raw[1], &ev.code); err != nil {
		return castEvent{}, errors.New("event code is not a string")
	}
	if err := json.Unmarshal(raw[2], &ev.data); err != nil {
		return castEvent{}, errors.New("event data is not a string")
	}
	return ev, nil
}

// play writes a recording's output events to stdout with their timing
// (scaled by speed, pauses capped at idleLimit); markers go to stderr.
func (a *app) play(ctx context.Context, data []byte, o playOptions) error {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), maxCastLine)
	if !sc.Scan() {
		if err := sc.Err(); err != nil {
			return fmt.Errorf("read recording: %w", err)
		}
		return errors.New("the recording is empty")
	}
	if _, err := parseCastHeader(sc.Bytes()); err != nil {
		return err
	}
	prev := 0.0
	for n := 2; sc.Scan(); n++ {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		ev, err := parseCastEvent(sc.Bytes())
		if err != nil {
			return fmt.Errorf("recording line %d: %w", n, err)
		}
		if ev.at > prev {
			wait := time.Duration((ev.at - prev) / o.speed * float64(time.Second))
			if o.idleLimit > 0 {
				wait = min(wait, o.idleLimit)
			}
			if err := a.sleep(ctx, wait); err != nil {
				return err
			}
			prev = ev.at
		}
		switch ev.code {
		case "o":
			if _, err := io.WriteString(a.stdout, ev.data); err != nil {
				return err
			}
		case "m":
			fmt.Fprintf(a.stderr, "[marker at %.1fs] %s\n", ev.at, sanitize(ev.data, false))
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read recording: %w", err)
	}
	return nil
}
