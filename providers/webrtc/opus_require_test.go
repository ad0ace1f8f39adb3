package webrtc

import (
	"os"
	"strings"
	"testing"
)

// CI names opus in SWITCHBOARD_TEST_REQUIRE: a build without it must fail
// there rather than pass with G.711 alone.
func TestOpusBuildRequired(t *testing.T) {
	if strings.Contains(os.Getenv("SWITCHBOARD_TEST_REQUIRE"), "opus") && !OpusSupported {
		t.Fatal("Opus is required (SWITCHBOARD_TEST_REQUIRE) but this build has none: install libopus-dev and build with -tags opus")
	}
}
