package metrics

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
)

// encodeResult writes a query result in the Prometheus HTTP API format:
// {"status":"success","data":{"resultType":…,"result":…}} with
// timestamps as Unix seconds and values as strings.
func encodeResult(res *promql.Result) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(`{"status":"success","data":{"resultType":`)
	switch v := res.Value.(type) {
	case promql.Vector:
		b.WriteString(`"vector","result":[`)
		for i, s := range v {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(`{"metric":`)
			writeLabels(&b, s.Metric)
			if s.H != nil {
				b.WriteString(`,"histogram":`)
				writeHistPoint(&b, s.T, s.H)
			} else {
				b.WriteString(`,"value":`)
				writePoint(&b, s.T, s.F)
			}
			b.WriteByte('}')
		}
		b.WriteByte(']')
	case promql.Matrix:
		b.WriteString(`"matrix","result":[`)
		for i, s := range v {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(`{"metric":`)
			writeLabels(&b, s.Metric)
			if len(s.Floats) > 0 {
				b.WriteString(`,"values":[`)
				for j, p := range s.Floats {
					if j > 0 {
						b.WriteByte(',')
					}
					writePoint(&b, p.T, p.F)
				}
				b.WriteByte(']')
			}
			if len(s.Histograms) > 0 {
				b.WriteString(`,"histograms":[`)
				for j, p := range s.Histograms {
					if j > 0 {
						b.WriteByte(',')
					}
					writeHistPoint(&b, p.T, p.H)
				}
				b.WriteByte(']')
			}
			b.WriteByte('}')
		}
		b.WriteByte(']')
	case promql.Scalar:
		b.WriteString(`"scalar","result":`)
		writePoint(&b, v.T, v.V)
	case promql.String:
		b.WriteString(`"string","result":[`)
		writeTime(&b, v.T)
		b.WriteByte(',')
		writeString(&b, v.V)
		b.WriteByte(']')
	default:
		b.WriteString(`"vector","result":[]`)
	}
	b.WriteByte('}')
	if ws, _ := res.Warnings.AsStrings("", 10, 10); len(ws) > 0 {
		b.WriteString(`,"warnings":`)
		j, err := json.Marshal(ws)
		if err != nil {
			return nil, err
		}
		b.Write(j)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func writeLabels(b *bytes.Buffer, ls labels.Labels) {
	b.WriteByte('{')
	first := true
	ls.Range(func(l labels.Label) {
		if !first {
			b.WriteByte(',')
		}
		first = false
		writeString(b, l.Name)
		b.WriteByte(':')
		writeString(b, l.Value)
	})
	b.WriteByte('}')
}

func writeString(b *bytes.Buffer, s string) {
	j, _ := json.Marshal(s)
	b.Write(j)
}

func writeTime(b *bytes.Buffer, t int64) {
	b.WriteString(strconv.FormatFloat(float64(t)/1000, 'f', -1, 64))
}

func writePoint(b *bytes.Buffer, t int64, f float64) {
	b.WriteByte('[')
	writeTime(b, t)
	b.WriteString(`,"`)
	b.WriteString(formatFloat(f))
	b.WriteString(`"]`)
}

func writeHistPoint(b *bytes.Buffer, t int64, h *histogram.FloatHistogram) {
	b.WriteByte('[')
	writeTime(b, t)
	b.WriteString(`,{"count":"`)
	b.WriteString(formatFloat(h.Count))
	b.WriteString(`","sum":"`)
	b.WriteString(formatFloat(h.Sum))
	b.WriteString(`"}]`)
}

func formatFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "+Inf"
	case math.IsInf(f, -1):
		return "-Inf"
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// errorBody is the Prometheus HTTP API error body.
func errorBody(kind string, err error) []byte {
	j, _ := json.Marshal(map[string]string{"status": "error", "errorType": kind, "error": err.Error()})
	return j
}
