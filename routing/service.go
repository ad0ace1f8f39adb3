package routing

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	sb "github.com/switchboardhq/switchboard"
)

// Store is the persistence routing needs. Implementations resolve and
// create under constraints (unique identities, one open conversation per
// customer), so concurrent callers agree without coordinating here.
type Store interface {
	AccountSettings(ctx context.Context, accountID string) (sb.AccountSettings, error)
	// ResolveIdentity finds the customer (channel, address) belongs to,
	// creating the identity and, on first contact, the customer. A phone
	// number already known on another phone channel joins that customer.
	ResolveIdentity(ctx context.Context, accountID string, ch sb.Channel, address string) (sb.Resolution, error)
	// JoinConversation attaches an interaction to the customer's open
	// conversation, closing an idle one and opening a new one as needed,
	// and notes the interaction on the identity.
	JoinConversation(ctx context.Context, j JoinRequest) (sb.Join, error)
	// Attach is ResolveIdentity and JoinConversation in one, for an
	// interaction addressed by (channel, address): one statement for a
	// known identity with a recent open conversation.
	Attach(ctx context.Context, a AttachRequest) (sb.Resolution, sb.Join, error)
	GetCustomer(ctx context.Context, accountID, id string) (*sb.Customer, error)
	GetConversation(ctx context.Context, accountID, id string) (*sb.Conversation, error)
	OptOut(ctx context.Context, o sb.OptOut) (created bool, deliveries []string, err error)
	OptIn(ctx context.Context, accountID string, ch sb.Channel, address, source string) (removed bool, deliveries []string, err error)
	// ChannelRoutes lists the account's active connected channels with their
	// senders (no credentials): which provider carries which sender.
	ChannelRoutes(ctx context.Context, accountID string) ([]sb.ConnectedChannel, error)
}

// JoinRequest describes one interaction joining a conversation.
type JoinRequest struct {
	AccountID  string
	CustomerID string
	IdentityID string
	Channel    sb.Channel
	Direction  sb.Direction
	InboundTo  string // our address an inbound message was sent to
	At         time.Time
	Idle       time.Duration // the account's inactivity period
}

// AttachRequest is an interaction by address: who it is with and how it
// joins their conversation.
type AttachRequest struct {
	AccountID string
	Channel   sb.Channel
	Address   string
	Direction sb.Direction
	InboundTo string
	At        time.Time
	Idle      time.Duration
}

// Service applies the routing rules: who a message belongs to, which
// channel reaches a customer, opt-outs and quiet hours.
type Service struct {
	store Store
	now   func() time.Time

	mu       sync.Mutex
	settings map[string]cachedSettings
}

type cachedSettings struct {
	s        sb.AccountSettings
	channels []sb.ConnectedChannel
	at       time.Time
}

// settingsTTL bounds how stale another process's settings change can be
// here; changes made through this process apply at once (Forget).
const settingsTTL = 5 * time.Second

// NewService returns a routing service over store.
func NewService(store Store) *Service {
	return &Service{store: store, now: time.Now, settings: map[string]cachedSettings{}}
}

// Settings returns the account's settings with defaults filled in.
func (s *Service) Settings(ctx context.Context, accountID string) (sb.AccountSettings, error) {
	c, err := s.account(ctx, accountID)
	return c.s, err
}

// account returns the account's settings and connected channels, cached
// briefly. Default senders come from settings.senders, else from the
// connected channels' default (or first) sender per channel.
func (s *Service) account(ctx context.Context, accountID string) (cachedSettings, error) {
	s.mu.Lock()
	c, ok := s.settings[accountID]
	s.mu.Unlock()
	if ok && time.Since(c.at) < settingsTTL {
		return c, nil
	}
	st, err := s.store.AccountSettings(ctx, accountID)
	if err != nil {
		return cachedSettings{}, err
	}
	st = st.WithDefaults()
	chans, err := s.store.ChannelRoutes(ctx, accountID)
	if err != nil {
		return cachedSettings{}, err
	}
	senders := map[sb.Channel]string{}
	for _, ch := range chans {
		for _, snd := range ch.Senders {
			if _, ok := senders[snd.Channel]; !ok || snd.Default {
				senders[snd.Channel] = snd.Address
			}
		}
	}
	for ch, addr := range st.Senders {
		senders[ch] = addr
	}
	st.Senders = senders
	c = cachedSettings{s: st, channels: chans, at: time.Now()}
	s.mu.Lock()
	if len(s.settings) > 10000 {
		clear(s.settings)
	}
	s.settings[accountID] = c
	s.mu.Unlock()
	return c, nil
}

