// Package migrations holds the SQL schema as goose migrations, embedded in
// the binary so `switchboard migrate` needs nothing on disk.
package migrations

import "embed"

// FS holds every migration file, applied in version order by goose.
//
//go:embed *.sql
var FS embed.FS
