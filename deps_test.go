package switchboard_test

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/switchboardhq/switchboard"

// TestImportRules keeps dependencies pointing inward: the domain, the SDK
// and the webhook library use only the standard library; each third-party
// dependency stays in the one package that owns it; siblings do not import
// each other.
func TestImportRules(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}:{{join .Imports " "}}`, "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	imports := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, deps, _ := strings.Cut(line, ":")
		imports[strings.TrimPrefix(strings.TrimPrefix(pkg, module), "/")] = strings.Fields(deps)
	}
	isStd := func(p string) bool { return !strings.Contains(strings.SplitN(p, "/", 2)[0], ".") }
	// owners: a third-party import prefix and the packages allowed to use it.
	owners := map[string][]string{
		"github.com/gin-gonic/":         {"api"},
		"github.com/jackc/pgx":          {"postgres", "testenv", "cmd/sbbench"},
		"github.com/pressly/goose":      {"postgres"},
		"github.com/hibiken/asynq":      {"queue", "cmd/sbbench"},
		"github.com/redis/go-redis":     {"queue", "testenv", "cmd/sbbench"},
		"github.com/nyaruka/":           {"routing"},
		"github.com/pion/":              {"providers/webrtc", "providers/webrtc/webrtctest", "cmd/sbbench"},
		"github.com/twilio/twilio-go":   {"providers/twilio"},
		"github.com/getkin/kin-openapi": {"api", "testenv"},
	}
	// forbidden: package → our packages it must not import.
	forbidden := map[string][]string{
		"":                   {"api", "queue", "postgres", "providers", "routing", "webhook", "sdk"},
		"sdk":                {""},
		"webhook":            {""},
		"api":                {"postgres", "queue", "providers"},
		"queue":              {"api", "postgres", "providers"},
		"postgres":           {"api", "queue", "providers", "webhook"},
		"providers/sandbox":  {"api", "queue", "postgres"},
		"providers/twilio":   {"api", "queue", "postgres", "routing"},
		"providers/telegram": {"api", "queue", "postgres", "routing"},
		"providers/whatsapp": {"api", "queue", "postgres", "routing"},
		"providers/viber":    {"api", "queue", "postgres", "routing"},
		"providers/exolve":   {"api", "queue", "postgres", "routing"},
		"keyring":            {""},
		"routing":            {"api", "queue", "postgres", "providers"},
		// The engine knows no transports, stores or queues; its runtime
		// reaches them through interfaces it declares.
		"voicebot":         {""},
		"voicebot/tts":     {"api", "queue", "postgres", "providers", "routing", "webhook", "voicebot/runtime"},
		"voicebot/stt":     {"api", "queue", "postgres", "providers", "routing", "webhook", "voicebot/runtime"},
		"voicebot/llm":     {"api", "queue", "postgres", "providers", "routing", "webhook"},
		"voicebot/media":   {"api", "queue", "postgres", "providers", "routing", "webhook"},
		"voicebot/runtime": {"api", "queue", "postgres", "providers"},
		"providers/webrtc": {"api", "queue", "postgres", "routing", "voicebot/runtime"},
		"web":              {""},
	}
	for pkg, deps := range imports {
		for _, d := range deps {
			if strings.HasPrefix(d, module) {
				ours := strings.TrimPrefix(strings.TrimPrefix(d, module), "/")
				for _, f := range forbidden[pkg] {
					if ours == f || (f != "" && strings.HasPrefix(ours, f+"/")) || (f == "" && pkg != "") {
						t.Errorf("%q imports %q", pkg, ours)
					}
				}
				continue
			}
			if isStd(d) {
				continue
			}
			if pkg == "" || pkg == "sdk" || pkg == "webhook" || pkg == "keyring" || pkg == "web" || strings.HasPrefix(pkg, "voicebot") && pkg != "voicebot/runtime" {
				t.Errorf("%q must use only the standard library, imports %s", pkg, d)
			}
			for prefix, allowed := range owners {
				if strings.HasPrefix(d, prefix) && !contains(allowed, pkg) {
					t.Errorf("%q imports %s, which belongs to %v", pkg, d, allowed)
				}
			}
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