// carrier finds the connected channel that sends on ch from address from:
// its id and provider type, or the sandbox when none is connected.
func carrier(chans []sb.ConnectedChannel, ch sb.Channel, from string) (channelID, provider string) {
	if from == "" {
		return "", sb.ProviderSandbox
	}
	for i := range chans {
		if _, ok := chans[i].SenderFor(ch, from); ok {
			return chans[i].ID, chans[i].Type
		}
	}
	return "", sb.ProviderSandbox
}

// Forget drops the cached settings and channels of an account after they
// changed.
func (s *Service) Forget(accountID string) {
	s.mu.Lock()
	delete(s.settings, accountID)
	s.mu.Unlock()
}

// IsTemplate reports whether a message's metadata carries a pre-approved
// template ({"template": {...}}), the only kind WhatsApp delivers outside
// its customer service window.
func IsTemplate(metadata json.RawMessage) bool {
	var m struct {
		Template json.RawMessage `json:"template"`
	}
	return json.Unmarshal(metadata, &m) == nil && len(m.Template) > 0 && string(m.Template) != "null"
}

// WhatsAppWindow is Meta's customer service window: free-form messages
// may follow a customer's last message by at most this long.
const WhatsAppWindow = 24 * time.Hour

// ChannelAuto asks routing to pick the channel.
const ChannelAuto sb.Channel = "auto"

// OutboundRequest is a send as the caller asked for it.
type OutboundRequest struct {
	AccountID  string
	Channel    sb.Channel // a channel, or ChannelAuto (customer only)
	To         string     // an address on Channel, or
	CustomerID string     // a customer
	From       string     // optional where a default sender exists
	Category   string
	Mode       string // recorded on the decision: auto | conversation | failover
	Reason     string // with Mode conversation: why this channel
	// Template marks a pre-approved template message (metadata.template):
	// WhatsApp allows only those outside its 24-hour service window.
	Template bool
}

// Outbound is where a message goes and what it belongs to.
type Outbound struct {
	Channel        sb.Channel
	To             string
	From           string
	CustomerID     string
	ConversationID string
	Decision       *sb.RoutingDecision
	DeferredUntil  time.Time
	Deliveries     []string // customer/conversation webhooks written on the way
	Provider       string   // the provider type carrying it (sandbox when none is connected)
	ChannelID      string   // the connected channel ("" for the sandbox)
}

// Apply copies the routing outcome onto m.
func (o *Outbound) Apply(m *sb.Message) {
	m.Channel, m.To, m.From = o.Channel, o.To, o.From
	m.CustomerID, m.ConversationID, m.Routing, m.DeferredUntil = o.CustomerID, o.ConversationID, o.Decision, o.DeferredUntil
	m.Provider, m.ChannelID = o.Provider, o.ChannelID
}

