package exolve

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// wireID is an identifier or count Exolve may write either as a JSON string
// (grpc-gateway's encoding of 64-bit integers, what clients observe) or as
// a JSON number. A number is kept digit for digit, never through a float64,
// so an 18-digit message_id survives.
type wireID string

func (w *wireID) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		*w = ""
		return nil
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*w = wireID(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("want a string or a number, got %s", b)
	}
	*w = wireID(n.String())
	return nil
}

// wireEnum is an enum value as Exolve's events carry it: by name
// ("DIRECTION_INCOMING", what clients observe) or by number (the protobuf
// value, which one client sends); in resolves a number to its name.
type wireEnum struct {
	name   string
	number string
}

func (w *wireEnum) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		*w = wireEnum{}
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		return json.Unmarshal(b, &w.name)
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("want an enum name or number, got %s", b)
	}
	w.number = n.String()
	return nil
}

// in returns the value's name, looking a number up in names.
func (w wireEnum) in(names map[string]string) string {
	if w.name != "" {
		return w.name
	}
	return names[w.number]
}
