package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"

	sb "github.com/switchboardhq/switchboard"
)

// maxBody bounds request bodies.
const maxBody = 256 << 10

func httpError(code, format string, args ...any) *sb.Error {
	return sb.Errorf(code, format, args...)
}

// readBody reads a JSON request body within the size limit.
func readBody(r *http.Request) ([]byte, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return nil, httpError(ecMediaType, "Content-Type must be application/json, not %q", ct)
		}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return nil, httpError(ecMalformed, "could not read body: %v", err)
	}
	if len(body) > maxBody {
		return nil, httpError(ecTooLarge, "body exceeds %d bytes", maxBody)
	}
	return body, nil
}

// decodeJSON decodes body strictly into v (a pointer to a struct): one JSON
// object, field names matched exactly (encoding/json alone would accept
// "Text" for "text"), no unknown fields, no trailing data. Errors name the
// offending field.
func decodeJSON(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return malformed("", "request body is empty; expected a JSON object")
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil || fields == nil {
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			switch msg := syn.Error(); {
			case strings.Contains(msg, "after top-level value"):
				return malformed("", fmt.Sprintf("unexpected data after the JSON object at byte %d", syn.Offset))
			case strings.Contains(msg, "unexpected end of JSON input"):
				return malformed("", "truncated JSON")
			default:
				return malformed("", fmt.Sprintf("invalid JSON at byte %d: %v", syn.Offset, syn))
			}
		}
		return malformed("", "request body must be a JSON object")
	}
	known := jsonFields(v)
	for name := range fields {
		if !known[name] {
			return malformed(name, "unknown field")
		}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var typ *json.UnmarshalTypeError
		var domain *sb.Error
		if errors.As(err, &domain) {
			return domain
		}
		if errors.As(err, &typ) && typ.Field != "" {
			return malformed(typ.Field, fmt.Sprintf("must be %s, not %s", jsonKind(typ.Type.Kind().String()), typ.Value))
		}
		return malformed("", err.Error())
	}
	return nil
}

// jsonFields lists the exact JSON names of a struct's fields.
func jsonFields(v any) map[string]bool {
	t := reflect.TypeOf(v)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	out := map[string]bool{}
	if t.Kind() != reflect.Struct {
		return out
	}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = true
	}
	return out
}

func jsonKind(k string) string {
	switch k {
	case "string":
		return "a string"
	case "slice", "array":
		return "an array"
	case "map", "struct", "ptr":
		return "an object"
	case "bool":
		return "a boolean"
	}
	return "a number"
}

func malformed(field, msg string) error {
	e := httpError(ecMalformed, "%s", msg)
	if field != "" {
		e.Message = field + ": " + msg
		e.Fields = []sb.FieldError{{Field: field, Message: msg}}
	}
	return e
}