// Outbound routes a send: it resolves the destination to a customer
// (creating one on first contact), picks the channel for ChannelAuto,
// refuses opted-out identities, joins the customer's conversation and
// applies quiet hours to marketing sends.
func (s *Service) Outbound(ctx context.Context, r OutboundRequest) (*Outbound, error) {
	acct, err := s.account(ctx, r.AccountID)
	if err != nil {
		return nil, err
	}
	st := acct.s
	var lastInbound time.Time
	out := &Outbound{Channel: r.Channel, From: r.From}
	var customer *sb.Customer
	now := s.now()
	if r.CustomerID != "" {
		if customer, err = s.store.GetCustomer(ctx, r.AccountID, r.CustomerID); err != nil {
			return nil, err
		}
		id, err := s.pick(customer, st, r, out)
		if err != nil {
			return nil, err
		}
		out.To, out.CustomerID, lastInbound = id.Address, customer.ID, id.LastInboundAt
		j, err := s.store.JoinConversation(ctx, JoinRequest{AccountID: r.AccountID, CustomerID: out.CustomerID, IdentityID: id.ID,
			Channel: out.Channel, Direction: sb.Outbound, At: now, Idle: st.ConversationInactivity})
		if err != nil {
			return nil, err
		}
		out.ConversationID, out.Deliveries = j.ConversationID, j.Deliveries
	} else {
		res, j, err := s.store.Attach(ctx, AttachRequest{AccountID: r.AccountID, Channel: r.Channel, Address: r.To,
			Direction: sb.Outbound, At: now, Idle: st.ConversationInactivity})
		if err != nil {
			return nil, err
		}
		if res.OptedOut {
			return nil, optedOut(r.Channel, r.To)
		}
		out.To, out.CustomerID, out.ConversationID, lastInbound = r.To, res.CustomerID, j.ConversationID, res.LastInboundAt
		out.Deliveries = append(res.Deliveries, j.Deliveries...)
		if out.From == "" {
			// Reply from the address they wrote to, else the default.
			out.From = res.LastInboundTo
		}
		if out.From == "" {
			out.From = st.Senders[r.Channel]
		}
	}
	if out.From == "" {
		e := sb.Invalid(sb.FieldError{Field: "from", Message: fmt.Sprintf("is required: the account has no default %s sender (settings.senders)", out.Channel)})
		return nil, e
	}
	out.ChannelID, out.Provider = carrier(acct.channels, out.Channel, out.From)
	if out.Channel == sb.ChannelWhatsApp && out.Provider != sb.ProviderSandbox && !r.Template &&
		(lastInbound.IsZero() || now.Sub(lastInbound) > WhatsAppWindow) {
		return nil, sb.Invalid(sb.FieldError{Field: "metadata.template", Message: "the customer has not written on WhatsApp in the last 24 hours: " +
			"outside WhatsApp's customer service window only a pre-approved template may be sent (metadata.template)"})
	}
	if r.Category == sb.CategoryMarketing && st.QuietHours != nil {
		if customer == nil {
			if customer, err = s.store.GetCustomer(ctx, r.AccountID, out.CustomerID); err != nil {
				return nil, err
			}
		}
		out.DeferredUntil = QuietUntil(*st.QuietHours, customer.Timezone, now)
	}
	return out, nil
}

func optedOut(ch sb.Channel, addr string) error {
	return sb.Errorf(sb.EOPTEDOUT, "%s:%s has opted out of messages; it can opt back in by replying START, or an operator can DELETE its opt-out", ch, addr)
}

// pick chooses the customer's identity for r: on r.Channel when one is
// named, else by the routing rules — the preferred channel if reachable,
// else the channel the customer was last active on — skipping opted-out
// identities and channels with no sender.
func (s *Service) pick(c *sb.Customer, st sb.AccountSettings, r OutboundRequest, out *Outbound) (*sb.Identity, error) {
	sender := func(id *sb.Identity) string {
		if r.From != "" {
			return r.From
		}
		if id.LastInboundTo != "" {
			return id.LastInboundTo
		}
		return st.Senders[id.Channel]
	}
	if r.Channel != ChannelAuto {
		id, skip := usable(c, r.Channel, sender)
		switch {
		case id != nil:
		case skip == "opted_out":
			return nil, optedOut(r.Channel, addressOn(c, r.Channel))
		case skip == "no_sender":
			return nil, sb.Invalid(sb.FieldError{Field: "from", Message: fmt.Sprintf("is required: the account has no default %s sender (settings.senders)", r.Channel)})
		default:
			return nil, sb.Errorf(sb.ENOROUTE, "customer %s has no %s identity", c.ID, r.Channel)
		}
		out.From = sender(id)
		mode := r.Mode
		if mode == "" {
			mode = "explicit"
		}
		out.Decision = &sb.RoutingDecision{Mode: mode, Channel: r.Channel, Reason: r.Reason}
		if out.Decision.Reason == "" {
			out.Decision.Reason = "requested"
		}
		return id, nil
	}
	d := &sb.RoutingDecision{Mode: "auto"}
	for _, cand := range Candidates(c) {
		id, skip := usable(c, cand.Channel, sender)
		if id == nil {
			if !slices.ContainsFunc(d.Skipped, func(k sb.RoutingSkip) bool { return k.Channel == cand.Channel }) {
				d.Skipped = append(d.Skipped, sb.RoutingSkip{Channel: cand.Channel, Reason: skip})
			}
			continue
		}
		d.Channel, d.Reason = cand.Channel, cand.Reason
		out.Channel, out.From, out.Decision = cand.Channel, sender(id), d
		return id, nil
	}
	allOptedOut := len(d.Skipped) > 0 && !slices.ContainsFunc(d.Skipped, func(k sb.RoutingSkip) bool { return k.Reason != "opted_out" })
	if allOptedOut {
		return nil, sb.Errorf(sb.EOPTEDOUT, "every identity of customer %s has opted out of messages", c.ID)
	}
	var why []string
	for _, k := range d.Skipped {
		why = append(why, string(k.Channel)+": "+k.Reason)
	}
	if len(why) == 0 {
		why = []string{"the customer has no identities"}
	}
	return nil, sb.Errorf(sb.ENOROUTE, "no channel reaches customer %s (%s)", c.ID, strings.Join(why, ", "))
}

