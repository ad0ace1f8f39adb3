package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard/postgres"
	"github.com/switchboardhq/switchboard/testenv"
	"github.com/switchboardhq/switchboard/webhook"
)

// rawClient drives the REST API with plain JSON, every exchange checked
// against the OpenAPI spec, for the routing features.
type rawClient struct {
	t    *testing.T
	base string
	key  string
	hc   *http.Client
}

func (s *stack) raw(name string) *rawClient {
	s.t.Helper()
	db, err := postgres.Open(context.Background(), s.cfg.DatabaseURL, 2)
	if err != nil {
		s.t.Fatal(err)
	}
	defer db.Close()
	secret, _ := webhook.NewSecret()
	_, key, err := db.CreateAccount(context.Background(), name, secret)
	if err != nil {
		s.t.Fatal(err)
	}
	return &rawClient{t: s.t, base: s.url, key: key,
		hc: &http.Client{Transport: testenv.ValidatingTransport(s.t, http.DefaultTransport), Timeout: 30 * time.Second}}
}

// do sends body as JSON and decodes the answer into out (when not nil),
// returning the status code and the raw body.
func (c *rawClient) do(method, path string, body, out any) (int, []byte) {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			c.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, c.base+path, rd)
	req.Header.Set("Authorization", "Bearer "+c.key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			c.t.Fatalf("%s %s: decode %s: %v", method, path, b, err)
		}
	}
	return resp.StatusCode, b
}

// must is do that fails the test unless the answer has status want.
func (c *rawClient) must(want int, method, path string, body, out any) {
	c.t.Helper()
	if code, b := c.do(method, path, body, out); code != want {
		c.t.Fatalf("%s %s: %d %s, want %d", method, path, code, b, want)
	}
}

type rmsg struct {
	ID             string  `json:"id"`
	Channel        string  `json:"channel"`
	Direction      string  `json:"direction"`
	From           string  `json:"from"`
	To             string  `json:"to"`
	Text           string  `json:"text"`
	Status         string  `json:"status"`
	Provider       string  `json:"provider"`
	ErrorCode      *string `json:"error_code"`
	CustomerID     string  `json:"customer_id"`
	ConversationID string  `json:"conversation_id"`
	Category       *string `json:"category"`
	ParentID       *string `json:"parent_id"`
	DeferredUntil  *string `json:"deferred_until"`
	Routing        *struct {
		Mode    string `json:"mode"`
		Channel string `json:"channel"`
		Reason  string `json:"reason"`
		Skipped []struct {
			Channel string `json:"channel"`
			Reason  string `json:"reason"`
		} `json:"skipped"`
	} `json:"routing"`
	Failover *struct {
		Steps []struct {
			Channel   string  `json:"channel"`
			MessageID *string `json:"message_id"`
			State     string  `json:"state"`
			To        *string `json:"to"`
		} `json:"steps"`
		Winner *int `json:"winner"`
	} `json:"failover"`
}

type rconv struct {
	ID                 string   `json:"id"`
	CustomerID         string   `json:"customer_id"`
	Status             string   `json:"status"`
	Channels           []string `json:"channels"`
	CurrentChannel     string   `json:"current_channel"`
	LastInboundChannel *string  `json:"last_inbound_channel"`
	MessageCount       int      `json:"message_count"`
}

type rcustomer struct {
	ID         string `json:"id"`
	Identities []struct {
		Channel  string `json:"channel"`
		Address  string `json:"address"`
		OptedOut bool   `json:"opted_out"`
	} `json:"identities"`
}

type rlist[T any] struct {
	Data       []T     `json:"data"`
	NextCursor *string `json:"next_cursor"`
}

func (c *rawClient) inbound(ch, from, to, text string) rmsg {
	c.t.Helper()
	var m rmsg
	c.must(http.StatusAccepted, "POST", "/v1/sandbox/inbound", map[string]string{"channel": ch, "from": from, "to": to, "text": text}, &m)
	return m
}

func (c *rawClient) send(body map[string]any) rmsg {
	c.t.Helper()
	var m rmsg
	c.must(http.StatusAccepted, "POST", "/v1/messages", body, &m)
	return m
}

