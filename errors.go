package switchboard

import (
	"errors"
	"fmt"
)

// Error codes shared by every layer; the API maps each to one HTTP status and
// problem type.
const (
	EINVALID      = "invalid"      // input failed validation
	ENOTFOUND     = "not_found"    // no such resource in this account
	ECONFLICT     = "conflict"     // idempotency key reused with another body
	EBLOCKED      = "blocked"      // destination refused by the SSRF guard
	EUNAVAILABLE  = "unavailable"  // a dependency (PostgreSQL, Redis) is down
	EINTERNAL     = "internal"     // a bug
	EUNAUTHORIZED = "unauthorized" // missing or unknown API key
	EOPTEDOUT     = "opted_out"    // the destination opted out of messages
	ENOROUTE      = "no_route"     // routing found no channel to reach the customer
	EEXISTS       = "exists"       // conflicts with the resource's state: an identity of another record, a call already over
	EFORBIDDEN    = "forbidden"    // a webhook whose signature does not verify
	EREFUSED      = "refused"      // a provider refused the credentials given to connect it
)

// FieldError names one offending input field.
type FieldError struct {
	Field   string
	Message string
}

// Error is a domain error carrying a code and, for validation failures, the
// offending fields.
type Error struct {
	Code    string
	Message string
	Fields  []FieldError
}

func (e *Error) Error() string { return fmt.Sprintf("switchboard: %s: %s", e.Code, e.Message) }

// Errorf returns an *Error with code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Invalid returns a validation error naming the fields at fault.
func Invalid(fields ...FieldError) *Error {
	msg := "invalid input"
	if len(fields) > 0 {
		msg = fields[0].Field + ": " + fields[0].Message
	}
	return &Error{Code: EINVALID, Message: msg, Fields: fields}
}

// ErrorCode returns the code of the *Error in err's chain, EINTERNAL for any
// other non-nil error and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrNotFound is returned by stores for rows that do not exist in the
// caller's account.
var ErrNotFound = &Error{Code: ENOTFOUND, Message: "not found"}

// ErrCustomerGone is returned when an interaction was about to attach to a
// customer that a concurrent merge removed; the caller resolves again.
var ErrCustomerGone = &Error{Code: EUNAVAILABLE, Message: "customer was merged concurrently; resolve again"}