// Candidate is a channel routing would try, with the rule that put it there.
type Candidate struct {
	Channel sb.Channel
	Reason  string // preferred_channel | last_active
}

// Candidates orders the customer's channels by the auto rules: the
// preferred channel first, then channels by when the customer last wrote
// on them, then by when they were last used at all.
func Candidates(c *sb.Customer) []Candidate {
	var out []Candidate
	seen := map[sb.Channel]bool{}
	add := func(ch sb.Channel, why string) {
		if !seen[ch] {
			seen[ch] = true
			out = append(out, Candidate{ch, why})
		}
	}
	if c.PreferredChannel != "" {
		add(c.PreferredChannel, "preferred_channel")
	}
	ids := slices.Clone(c.Identities)
	slices.SortStableFunc(ids, func(a, b sb.Identity) int {
		if c := b.LastInboundAt.Compare(a.LastInboundAt); c != 0 {
			return c
		}
		return b.LastSeenAt.Compare(a.LastSeenAt)
	})
	for _, id := range ids {
		add(id.Channel, "last_active")
	}
	return out
}

// usable returns the customer's best identity on ch that is not opted out
// and has a sender, or why there is none: opted_out, no_sender or
// no_identity.
func usable(c *sb.Customer, ch sb.Channel, sender func(*sb.Identity) string) (*sb.Identity, string) {
	skip := "no_identity"
	var best *sb.Identity
	for i := range c.Identities {
		id := &c.Identities[i]
		if id.Channel != ch {
			continue
		}
		switch {
		case id.OptedOut:
			skip = "opted_out"
		case sender(id) == "":
			if skip != "opted_out" {
				skip = "no_sender"
			}
		case best == nil || id.LastInboundAt.After(best.LastInboundAt) ||
			(id.LastInboundAt.Equal(best.LastInboundAt) && id.LastSeenAt.After(best.LastSeenAt)):
			best = id
		}
	}
	if best != nil {
		return best, ""
	}
	return nil, skip
}

func addressOn(c *sb.Customer, ch sb.Channel) string {
	for _, id := range c.Identities {
		if id.Channel == ch {
			return id.Address
		}
	}
	return ""
}

// Inbound attaches an inbound message to its sender's customer and
// conversation, creating both on first contact, and fills m's ids. It
// returns the webhook deliveries written on the way.
func (s *Service) Inbound(ctx context.Context, m *sb.Message) ([]string, error) {
	st, err := s.Settings(ctx, m.AccountID)
	if err != nil {
		return nil, err
	}
	res, j, err := s.store.Attach(ctx, AttachRequest{AccountID: m.AccountID, Channel: m.Channel, Address: m.From,
		Direction: sb.Inbound, InboundTo: m.To, At: s.now(), Idle: st.ConversationInactivity})
	if err != nil {
		return nil, err
	}
	if j.ConversationID == "" {
		// An opted-out identity writing in (START, or anything else) still
		// belongs to the thread.
		jr := JoinRequest{AccountID: m.AccountID, CustomerID: res.CustomerID, IdentityID: res.IdentityID,
			Channel: m.Channel, Direction: sb.Inbound, InboundTo: m.To, At: s.now(), Idle: st.ConversationInactivity}
		if j, err = s.store.JoinConversation(ctx, jr); err != nil {
			return nil, err
		}
	}
	m.CustomerID, m.ConversationID = res.CustomerID, j.ConversationID
	return append(res.Deliveries, j.Deliveries...), nil
}

