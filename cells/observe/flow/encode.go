package flow

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// AppendJSON appends r as encoding/json would marshal it (same bytes, no
// trailing newline), without reflection: the agent encodes every flow it
// streams, and this is several times cheaper. TestAppendJSONMatchesMarshal
// keeps the two in step.
func (r *Response) AppendJSON(b []byte) []byte {
	b = append(b, `{"flow":`...)
	if r.Flow == nil {
		b = append(b, "null"...)
	} else {
		b = r.Flow.AppendJSON(b)
	}
	if r.NodeName != "" {
		b = appendKey(b, "node_name")
		b = appendString(b, r.NodeName)
	}
	b = appendKey(b, "time")
	b = appendTime(b, r.Time)
	return append(b, '}')
}

// AppendJSON appends f as encoding/json would marshal it.
func (f *Flow) AppendJSON(b []byte) []byte {
	b = append(b, `{"time":`...)
	b = appendTime(b, f.Time)
	b = appendKey(b, "verdict")
	b = appendString(b, f.Verdict)
	if f.DropReason != 0 {
		b = appendKey(b, "drop_reason")
		b = strconv.AppendUint(b, uint64(f.DropReason), 10)
	}
	if f.IP != nil {
		b = appendKey(b, "IP")
		b = append(b, `{"source":`...)
		b = appendString(b, f.IP.Source)
		b = appendKey(b, "destination")
		b = appendString(b, f.IP.Destination)
		b = appendKey(b, "ipVersion")
		b = appendString(b, f.IP.IPVersion)
		b = append(b, '}')
	}
	if f.L4 != nil {
		b = appendKey(b, "l4")
		b = f.L4.appendJSON(b)
	}
	if f.Source != nil {
		b = appendKey(b, "source")
		b = f.Source.appendJSON(b)
	}
	if f.Destination != nil {
		b = appendKey(b, "destination")
		b = f.Destination.appendJSON(b)
	}
	b = appendKey(b, "Type")
	b = appendString(b, f.Type)
	b = appendOptString(b, "node_name", f.NodeName)
	if f.EventType != nil {
		b = appendKey(b, "event_type")
		b = append(b, `{"type":`...)
		b = strconv.AppendInt(b, int64(f.EventType.Type), 10)
		if f.EventType.SubType != 0 {
			b = appendKey(b, "sub_type")
			b = strconv.AppendInt(b, int64(f.EventType.SubType), 10)
		}
		b = append(b, '}')
	}
	b = appendOptString(b, "traffic_direction", f.TrafficDir)
	if f.PolicyMatch != 0 {
		b = appendKey(b, "policy_match_type")
		b = strconv.AppendUint(b, uint64(f.PolicyMatch), 10)
	}
	b = appendOptString(b, "trace_observation_point", f.TracePoint)
	b = appendOptString(b, "drop_reason_desc", f.DropReasonDesc)
	if f.IsReply != nil {
		b = appendKey(b, "is_reply")
		b = strconv.AppendBool(b, *f.IsReply)
	}
	b = appendKey(b, "Summary")
	b = appendString(b, f.Summary)
	return append(b, '}')
}

func (l *Layer4) appendJSON(b []byte) []byte {
	b = append(b, '{')
	first := true
	sep := func() {
		if !first {
			b = append(b, ',')
		}
		first = false
	}
	if t := l.TCP; t != nil {
		sep()
		b = append(b, `"TCP":{`...)
		n := len(b)
		b = appendOptUint(b, "source_port", t.SourcePort, n)
		b = appendOptUint(b, "destination_port", t.DestinationPort, n)
		if t.Flags != nil {
			b = appendSep(b, n)
			b = append(b, `"flags":{`...)
			m := len(b)
			for _, fl := range []struct {
				on   bool
				name string
			}{{t.Flags.FIN, "FIN"}, {t.Flags.SYN, "SYN"}, {t.Flags.RST, "RST"}, {t.Flags.PSH, "PSH"}, {t.Flags.ACK, "ACK"}, {t.Flags.URG, "URG"}} {
				if fl.on {
					b = appendSep(b, m)
					b = append(b, '"')
					b = append(b, fl.name...)
					b = append(b, `":true`...)
				}
			}
			b = append(b, '}')
		}
		b = append(b, '}')
	}
	if u := l.UDP; u != nil {
		sep()
		b = append(b, `"UDP":{`...)
		n := len(b)
		b = appendOptUint(b, "source_port", u.SourcePort, n)
		b = appendOptUint(b, "destination_port", u.DestinationPort, n)
		b = append(b, '}')
	}
	if i := l.ICMPv4; i != nil {
		sep()
		b = append(b, `"ICMPv4":{`...)
		n := len(b)
		b = appendOptUint(b, "type", i.Type, n)
		b = appendOptUint(b, "code", i.Code, n)
		b = append(b, '}')
	}
	return append(b, '}')
}

func (e *Endpoint) appendJSON(b []byte) []byte {
	b = append(b, '{')
	n := len(b)
	b = appendOptUint(b, "ID", e.ID, n)
	b = appendOptUint(b, "identity", e.Identity, n)
	if e.Namespace != "" {
		b = appendSep(b, n)
		b = append(b, `"namespace":`...)
		b = appendString(b, e.Namespace)
	}
	if len(e.Labels) > 0 {
		b = appendSep(b, n)
		b = append(b, `"labels":[`...)
		for i, l := range e.Labels {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, l)
		}
		b = append(b, ']')
	}
	if e.PodName != "" {
		b = appendSep(b, n)
		b = append(b, `"pod_name":`...)
		b = appendString(b, e.PodName)
	}
	return append(b, '}')
}

// appendSep appends a comma unless the object opened at start is empty.
func appendSep(b []byte, start int) []byte {
	if len(b) > start {
		b = append(b, ',')
	}
	return b
}

func appendOptUint(b []byte, key string, v uint32, start int) []byte {
	if v == 0 {
		return b
	}
	b = appendSep(b, start)
	b = append(b, '"')
	b = append(b, key...)
	b = append(b, `":`...)
	return strconv.AppendUint(b, uint64(v), 10)
}

// appendKey appends `,"key":` for a field that is not the object's first.
func appendKey(b []byte, key string) []byte {
	b = append(b, `,"`...)
	b = append(b, key...)
	return append(b, `":`...)
}

func appendOptString(b []byte, key, v string) []byte {
	if v == "" {
		return b
	}
	return appendString(appendKey(b, key), v)
}

func appendTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

const hexDigits = "0123456789abcdef"

// appendString quotes s as encoding/json does by default, HTML-safe
// escapes and U+2028/U+2029 included, invalid UTF-8 as U+FFFD.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
