package voicebot

import "strings"

// Templates are plain strings with {{name}} references (spaces allowed
// inside the braces). Names are lower-case dotted identifiers:
// [a-z_][a-z0-9_]*(\.[a-z0-9_]+)*. Unknown names fill in as "".

// Built-in variable names. The env-derived ones are computed from Env
// when a template is filled and cannot be set by a flow.
var (
	envVars = map[string]bool{
		"customer.id": true, "customer.name": true, "customer.email": true, "customer.locale": true,
		"channel": true, "from": true, "to": true,
		"call.id": true, "session.id": true, "conversation.id": true,
	}
	engineVars = map[string]bool{
		"input": true, "input_kind": true,
		"http.status": true, "http.error": true, "llm.error": true,
	}
)

// IsBuiltinVar reports whether name is a built-in variable.
func IsBuiltinVar(name string) bool { return envVars[name] || engineVars[name] }

// validVarName reports whether name matches [a-z_][a-z0-9_]*(\.[a-z0-9_]+)*.
func validVarName(name string) bool {
	if name == "" {
		return false
	}
	segStart := true
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '.':
			if segStart {
				return false
			}
			segStart = true
			continue
		case c >= 'a' && c <= 'z', c == '_':
		case c >= '0' && c <= '9':
			if i == 0 {
				return false
			}
		default:
			return false
		}
		segStart = false
	}
	return !segStart
}

// templateRefs returns the variable names a template refers to, or a
// description of the first malformed reference.
func templateRefs(tpl string) (names []string, problem string) {
	for {
		i := strings.Index(tpl, "{{")
		if i < 0 {
			return names, ""
		}
		rest := tpl[i+2:]
		j := strings.Index(rest, "}}")
		if j < 0 {
			return names, "unclosed \"{{\""
		}
		name := strings.TrimSpace(rest[:j])
		switch {
		case name == "":
			return names, "empty variable name in \"{{}}\""
		case !validVarName(name):
			return names, "bad variable name \"" + name + "\": want lower-case letters, digits, _ and dots, like customer.name"
		}
		names = append(names, name)
		tpl = rest[j+2:]
	}
}

// fill replaces each {{name}} with look(name). Malformed references are
// left as they are (validation rejects them).
func fill(tpl string, look func(string) string) string {
	i := strings.Index(tpl, "{{")
	if i < 0 {
		return tpl
	}
	var b strings.Builder
	b.Grow(len(tpl) + 16)
	for i >= 0 {
		b.WriteString(tpl[:i])
		rest := tpl[i+2:]
		j := strings.Index(rest, "}}")
		if j < 0 {
			b.WriteString(tpl[i:])
			return b.String()
		}
		name := strings.TrimSpace(rest[:j])
		if validVarName(name) {
			b.WriteString(look(name))
		} else {
			b.WriteString(tpl[i : i+2+j+2])
		}
		tpl = rest[j+2:]
		i = strings.Index(tpl, "{{")
	}
	b.WriteString(tpl)
	return b.String()
}
