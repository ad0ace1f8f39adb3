package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
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

// decodeJSON decodes body strictly into v: one JSON object, no unknown
// fields, no trailing data. Errors name the offending field.
func decodeJSON(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return malformed("", "request body is empty; expected a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syn):
			return malformed("", fmt.Sprintf("invalid JSON at byte %d: %v", syn.Offset, syn))
		case errors.As(err, &typ):
			field := typ.Field
			if field == "" {
				return malformed("", "request body must be a JSON object")
			}
			return malformed(field, fmt.Sprintf("must be %s, not %s", jsonKind(typ.Type.Kind().String()), typ.Value))
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			return malformed(field, "unknown field")
		case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
			return malformed("", "truncated JSON")
		default:
			return malformed("", err.Error())
		}
	}
	if dec.More() {
		return malformed("", "unexpected data after the JSON object")
	}
	return nil
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