func (c *rawClient) message(id string) rmsg {
	c.t.Helper()
	var m rmsg
	c.must(http.StatusOK, "GET", "/v1/messages/"+id, nil, &m)
	return m
}

// waitMessage polls message id until cond holds.
func (c *rawClient) waitMessage(id, what string, timeout time.Duration, cond func(rmsg) bool) rmsg {
	c.t.Helper()
	var m rmsg
	deadline := time.Now().Add(timeout)
	for {
		m = c.message(id)
		if cond(m) {
			return m
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("message %s: timed out after %s waiting for %s; it is %+v (failover %+v)", id, timeout, what, m, m.Failover)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (c *rawClient) waitDelivered(id string) rmsg {
	c.t.Helper()
	return c.waitMessage(id, "delivered", 20*time.Second, func(m rmsg) bool { return m.Status == "delivered" })
}

func (c *rawClient) problem(method, path string, body any, status int, typ string) {
	c.t.Helper()
	code, b := c.do(method, path, body, nil)
	var p struct {
		Type string `json:"type"`
	}
	json.Unmarshal(b, &p)
	if code != status || p.Type != "https://switchboard.dev/problems/"+typ {
		c.t.Fatalf("%s %s: %d %s, want %d %s", method, path, code, b, status, typ)
	}
}

func TestRoutingConversationAcrossChannels(t *testing.T) {
	s := newStack(t)
	c := s.raw("crosschannel")
	hook := newReceiver(t)
	c.must(http.StatusCreated, "POST", "/v1/webhook-endpoints", map[string]any{"url": hook.srv.URL, "events": []string{"*"}}, nil)

	// The first SMS creates the customer and opens the conversation.
	first := c.inbound("sms", "+79991234567", "+15005550000", "Hi, my parcel is late")
	if first.CustomerID == "" || first.ConversationID == "" {
		t.Fatalf("inbound message not attached: %+v", first)
	}
	// The same person is linked to their Telegram chat, then writes there.
	c.must(http.StatusCreated, "POST", "/v1/customers/"+first.CustomerID+"/identities", map[string]string{"channel": "telegram", "address": "4242"}, nil)
	second := c.inbound("telegram", "4242", "switchboard_bot", "Writing from Telegram now")
	if second.CustomerID != first.CustomerID || second.ConversationID != first.ConversationID {
		t.Fatalf("telegram message joined customer %s conversation %s, want %s %s", second.CustomerID, second.ConversationID, first.CustomerID, first.ConversationID)
	}
	var conv rconv
	c.must(http.StatusOK, "GET", "/v1/conversations/"+first.ConversationID, nil, &conv)
	if len(conv.Channels) != 2 || conv.Channels[0] != "sms" || conv.Channels[1] != "telegram" || conv.CurrentChannel != "telegram" ||
		conv.LastInboundChannel == nil || *conv.LastInboundChannel != "telegram" || conv.MessageCount != 2 {
		t.Fatalf("conversation %+v", conv)
	}

	// A reply without a channel goes where the customer last wrote, from
	// the address they wrote to.
	var reply rmsg
	c.must(http.StatusAccepted, "POST", "/v1/conversations/"+conv.ID+"/messages", map[string]string{"text": "Sorry! It arrives tomorrow."}, &reply)
	if reply.Channel != "telegram" || reply.To != "4242" || reply.From != "switchboard_bot" || reply.ConversationID != conv.ID ||
		reply.CustomerID != first.CustomerID || reply.Routing == nil || reply.Routing.Mode != "conversation" || reply.Routing.Reason != "last_inbound" {
		t.Fatalf("reply %+v routing %+v", reply, reply.Routing)
	}
	c.waitDelivered(reply.ID)
	// An explicit channel overrides: back on SMS from the number they used.
	var sms rmsg
	c.must(http.StatusAccepted, "POST", "/v1/conversations/"+conv.ID+"/messages", map[string]string{"text": "Also by SMS", "channel": "sms"}, &sms)
	if sms.Channel != "sms" || sms.To != "+79991234567" || sms.From != "+15005550000" || sms.ConversationID != conv.ID {
		t.Fatalf("sms reply %+v", sms)
	}

	// One conversation, one customer; the timeline holds all four messages.
	var convs rlist[rconv]
	c.must(http.StatusOK, "GET", "/v1/conversations?customer_id="+first.CustomerID, nil, &convs)
	if len(convs.Data) != 1 {
		t.Fatalf("%d conversations, want 1", len(convs.Data))
	}
	var tl rlist[struct {
		Type    string `json:"type"`
		Message *rmsg  `json:"message"`
	}]
	c.must(http.StatusOK, "GET", "/v1/customers/"+first.CustomerID+"/timeline?limit=100", nil, &tl)
	n := 0
	for _, e := range tl.Data {
		if e.Type == "message" {
			n++
		}
	}
	if n != 4 {
		t.Fatalf("timeline has %d messages, want 4: %+v", n, tl.Data)
	}

	// Webhooks: customer.created and conversation.opened, and message
	// events carrying the customer and conversation.
	waitFor(t, "customer and conversation webhooks", 10*time.Second, func() bool {
		var created, opened, delivered bool
		for _, g := range hook.all() {
			switch g.event.Type {
			case "customer.created":
				created = true
			case "conversation.opened":
				opened = true
			case "message.delivered":
				var d rmsg
				json.Unmarshal(g.event.Data, &d)
				delivered = delivered || (d.ID == reply.ID && d.CustomerID == first.CustomerID && d.ConversationID == conv.ID)
			}
		}
		return created && opened && delivered
	})

	// Closing by API: the next interaction opens a new conversation.
	c.must(http.StatusOK, "POST", "/v1/conversations/"+conv.ID+"/close", nil, &conv)
	if conv.Status != "closed" {
		t.Fatalf("closed conversation is %s", conv.Status)
	}
	third := c.inbound("sms", "+79991234567", "+15005550000", "One more thing")
	if third.CustomerID != first.CustomerID || third.ConversationID == conv.ID {
		t.Fatalf("after close: customer %s conversation %s", third.CustomerID, third.ConversationID)
	}
	waitFor(t, "conversation.closed webhook", 10*time.Second, func() bool {
		for _, g := range hook.all() {
			if g.event.Type == "conversation.closed" {
				return true
			}
		}
		return false
	})
}

func TestRoutingConcurrentFirstContact(t *testing.T) {
	s := newStack(t)
	c := s.raw("firstcontact")
	var wg sync.WaitGroup
	ids := make([]string, 16)
	for i := range ids {
		ch := "sms"
		if i%2 == 1 {
			ch = "whatsapp" // the same number on another phone channel is the same person
		}
		wg.Go(func() { ids[i] = c.inbound(ch, "+79995550101", "+15005550000", fmt.Sprintf("hello %d", i)).CustomerID })
	}
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] || id == "" {
			t.Fatalf("concurrent first contacts made several customers: %v", ids)
		}
	}
	var list rlist[rcustomer]
	c.must(http.StatusOK, "GET", "/v1/customers?limit=100", nil, &list)
	if len(list.Data) != 1 || len(list.Data[0].Identities) != 2 {
		t.Fatalf("customers %+v, want one with an sms and a whatsapp identity", list.Data)
	}
	c.must(http.StatusOK, "GET", "/v1/customers?identity="+url.QueryEscape("whatsapp:+79995550101"), nil, &list)
	if len(list.Data) != 1 || list.Data[0].ID != ids[0] {
		t.Fatalf("lookup by identity: %+v", list.Data)
	}
	var convs rlist[rconv]
	c.must(http.StatusOK, "GET", "/v1/conversations?status=open", nil, &convs)
	if len(convs.Data) != 1 || convs.Data[0].MessageCount != len(ids) {
		t.Fatalf("open conversations %+v, want one with %d messages", convs.Data, len(ids))
	}
}

func TestRoutingAutoChannel(t *testing.T) {
	s := newStack(t)
	c := s.raw("auto")
	c.must(http.StatusOK, "PATCH", "/v1/account/settings", map[string]any{"senders": map[string]string{
		"sms": "+15005550000", "whatsapp": "+15005550000", "telegram": "switchboard_bot"}}, nil)
	newCustomer := func(preferred string, identities ...[2]string) string {
		var ids []map[string]string
		for _, i := range identities {
			ids = append(ids, map[string]string{"channel": i[0], "address": i[1]})
		}
		body := map[string]any{"identities": append([]map[string]string{}, ids...)}
		if preferred != "" {
			body["preferred_channel"] = preferred
		}
		var cu rcustomer
		c.must(http.StatusCreated, "POST", "/v1/customers", body, &cu)
		return cu.ID
	}
	auto := func(customer string) (int, rmsg, []byte) {
		var m rmsg
		code, b := c.do("POST", "/v1/messages", map[string]any{"to": map[string]string{"customer_id": customer}, "channel": "auto", "text": "Your code is 1234"}, &m)
		return code, m, b
	}

	t.Run("preferred channel when reachable", func(t *testing.T) {
		id := newCustomer("whatsapp", [2]string{"sms", "+79990001001"}, [2]string{"whatsapp", "+79990001001"})
		code, m, b := auto(id)
		if code != http.StatusAccepted || m.Channel != "whatsapp" || m.To != "+79990001001" || m.Routing.Mode != "auto" || m.Routing.Reason != "preferred_channel" {
			t.Fatalf("%d %s", code, b)
		}
		c.waitDelivered(m.ID)
	})
	t.Run("last active channel, skipping an opted-out preferred one", func(t *testing.T) {
		id := newCustomer("whatsapp", [2]string{"sms", "+79990001002"}, [2]string{"whatsapp", "+79990001002"}, [2]string{"telegram", "777"})
		c.inbound("sms", "+79990001002", "+15005550000", "earlier")
		c.inbound("telegram", "777", "switchboard_bot", "later")
		c.must(http.StatusCreated, "POST", "/v1/opt-outs", map[string]string{"channel": "whatsapp", "address": "+79990001002"}, nil)
		code, m, b := auto(id)
		if code != http.StatusAccepted || m.Channel != "telegram" || m.To != "777" || m.From != "switchboard_bot" || m.Routing.Reason != "last_active" ||
			len(m.Routing.Skipped) != 1 || m.Routing.Skipped[0].Channel != "whatsapp" || m.Routing.Skipped[0].Reason != "opted_out" {
			t.Fatalf("%d %s", code, b)
		}
	})
	t.Run("channel without a sender is skipped", func(t *testing.T) {
		id := newCustomer("viber", [2]string{"viber", "vb-1"}, [2]string{"sms", "+79990001003"})
		code, m, b := auto(id)
		if code != http.StatusAccepted || m.Channel != "sms" || len(m.Routing.Skipped) != 1 || m.Routing.Skipped[0].Reason != "no_sender" {
			t.Fatalf("%d %s", code, b)
		}
	})
	t.Run("everything opted out", func(t *testing.T) {
		id := newCustomer("", [2]string{"sms", "+79990001004"})
		c.must(http.StatusCreated, "POST", "/v1/opt-outs", map[string]string{"channel": "sms", "address": "+79990001004"}, nil)
		c.problem("POST", "/v1/messages", map[string]any{"to": map[string]string{"customer_id": id}, "channel": "auto", "text": "x"}, 422, "opted-out")
	})
	t.Run("no identity at all", func(t *testing.T) {
		id := newCustomer("")
		c.problem("POST", "/v1/messages", map[string]any{"to": map[string]string{"customer_id": id}, "channel": "auto", "text": "x"}, 422, "no-route")
	})
	t.Run("an explicit channel to a customer", func(t *testing.T) {
		id := newCustomer("", [2]string{"sms", "+79990001005"}, [2]string{"telegram", "778"})
		m := c.send(map[string]any{"to": map[string]string{"customer_id": id}, "channel": "telegram", "text": "hi"})
		if m.To != "778" || m.From != "switchboard_bot" || m.CustomerID != id {
			t.Fatalf("%+v", m)
		}
	})
	t.Run("auto needs a customer", func(t *testing.T) {
		c.problem("POST", "/v1/messages", map[string]any{"to": "+79990001006", "channel": "auto", "text": "x"}, 422, "validation")
	})
}

func TestRoutingFailover(t *testing.T) {
	s := newStack(t)
	c := s.raw("failover")
	c.must(http.StatusOK, "PATCH", "/v1/account/settings", map[string]any{"senders": map[string]string{"sms": "+15005550000", "whatsapp": "+15005550000"}}, nil)
	failover := func(to, after string) rmsg {
		return c.send(map[string]any{"to": to, "text": "Your order has shipped", "failover": []map[string]string{
			{"channel": "whatsapp"}, {"channel": "sms", "after": after, "unless": "delivered"}}})
	}
	decided := func(m rmsg) bool { return m.Failover != nil && m.Failover.Winner != nil && m.Status == "delivered" }

	t.Run("step one delivered: step two never sent", func(t *testing.T) {
		p := failover("+79990002001", "5s")
		if p.Provider != "failover" || p.Failover == nil || len(p.Failover.Steps) != 2 {
			t.Fatalf("parent %+v", p)
		}
		p = c.waitMessage(p.ID, "step one to win", 15*time.Second, decided)
		if *p.Failover.Winner != 0 || p.Failover.Steps[0].State != "won" || p.Failover.Steps[1].State != "cancelled" || p.Failover.Steps[1].MessageID != nil {
			t.Fatalf("failover %+v", p.Failover)
		}
		step := c.message(*p.Failover.Steps[0].MessageID)
		if step.Channel != "whatsapp" || step.ParentID == nil || *step.ParentID != p.ID || step.CustomerID != p.CustomerID {
			t.Fatalf("step message %+v", step)
		}
		// The timeline shows what the customer received: the step, not the parent.
		var tl rlist[struct {
			Type    string `json:"type"`
			Message *rmsg  `json:"message"`
		}]
		c.must(http.StatusOK, "GET", "/v1/customers/"+p.CustomerID+"/timeline", nil, &tl)
		var onTimeline []string
		for _, e := range tl.Data {
			if e.Message != nil {
				onTimeline = append(onTimeline, e.Message.ID)
			}
		}
		if len(onTimeline) != 1 || onTimeline[0] != step.ID {
			t.Fatalf("timeline messages %v, want only the step %s", onTimeline, step.ID)
		}
		time.Sleep(6 * time.Second) // past the timer: still nothing on SMS
		var list rlist[rmsg]
		c.must(http.StatusOK, "GET", "/v1/messages?channel=sms&to=%2B79990002001", nil, &list)
		if len(list.Data) != 0 {
			t.Fatalf("an SMS was sent after WhatsApp delivered: %+v", list.Data)
		}
	})
	t.Run("step one undelivered: step two sent at once", func(t *testing.T) {
		// +15005550009 is undelivered on every channel; a rule delivers SMS.
		c.must(http.StatusOK, "PUT", "/v1/sandbox/rules", map[string]string{"channel": "sms", "to": "+15005550009", "outcome": "delivered"}, nil)
		p := failover("+15005550009", "1m")
		p = c.waitMessage(p.ID, "step two to win", 15*time.Second, decided)
		if *p.Failover.Winner != 1 || p.Failover.Steps[0].State != "failed" || p.Failover.Steps[1].State != "won" {
			t.Fatalf("failover %+v", p.Failover)
		}
		if st := c.message(*p.Failover.Steps[0].MessageID); st.Status != "undelivered" {
			t.Fatalf("step one is %s", st.Status)
		}
	})
	t.Run("step one silent past its timer", func(t *testing.T) {
		c.must(http.StatusOK, "PUT", "/v1/sandbox/rules", map[string]string{"channel": "sms", "to": "+15005550006", "outcome": "delivered"}, nil)
		p := failover("+15005550006", "1s")
		p = c.waitMessage(p.ID, "step two to win", 15*time.Second, decided)
		if *p.Failover.Winner != 1 || p.Failover.Steps[0].State != "timed_out" {
			t.Fatalf("failover %+v", p.Failover)
		}
	})
	t.Run("every step fails", func(t *testing.T) {
		p := failover("+15005550001", "1m") // 21211 on every channel: permanent
		p = c.waitMessage(p.ID, "the parent to fail", 15*time.Second, func(m rmsg) bool { return m.Status == "failed" })
		if p.Failover.Winner != nil || p.ErrorCode == nil || *p.ErrorCode != "21211" {
			t.Fatalf("parent %+v failover %+v", p, p.Failover)
		}
	})
	t.Run("refused when every step is opted out", func(t *testing.T) {
		c.must(http.StatusCreated, "POST", "/v1/opt-outs", map[string]string{"channel": "whatsapp", "address": "+79990002005"}, nil)
		c.must(http.StatusCreated, "POST", "/v1/opt-outs", map[string]string{"channel": "sms", "address": "+79990002005"}, nil)
		c.problem("POST", "/v1/messages", map[string]any{"to": "+79990002005", "text": "x", "failover": []map[string]string{
			{"channel": "whatsapp"}, {"channel": "sms", "after": "1s"}}}, 422, "opted-out")
	})
	t.Run("validation", func(t *testing.T) {
		for _, body := range []map[string]any{
			{"to": "+79990002006", "text": "x", "channel": "sms", "failover": []map[string]string{{"channel": "whatsapp"}, {"channel": "sms"}}},
			{"to": "+79990002006", "text": "x", "failover": []map[string]string{{"channel": "whatsapp"}}},
			{"to": "+79990002006", "text": "x", "failover": []map[string]string{{"channel": "whatsapp", "after": "1s"}, {"channel": "sms"}}},
			{"to": "+79990002006", "text": "x", "failover": []map[string]string{{"channel": "whatsapp"}, {"channel": "sms", "unless": "queued"}}},
			{"to": "+79990002006", "text": "x", "failover": []map[string]string{{"channel": "whatsapp"}, {"channel": "sms", "after": "soon"}}},
		} {
			c.problem("POST", "/v1/messages", body, 422, "validation")
		}
	})
}

// TestRoutingFailoverAcrossWorkerRestart: the timer that moves a silent
// step on lives in Redis, so a worker that stops between steps loses
// nothing: the next worker sends step two.
func TestRoutingFailoverAcrossWorkerRestart(t *testing.T) {
	cfg := testConfig(t)
	api := startStack(t, cfg, RoleAPI)
	worker := startStack(t, cfg, RoleWorker)
	c := api.raw("restart")
	c.must(http.StatusOK, "PATCH", "/v1/account/settings", map[string]any{"senders": map[string]string{"sms": "+15005550000", "whatsapp": "+15005550000"}}, nil)
	c.must(http.StatusOK, "PUT", "/v1/sandbox/rules", map[string]string{"channel": "sms", "to": "+15005550006", "outcome": "delivered"}, nil)
	p := c.send(map[string]any{"to": "+15005550006", "text": "Your order has shipped", "failover": []map[string]string{
		{"channel": "whatsapp"}, {"channel": "sms", "after": "3s"}}})
	p = c.waitMessage(p.ID, "step one sent", 15*time.Second, func(m rmsg) bool {
		if m.Failover == nil || m.Failover.Steps[0].MessageID == nil {
			return false
		}
		return c.message(*m.Failover.Steps[0].MessageID).Status == "sent"
	})
	worker.app.Close() // the worker goes away with step two's timer pending
	time.Sleep(4 * time.Second)
	if m := c.message(p.ID); m.Failover.Steps[1].MessageID != nil {
		t.Fatalf("step two started with no worker running: %+v", m.Failover)
	}
	startStack(t, cfg, RoleWorker)
	p = c.waitMessage(p.ID, "step two to win after the restart", 20*time.Second, func(m rmsg) bool { return m.Failover.Winner != nil && m.Status == "delivered" })
	if *p.Failover.Winner != 1 || p.Failover.Steps[0].State != "timed_out" {
		t.Fatalf("failover %+v", p.Failover)
	}
}

func TestRoutingOptOut(t *testing.T) {
	s := newStack(t)
	c := s.raw("optout")
	const number = "+79990003001"
	send := func() (int, []byte) {
		return c.do("POST", "/v1/messages", map[string]any{"channel": "sms", "from": "+15005550000", "to": number, "text": "Sale!"}, nil)
	}
	c.send(map[string]any{"channel": "sms", "from": "+15005550000", "to": number, "text": "Welcome"})

	stop := c.inbound("sms", number, "+15005550000", "  stop ")
	// The confirmation goes back on the same channel, from the number they wrote to.
	var out rlist[rmsg]
	deadline := time.Now().Add(10 * time.Second)
	for {
		c.must(http.StatusOK, "GET", "/v1/messages?direction=outbound&to="+url.QueryEscape(number), nil, &out)
		if len(out.Data) == 2 && out.Data[0].Status == "delivered" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no delivered opt-out confirmation: %+v", out.Data)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if conf := out.Data[0]; conf.From != "+15005550000" || conf.Routing == nil || conf.Routing.Mode != "keyword" || conf.ConversationID != stop.ConversationID {
		t.Fatalf("confirmation %+v", conf)
	}
	if code, b := send(); code != 422 || !bytes.Contains(b, []byte("problems/opted-out")) {
		t.Fatalf("send to an opted-out number: %d %s", code, b)
	}
	var list rlist[struct {
		Channel string  `json:"channel"`
		Address string  `json:"address"`
		Source  string  `json:"source"`
		Keyword *string `json:"keyword"`
	}]
	c.must(http.StatusOK, "GET", "/v1/opt-outs", nil, &list)
	if len(list.Data) != 1 || list.Data[0].Address != number || list.Data[0].Source != "keyword" || list.Data[0].Keyword == nil || *list.Data[0].Keyword != "STOP" {
		t.Fatalf("opt-outs %+v", list.Data)
	}
	var cu rcustomer
	c.must(http.StatusOK, "GET", "/v1/customers/"+stop.CustomerID, nil, &cu)
	if len(cu.Identities) != 1 || !cu.Identities[0].OptedOut {
		t.Fatalf("customer identities %+v", cu.Identities)
	}

	c.inbound("sms", number, "+15005550000", "START")
	waitFor(t, "the opt-in confirmation", 10*time.Second, func() bool {
		c.must(http.StatusOK, "GET", "/v1/messages?direction=outbound&to="+url.QueryEscape(number), nil, &out)
		return len(out.Data) == 3
	})
	if code, b := send(); code != http.StatusAccepted {
		t.Fatalf("send after START: %d %s", code, b)
	}

	// Russian keywords, any case, on any channel.
	ru := c.inbound("telegram", "9001", "switchboard_bot", "Стоп")
	c.problem("POST", "/v1/messages", map[string]any{"channel": "telegram", "from": "switchboard_bot", "to": "9001", "text": "x"}, 422, "opted-out")
	c.inbound("telegram", "9002", "switchboard_bot", "ОТПИСАТЬСЯ")
	c.problem("POST", "/v1/messages", map[string]any{"channel": "telegram", "from": "switchboard_bot", "to": "9002", "text": "x"}, 422, "opted-out")
	if ru.Text != "Стоп" {
		t.Fatalf("the keyword message itself is stored as received: %+v", ru)
	}

	// Manual management; a configured keyword list.
	c.must(http.StatusCreated, "POST", "/v1/opt-outs", map[string]string{"channel": "sms", "address": "+7 999 000-30-02"}, nil)
	c.must(http.StatusOK, "POST", "/v1/opt-outs", map[string]string{"channel": "sms", "address": "+79990003002"}, nil)
	c.problem("POST", "/v1/messages", map[string]any{"channel": "sms", "from": "+15005550000", "to": "+79990003002", "text": "x"}, 422, "opted-out")
	c.must(http.StatusNoContent, "DELETE", "/v1/opt-outs?identity="+url.QueryEscape("sms:+79990003002"), nil, nil)
	c.problem("DELETE", "/v1/opt-outs?identity="+url.QueryEscape("sms:+79990003002"), nil, 404, "not-found")
	c.must(http.StatusOK, "PATCH", "/v1/account/settings", map[string]any{"opt_out_keywords": []string{"HALT"}}, nil)
	c.inbound("sms", "+79990003003", "+15005550000", "stop")
	c.send(map[string]any{"channel": "sms", "from": "+15005550000", "to": "+79990003003", "text": "STOP is not a keyword here any more"})
	c.inbound("sms", "+79990003003", "+15005550000", "halt")
	c.problem("POST", "/v1/messages", map[string]any{"channel": "sms", "from": "+15005550000", "to": "+79990003003", "text": "x"}, 422, "opted-out")
}

// TestRoutingQuietHours: a marketing send inside the customer's quiet hours
// waits until they end instead of being dropped; transactional sends and
// customers outside the window are not held. Quiet hours end on a minute
// boundary, so the test waits for the next one.
func TestRoutingQuietHours(t *testing.T) {
	s := newStack(t)
	c := s.raw("quiet")
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	now := time.Now().In(tokyo)
	end := now.Truncate(time.Minute).Add(time.Minute)
	if end.Sub(now) < 10*time.Second {
		end = end.Add(time.Minute)
	}
	start := now.Add(-time.Hour)
	c.must(http.StatusOK, "PATCH", "/v1/account/settings", map[string]any{
		"quiet_hours": map[string]string{"start": start.Format("15:04"), "end": end.Format("15:04"), "timezone": "UTC"}}, nil)
	customer := func(tz, number string) string {
		var cu rcustomer
		c.must(http.StatusCreated, "POST", "/v1/customers", map[string]any{"timezone": tz,
			"identities": []map[string]string{{"channel": "sms", "address": number}}}, &cu)
		return cu.ID
	}
	inTokyo, leaving := customer("Asia/Tokyo", "+81345678901"), customer("Asia/Tokyo", "+81345678902")
	elsewhere := customer("America/Chicago", "+13125550199") // twelve hours away: outside the window
	send := func(customer, category string) rmsg {
		return c.send(map[string]any{"to": map[string]string{"customer_id": customer}, "channel": "sms", "from": "+15005550000",
			"text": "Black Friday: 30% off", "category": category})
	}
	held, dropped := send(inTokyo, "marketing"), send(leaving, "marketing")
	// A marketing failover's first step is held the same way, and the next
	// step's timer runs from when it goes out.
	fo := c.send(map[string]any{"to": map[string]string{"customer_id": inTokyo}, "text": "Black Friday: 30% off", "category": "marketing",
		"failover": []map[string]string{{"channel": "sms", "from": "+15005550000"}, {"channel": "whatsapp", "from": "+15005550000", "after": "2m"}}})
	if held.DeferredUntil == nil {
		t.Fatalf("marketing send in quiet hours not deferred: %+v", held)
	}
	if at, _ := time.Parse(time.RFC3339, *held.DeferredUntil); !at.Equal(end) {
		t.Fatalf("deferred until %s, want %s", *held.DeferredUntil, end)
	}
	c.waitDelivered(send(inTokyo, "transactional").ID)
	if m := c.waitDelivered(send(elsewhere, "marketing").ID); m.DeferredUntil != nil {
		t.Fatalf("a customer outside quiet hours was deferred: %+v", m)
	}
	if m := c.message(held.ID); m.Status != "accepted" {
		t.Fatalf("held message is %s before quiet hours end", m.Status)
	}
	// Opting out while held: the worker fails that one instead of sending.
	c.must(http.StatusCreated, "POST", "/v1/opt-outs", map[string]string{"channel": "sms", "address": "+81345678902"}, nil)
	step := c.waitMessage(fo.ID, "the failover's first step", 10*time.Second, func(m rmsg) bool { return m.Failover.Steps[0].MessageID != nil })
	if first := c.message(*step.Failover.Steps[0].MessageID); first.DeferredUntil == nil || first.Status != "accepted" {
		t.Fatalf("failover step in quiet hours: %+v", first)
	}
	wait := time.Until(end) + 15*time.Second
	c.waitMessage(held.ID, "the held message to go out after quiet hours", wait, func(m rmsg) bool { return m.Status == "delivered" })
	c.waitMessage(fo.ID, "the held failover step to win", 15*time.Second, func(m rmsg) bool { return m.Failover.Winner != nil && *m.Failover.Winner == 0 })
	m := c.waitMessage(dropped.ID, "the opted-out held message to fail", 10*time.Second, func(m rmsg) bool { return m.Status == "failed" })
	if m.ErrorCode == nil || *m.ErrorCode != "opted_out" {
		t.Fatalf("held message after opt-out: %+v", m)
	}
	var subs struct {
		Data []any `json:"data"`
	}
	c.must(http.StatusOK, "GET", "/v1/sandbox/submissions?message_id="+dropped.ID, nil, &subs)
	if len(subs.Data) != 0 {
		t.Fatalf("an opted-out message reached the carrier: %+v", subs.Data)
	}
}
