package whatsapp

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	sb "github.com/switchboardhq/switchboard"
)

func TestIsTemplate(t *testing.T) {
	tests := []struct {
		metadata string
		want     bool
	}{
		{``, false},
		{`{}`, false},
		{`{"order": 42}`, false},
		{`{"template": null}`, false},
		{`{"template": {"name": "hello_world", "language": "en_US"}}`, true},
		{`{"template": {"name": ""}}`, true}, // malformed, but a template: Send refuses it
		{`[1, 2]`, false},
		{`not json`, false},
	}
	for _, tt := range tests {
		if got := IsTemplate(&sb.Message{Metadata: json.RawMessage(tt.metadata)}); got != tt.want {
			t.Errorf("IsTemplate(%s) = %v, want %v", tt.metadata, got, tt.want)
		}
	}
}

func TestValidateTemplate(t *testing.T) {
	tests := []struct {
		name     string
		metadata string
		fields   []string
	}{
		{name: "no metadata"},
		{name: "no template", metadata: `{"order": 42}`},
		{name: "code", metadata: `{"template": {"name": "hello_world", "language": "en_US"}}`},
		{name: "object", metadata: `{"template": {"name": "x", "language": {"code": "en"}, "components": []}}`},
		{name: "template is a string", metadata: `{"template": "hello_world"}`, fields: []string{"metadata.template"}},
		{name: "no name, no language", metadata: `{"template": {}}`, fields: []string{"metadata.template.name", "metadata.template.language"}},
		{name: "empty language code", metadata: `{"template": {"name": "x", "language": ""}}`, fields: []string{"metadata.template.language"}},
		{name: "language object without code", metadata: `{"template": {"name": "x", "language": {"policy": "deterministic"}}}`, fields: []string{"metadata.template.language.code"}},
		{name: "language a number", metadata: `{"template": {"name": "x", "language": 1}}`, fields: []string{"metadata.template.language"}},
		{name: "components not an array", metadata: `{"template": {"name": "x", "language": "en", "components": {"type": "body"}}}`, fields: []string{"metadata.template.components"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateTemplate(json.RawMessage(tt.metadata))
			if len(tt.fields) == 0 {
				if err != nil {
					t.Fatalf("ValidateTemplate: %v", err)
				}
				return
			}
			var e *sb.Error
			if !errors.As(err, &e) || e.Code != sb.EINVALID {
				t.Fatalf("ValidateTemplate = %v, want EINVALID", err)
			}
			var got []string
			for _, f := range e.Fields {
				got = append(got, f.Field)
			}
			if !reflect.DeepEqual(got, tt.fields) {
				t.Errorf("fields = %v, want %v", got, tt.fields)
			}
		})
	}
}
