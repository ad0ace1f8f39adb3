package switchboard

// Status is a point in a message's lifecycle:
//
//	accepted → queued → sending → sent → delivered | undelivered | failed (+ read)
//
// Inbound messages are born "received".
type Status string

const (
	StatusAccepted    Status = "accepted"
	StatusQueued      Status = "queued"
	StatusSending     Status = "sending"
	StatusSent        Status = "sent"
	StatusDelivered   Status = "delivered"
	StatusUndelivered Status = "undelivered"
	StatusFailed      Status = "failed"
	StatusRead        Status = "read"
	StatusReceived    Status = "received"
)

// statusRank orders statuses so that late or out-of-order receipts never move
// a message backwards. Terminal failures share the top rank with read so that
// nothing overrides them; read outranks delivered.
var statusRank = map[Status]int{
	StatusAccepted:    1,
	StatusQueued:      2,
	StatusSending:     3,
	StatusSent:        4,
	StatusDelivered:   5,
	StatusUndelivered: 6,
	StatusFailed:      6,
	StatusRead:        6,
	StatusReceived:    6,
}

// Valid reports whether s is a known status.
func (s Status) Valid() bool { _, ok := statusRank[s]; return ok }

// Rank is s's position in the lifecycle; a transition is applied only when
// it raises the rank.
func (s Status) Rank() int { return statusRank[s] }

// Terminal reports whether no further transition may follow s, except read
// after delivered.
func (s Status) Terminal() bool { return s.Rank() >= 5 }

// CanMoveTo reports whether a message in s may take status next: only
// forward, and from delivered only to read (a late "undelivered" or
// "failed" receipt must not undo a delivery).
func (s Status) CanMoveTo(next Status) bool {
	if s == StatusDelivered {
		return next == StatusRead
	}
	return next.Rank() > s.Rank()
}

// EventType is the webhook event type announced for a transition to s, or ""
// when the transition is not announced (accepted, sending).
func (s Status) EventType() string {
	switch s {
	case StatusQueued, StatusSent, StatusDelivered, StatusUndelivered, StatusFailed, StatusRead, StatusReceived:
		return "message." + string(s)
	}
	return ""
}

// EventTypes lists every webhook event type an endpoint may subscribe to.
var EventTypes = []string{
	"message.queued", "message.sent", "message.delivered", "message.undelivered",
	"message.failed", "message.read", "message.received",
	EventCustomerCreated, EventCustomerMerged, EventConversationOpened, EventConversationClosed,
	EventCustomerOptedOut, EventCustomerOptedIn,
	"call.queued", "call.ringing", "call.in-progress", "call.completed", "call.busy", "call.no-answer",
	"call.failed", "call.canceled",
}
