package api

import (
	"context"
	"encoding/json"
	"time"

	sb "github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/routing"
)

const (
	fakeCustomer  = "0193f6a2-5c00-7000-8000-000000000c01"
	fakeCustomer2 = "0193f6a2-5c00-7000-8000-000000000c02"
	fakeConv      = "0193f6a2-5d00-7000-8000-000000000d01"
)

func (fakeQueue) Schedule(context.Context, *sb.Message, time.Time) error   { return nil }
func (fakeQueue) EnqueueFailover(context.Context, string, time.Time) error { return nil }

func fakeCustomerRecord() *sb.Customer {
	return &sb.Customer{ID: fakeCustomer, AccountID: fakeAccount, Name: "Anna", Timezone: "Europe/Moscow",
		Attributes: json.RawMessage(`{"tier":"gold"}`), PreferredChannel: sb.ChannelWhatsApp,
		Identities: []sb.Identity{
			{Channel: sb.ChannelSMS, Address: "+79991234567", LastInboundTo: "+15005550000", LastInboundAt: fakeTime, LastSeenAt: fakeTime, CreatedAt: fakeTime},
			{Channel: sb.ChannelWhatsApp, Address: "+79991234567", OptedOut: true, CreatedAt: fakeTime},
			{Channel: sb.ChannelTelegram, Address: "42", CreatedAt: fakeTime},
		},
		CreatedAt: fakeTime, UpdatedAt: fakeTime}
}

func fakeConvRecord() *sb.Conversation {
	return &sb.Conversation{ID: fakeConv, AccountID: fakeAccount, CustomerID: fakeCustomer, Status: "open",
		Channels: []sb.Channel{"sms"}, CurrentChannel: "sms", LastInboundChannel: "sms", MessageCount: 2,
		LastActivityAt: fakeTime, CreatedAt: fakeTime, UpdatedAt: fakeTime}
}

func (fakeStore) CreateCustomer(_ context.Context, c *sb.Customer) (*sb.Customer, []string, error) {
	c.ID, c.CreatedAt, c.UpdatedAt = fakeCustomer, fakeTime, fakeTime
	for i := range c.Identities {
		c.Identities[i].CreatedAt = fakeTime
	}
	return c, nil, nil
}
func (fakeStore) GetCustomer(_ context.Context, _, id string) (*sb.Customer, error) {
	if id != fakeCustomer {
		return nil, sb.ErrNotFound
	}
	return fakeCustomerRecord(), nil
}
func (fakeStore) ListCustomers(context.Context, string, sb.CustomerFilter) ([]*sb.Customer, string, error) {
	c := fakeCustomerRecord()
	c.PreferredChannel, c.Attributes, c.Identities = "", nil, nil
	return []*sb.Customer{fakeCustomerRecord(), c}, "next", nil
}
func (fakeStore) FindCustomerByIdentity(_ context.Context, _ string, ch sb.Channel, a string) (*sb.Customer, error) {
	if ch == sb.ChannelSMS && a == "+79991234567" {
		return fakeCustomerRecord(), nil
	}
	return nil, sb.ErrNotFound
}
func (s fakeStore) UpdateCustomer(ctx context.Context, acc, id string, u sb.CustomerUpdate) (*sb.Customer, error) {
	c, err := s.GetCustomer(ctx, acc, id)
	if err != nil {
		return nil, err
	}
	if u.PreferredChannel != nil {
		c.PreferredChannel = *u.PreferredChannel
	}
	if u.Attributes != nil {
		c.Attributes = u.Attributes
	}
	return c, nil
}
func (fakeStore) DeleteCustomer(_ context.Context, _, id string) error {
	if id != fakeCustomer {
		return sb.ErrNotFound
	}
	return nil
}
func (s fakeStore) AddIdentity(ctx context.Context, acc, id string, ch sb.Channel, a string) (*sb.Customer, bool, error) {
	c, err := s.GetCustomer(ctx, acc, id)
	if err != nil {
		return nil, false, err
	}
	if a == "+70000000000" {
		return nil, false, sb.Errorf(sb.EEXISTS, "belongs to another customer")
	}
	for _, x := range c.Identities {
		if x.Channel == ch && x.Address == a {
			return c, false, nil
		}
	}
	c.Identities = append(c.Identities, sb.Identity{Channel: ch, Address: a, CreatedAt: fakeTime})
	return c, true, nil
}
func (fakeStore) RemoveIdentity(_ context.Context, _, id string, ch sb.Channel, a string) error {
	if id != fakeCustomer || ch != sb.ChannelSMS {
		return sb.ErrNotFound
	}
	return nil
}
func (s fakeStore) MergeCustomers(ctx context.Context, acc, into, from string) (*sb.Customer, []string, error) {
	if into == from {
		return nil, nil, sb.Invalid(sb.FieldError{Field: "from_customer_id", Message: "same"})
	}
	if from == fakeUnknown {
		return nil, nil, sb.Errorf(sb.EEXISTS, "merged elsewhere")
	}
	c, err := s.GetCustomer(ctx, acc, into)
	return c, nil, err
}
func (fakeStore) Timeline(_ context.Context, _, id, _ string, _ int) ([]sb.TimelineEntry, string, error) {
	if id != fakeCustomer {
		return nil, "", sb.ErrNotFound
	}
	call := fakeCallRecords()[1]
	lines, _ := fakeStore{}.CallTranscript(context.Background(), fakeAccount, fakeCall)
	line := lines[0]
	// A bot's turn in a chat: no call.
	chat := sb.TranscriptEntry{ID: "0193f6a2-7500-7000-8000-000000000011", AccountID: fakeAccount, SessionID: fakeSession,
		CustomerID: fakeCustomer, Channel: sb.ChannelTelegram, Role: sb.RoleCaller, Kind: "text", Text: "2", CreatedAt: fakeTime}
	m := fakeMessages()[0]
	m.CustomerID, m.ConversationID, m.Routing = fakeCustomer, fakeConv, &sb.RoutingDecision{Mode: "explicit", Channel: "sms", Reason: "requested"}
	return []sb.TimelineEntry{
		{Type: "message", ID: m.ID, At: fakeTime, Message: m},
		{Type: "event", ID: "0193f6a2-5e00-7000-8000-000000000e01", At: fakeTime, Event: &sb.CustomerEvent{ID: "0193f6a2-5e00-7000-8000-000000000e01",
			CustomerID: fakeCustomer, ConversationID: fakeConv, Type: "conversation.opened", Data: json.RawMessage(`{"channel":"sms"}`), CreatedAt: fakeTime}},
		{Type: "event", ID: "0193f6a2-5e00-7000-8000-000000000e02", At: fakeTime, Event: &sb.CustomerEvent{ID: "0193f6a2-5e00-7000-8000-000000000e02",
			CustomerID: fakeCustomer, Type: "customer.created", CreatedAt: fakeTime}},
		{Type: "call", ID: call.ID, At: fakeTime, Call: call},
		{Type: "transcript", ID: line.ID, At: fakeTime, Transcript: &line},
		{Type: "transcript", ID: chat.ID, At: fakeTime, Transcript: &chat},
	}, "", nil
}
func (fakeStore) GetConversation(_ context.Context, _, id string) (*sb.Conversation, error) {
	if id != fakeConv {
		return nil, sb.ErrNotFound
	}
	return fakeConvRecord(), nil
}
func (fakeStore) ListConversations(context.Context, string, sb.ConversationFilter) ([]*sb.Conversation, string, error) {
	c := fakeConvRecord()
	c.Status, c.ClosedAt, c.ClosedReason, c.LastInboundChannel = "closed", fakeTime, "inactivity", ""
	taken := fakeConvRecord()
	taken.Agent = "agent-7" // an agent took it over from the bot
	return []*sb.Conversation{fakeConvRecord(), c, taken}, "", nil
}
func (s fakeStore) CloseConversation(ctx context.Context, acc, id, reason string) (*sb.Conversation, []string, error) {
	c, err := s.GetConversation(ctx, acc, id)
	if err != nil {
		return nil, nil, err
	}
	c.Status, c.ClosedAt, c.ClosedReason = "closed", fakeTime, reason
	return c, nil, nil
}