// Keyword actions.
const (
	KeywordNone   = ""
	KeywordOptOut = "opt_out"
	KeywordOptIn  = "opt_in"
)

// MatchKeyword reports whether text is one of the account's opt-out or
// opt-in keywords: the whole message, trimmed, any case.
func MatchKeyword(st sb.AccountSettings, text string) (action, keyword string) {
	t := strings.TrimSpace(text)
	t = strings.TrimRight(t, ".!")
	for _, k := range st.OptOutKeywords {
		if strings.EqualFold(t, k) {
			return KeywordOptOut, k
		}
	}
	for _, k := range st.OptInKeywords {
		if strings.EqualFold(t, k) {
			return KeywordOptIn, k
		}
	}
	return KeywordNone, ""
}

// Keywords acts on an inbound message that is an opt-out or opt-in
// keyword: it records the change and returns the confirmation to send on
// the same channel (nil when the text is no keyword). The confirmation is
// sent even to a just-opted-out identity: it is the last message it gets.
func (s *Service) Keywords(ctx context.Context, m *sb.Message) (*sb.Message, []string, error) {
	st, err := s.Settings(ctx, m.AccountID)
	if err != nil {
		return nil, nil, err
	}
	action, kw := MatchKeyword(st, m.Text)
	var text string
	var deliveries []string
	switch action {
	case KeywordOptOut:
		_, deliveries, err = s.store.OptOut(ctx, sb.OptOut{AccountID: m.AccountID, Channel: m.Channel, Address: m.From,
			CustomerID: m.CustomerID, Source: "keyword", Keyword: kw})
		text = st.OptOutReply
	case KeywordOptIn:
		_, deliveries, err = s.store.OptIn(ctx, m.AccountID, m.Channel, m.From, "keyword")
		text = st.OptInReply
	default:
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	reply := &sb.Message{AccountID: m.AccountID, Channel: m.Channel, Direction: sb.Outbound, From: m.To, To: m.From,
		Text: text, Status: sb.StatusAccepted, CustomerID: m.CustomerID, ConversationID: m.ConversationID,
		Category: sb.CategoryTransactional, Routing: &sb.RoutingDecision{Mode: "keyword", Channel: m.Channel, Reason: action}}
	if m.Channel == sb.ChannelSMS {
		reply.Encoding, reply.Segments = sb.SMSSegments(text)
	}
	return reply, deliveries, nil
}

// Reply routes a reply in a conversation: on ch when given, else on the
// channel the customer last wrote on (the conversation's current channel if
// they never wrote).
func (s *Service) Reply(ctx context.Context, accountID, conversationID string, ch sb.Channel, from, category string, template bool) (*Outbound, error) {
	conv, err := s.store.GetConversation(ctx, accountID, conversationID)
	if err != nil {
		return nil, err
	}
	reason := "requested"
	if ch == "" {
		ch, reason = conv.LastInboundChannel, "last_inbound"
		if ch == "" {
			ch, reason = conv.CurrentChannel, "current_channel"
		}
	}
	return s.Outbound(ctx, OutboundRequest{AccountID: accountID, Channel: ch, CustomerID: conv.CustomerID, From: from,
		Category: category, Mode: "conversation", Reason: reason, Template: template})
}

// Retry runs fn again when a concurrent merge removed the customer it
// attached to; a few tries always suffice, as each one re-resolves.
func Retry(ctx context.Context, fn func() error) error {
	var err error
	for range 4 {
		if err = fn(); !errors.Is(err, sb.ErrCustomerGone) {
			return err
		}
	}
	return err
}
