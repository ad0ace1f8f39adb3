package switchboard

import "time"

// Idempotency identifies a request by its Idempotency-Key and a hash of its
// body, so a retry replays the original answer and a reused key with another
// body is a conflict.
type Idempotency struct {
	Key         string
	RequestHash []byte
}

// Replay is the stored answer to an earlier request with the same key.
type Replay struct {
	Status int
	Body   []byte
}

// MessageFilter narrows a message listing.
type MessageFilter struct {
	Channel       Channel
	Status        Status
	Direction     Direction
	To            string
	CreatedAfter  time.Time
	CreatedBefore time.Time
	Cursor        string
	Limit         int
}

// EndpointUpdate holds the fields a PATCH may change; nil leaves a field be.
type EndpointUpdate struct {
	URL         *string
	Events      []string
	Description *string
	Enabled     *bool
}

// FailoverSave is one step of a failover parent's progress, saved only if
// the stored plan still has Version and the step messages still have the
// Observed statuses: the new plan, a step message to insert, step messages
// to cancel before they are sent, a status for the parent, and when to
// look again.
type FailoverSave struct {
	ParentID       string
	Version        int
	Observed       map[string]Status
	Plan           *FailoverPlan
	Child          *Message
	Cancel         []string
	ConversationID string // the parent joins its first step's conversation
	Status         Status
	ErrorCode      string
	ErrorMessage   string
	CheckAt        time.Time
}