func (fakeStore) AccountSettings(context.Context, string) (sb.AccountSettings, error) {
	return sb.AccountSettings{Senders: map[sb.Channel]string{"sms": "+15005550000"}}, nil
}
func (fakeStore) PutAccountSettings(context.Context, string, sb.AccountSettings) error { return nil }
func (fakeStore) ResolveIdentity(_ context.Context, _ string, ch sb.Channel, a string) (sb.Resolution, error) {
	return sb.Resolution{CustomerID: fakeCustomer, IdentityID: "i1", OptedOut: a == "+79990000001"}, nil
}
func (f fakeStore) Attach(ctx context.Context, a routing.AttachRequest) (sb.Resolution, sb.Join, error) {
	res, _ := f.ResolveIdentity(ctx, a.AccountID, a.Channel, a.Address)
	if res.OptedOut {
		return res, sb.Join{}, nil
	}
	return res, sb.Join{ConversationID: fakeConv}, nil
}
func (fakeStore) JoinConversation(context.Context, routing.JoinRequest) (sb.Join, error) {
	return sb.Join{ConversationID: fakeConv}, nil
}
func (fakeStore) OptOut(context.Context, sb.OptOut) (bool, []string, error) { return true, nil, nil }
func (fakeStore) OptIn(_ context.Context, _ string, ch sb.Channel, _, _ string) (bool, []string, error) {
	return ch == sb.ChannelSMS, nil, nil
}
func (fakeStore) GetOptOut(_ context.Context, _ string, ch sb.Channel, a string) (*sb.OptOut, error) {
	return &sb.OptOut{AccountID: fakeAccount, Channel: ch, Address: a, CustomerID: fakeCustomer, Source: "api", CreatedAt: fakeTime}, nil
}
func (fakeStore) ListOptOuts(context.Context, string, sb.OptOutFilter) ([]*sb.OptOut, string, error) {
	return []*sb.OptOut{
		{Channel: "sms", Address: "+79991234567", CustomerID: fakeCustomer, Source: "keyword", Keyword: "STOP", CreatedAt: fakeTime},
		{Channel: "telegram", Address: "42", Source: "provider", CreatedAt: fakeTime},
	}, "", nil
}
func (fakeStore) CreateFailover(context.Context, *sb.Message, *sb.Idempotency, func(*sb.Message) (int, []byte, error)) (*sb.Message, *sb.Replay, error) {
	panic("unused")
}

func (fakeStore) ChannelRoutes(context.Context, string) ([]sb.ConnectedChannel, error) {
	return nil, nil
}
func (fakeQueue) EnqueueReceipt(context.Context, sb.Receipt) error { return nil }
