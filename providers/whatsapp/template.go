package whatsapp

import (
	"bytes"
	"encoding/json"
	"strings"

	sb "github.com/switchboardhq/switchboard"
)

// A template message is asked for in the message metadata:
//
//	{"template": {"name": "order_shipped", "language": "en_US",
//	              "components": [{"type": "body", "parameters": [...]}]}}
//
// language is a code or Meta's object ({"code": "en_US", "policy":
// "deterministic"}); components are passed to Meta as given.

// IsTemplate reports whether m asks for a template message: its metadata
// has a "template" entry. Outside the 24-hour customer-service window only
// such messages may be sent. A malformed template still counts (so the
// window check lets it through); ValidateTemplate says what is wrong with
// it and Send refuses it permanently.
func IsTemplate(m *sb.Message) bool {
	raw, ok := templateEntry(m.Metadata)
	return ok && !isNull(raw)
}

// ValidateTemplate checks the template in a message's metadata, if any,
// naming the offending fields ("metadata.template.name", …). Metadata
// without a template is valid.
func ValidateTemplate(metadata json.RawMessage) error {
	if _, fields := parseTemplate(metadata); len(fields) > 0 {
		return sb.Invalid(fields...)
	}
	return nil
}

// template is the Cloud API template object for metadata, nil when it
// asks for none.
func template(metadata json.RawMessage) (json.RawMessage, error) {
	out, fields := parseTemplate(metadata)
	if len(fields) > 0 {
		msgs := make([]string, len(fields))
		for i, f := range fields {
			msgs[i] = f.Field + " " + f.Message
		}
		return nil, templateError(strings.Join(msgs, "; "))
	}
	return out, nil
}

type templateError string

func (e templateError) Error() string { return string(e) }

// templateOut is what Meta receives.
type templateOut struct {
	Name       string          `json:"name"`
	Language   languageOut     `json:"language"`
	Components json.RawMessage `json:"components,omitempty"`
}

type languageOut struct {
	Code   string `json:"code"`
	Policy string `json:"policy,omitempty"`
}

// parseTemplate reads the template entry of metadata into Meta's shape, or
// reports what is wrong with it.
func parseTemplate(metadata json.RawMessage) (json.RawMessage, []sb.FieldError) {
	raw, ok := templateEntry(metadata)
	if !ok || isNull(raw) {
		return nil, nil
	}
	var in struct {
		Name       string          `json:"name"`
		Language   json.RawMessage `json:"language"`
		Components json.RawMessage `json:"components"`
	}
	if err := json.Unmarshal(raw, &in); err != nil {
		return nil, []sb.FieldError{{Field: "metadata.template", Message: "must be an object with name, language and optional components"}}
	}
	var fields []sb.FieldError
	bad := func(f, msg string) {
		fields = append(fields, sb.FieldError{Field: "metadata.template." + f, Message: msg})
	}
	out := templateOut{Name: strings.TrimSpace(in.Name)}
	if out.Name == "" {
		bad("name", "is required")
	}
	switch lang := bytes.TrimSpace(in.Language); {
	case len(lang) == 0 || isNull(lang):
		bad("language", `is required: a code such as "en_US" or {"code": "en_US"}`)
	case lang[0] == '"':
		_ = json.Unmarshal(lang, &out.Language.Code)
		out.Language.Code = strings.TrimSpace(out.Language.Code)
		if out.Language.Code == "" {
			bad("language", "must not be empty")
		}
	case json.Unmarshal(lang, &out.Language) != nil:
		bad("language", "must be a code or an object with a code")
	default:
		out.Language.Code = strings.TrimSpace(out.Language.Code)
		if out.Language.Code == "" {
			bad("language.code", "is required")
		}
	}
	if c := bytes.TrimSpace(in.Components); len(c) > 0 && !isNull(c) {
		if c[0] != '[' {
			bad("components", "must be an array")
		} else {
			out.Components = c
		}
	}
	if len(fields) > 0 {
		return nil, fields
	}
	b, err := json.Marshal(out)
	if err != nil { // components were checked to be a JSON array
		return nil, []sb.FieldError{{Field: "metadata.template.components", Message: "must be valid JSON"}}
	}
	return b, nil
}

// templateEntry is the raw "template" entry of metadata, if metadata is an
// object that has one.
func templateEntry(metadata json.RawMessage) (json.RawMessage, bool) {
	if len(bytes.TrimSpace(metadata)) == 0 {
		return nil, false
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(metadata, &obj) != nil {
		return nil, false
	}
	raw, ok := obj["template"]
	return raw, ok
}

func isNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }
