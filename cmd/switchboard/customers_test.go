package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"
)

type e2eCustomer struct {
	ID               string         `json:"id"`
	Name             string         `json:"name"`
	Email            string         `json:"email"`
	Locale           string         `json:"locale"`
	Timezone         string         `json:"timezone"`
	Attributes       map[string]any `json:"attributes"`
	PreferredChannel *string        `json:"preferred_channel"`
	Identities       []struct {
		Channel string `json:"channel"`
		Address string `json:"address"`
	} `json:"identities"`
}

func (c e2eCustomer) has(ch, addr string) bool {
	for _, id := range c.Identities {
		if id.Channel == ch && id.Address == addr {
			return true
		}
	}
	return false
}

type e2eConversation struct {
	ID           string  `json:"id"`
	CustomerID   string  `json:"customer_id"`
	Status       string  `json:"status"`
	ClosedReason *string `json:"closed_reason"`
}

type e2eTimelineEntry struct {
	Type    string `json:"type"`
	ID      string `json:"id"`
	Message *struct {
		ID         string `json:"id"`
		CustomerID string `json:"customer_id"`
	} `json:"message"`
	Event *struct {
		Type string `json:"type"`
	} `json:"event"`
}

type e2eList[T any] struct {
	Data       []T     `json:"data"`
	HasMore    bool    `json:"has_more"`
	NextCursor *string `json:"next_cursor"`
}

// TestCustomersEndToEnd drives customers, identities, merges, the timeline
// and conversations through the HTTP API of the real app.
func TestCustomersEndToEnd(t *testing.T) {
	s := newStack(t)
	c := s.raw("customers")
	hook := newReceiver(t)
	c.must(http.StatusCreated, "POST", "/v1/webhook-endpoints", map[string]any{"url": hook.srv.URL, "events": []string{"*"}}, nil)

	// Create: 201, Location, normalised identities.
	body, _ := json.Marshal(map[string]any{"name": "Anna", "email": "anna@example.com", "locale": "ru-RU", "timezone": "Europe/Moscow",
		"attributes": map[string]any{"tier": "gold"}, "preferred_channel": "telegram",
		"identities": []map[string]string{{"channel": "sms", "address": "+7 (999) 123-45-67"}, {"channel": "telegram", "address": "4242"}}})
	req, _ := http.NewRequest("POST", c.base+"/v1/customers", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+c.key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var anna e2eCustomer
	json.NewDecoder(resp.Body).Decode(&anna)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || resp.Header.Get("Location") != "/v1/customers/"+anna.ID {
		t.Fatalf("create: %d, Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if !anna.has("sms", "+79991234567") || !anna.has("telegram", "4242") || anna.PreferredChannel == nil || *anna.PreferredChannel != "telegram" ||
		anna.Attributes["tier"] != "gold" {
		t.Fatalf("created %+v", anna)
	}

	// Validation reports every bad field at once.
	code, b := c.do("POST", "/v1/customers", map[string]any{"email": "a@b@c", "locale": "en_US", "timezone": "Mars/Olympus",
		"preferred_channel": "pigeon", "attributes": []int{1}, "identities": []map[string]string{{"channel": "sms", "address": "12"}}}, nil)
	var problem struct {
		Errors []struct {
			Field string `json:"field"`
		} `json:"errors"`
	}
	json.Unmarshal(b, &problem)
	var fields []string
	for _, e := range problem.Errors {
		fields = append(fields, e.Field)
	}
	slices.Sort(fields)
	if want := []string{"attributes", "email", "identities[0].address", "locale", "preferred_channel", "timezone"}; code != http.StatusUnprocessableEntity || !slices.Equal(fields, want) {
		t.Fatalf("invalid create: %d %s; fields %v, want %v", code, b, fields, want)
	}

	var got e2eCustomer
	c.must(http.StatusOK, "GET", "/v1/customers/"+anna.ID, nil, &got)
	if got.ID != anna.ID || got.Email != "anna@example.com" {
		t.Fatalf("get %+v", got)
	}

	// Lookup by identity: 0 or 1 entries; "+" may arrive escaped or not.
	for _, q := range []string{"sms:%2B79991234567", "sms:+79991234567", "sms:" + url.QueryEscape("+7 999 123 45 67")} {
		var l e2eList[e2eCustomer]
		c.must(http.StatusOK, "GET", "/v1/customers?identity="+q, nil, &l)
		if len(l.Data) != 1 || l.Data[0].ID != anna.ID {
			t.Fatalf("lookup %s: %+v", q, l.Data)
		}
	}
	var none e2eList[e2eCustomer]
	c.must(http.StatusOK, "GET", "/v1/customers?identity=viber:nobody", nil, &none)
	if len(none.Data) != 0 {
		t.Fatalf("lookup of an unknown identity: %+v", none.Data)
	}
	c.problem("GET", "/v1/customers?identity=nonsense", nil, http.StatusUnprocessableEntity, "validation")

	// A second person writes in by SMS: routing creates them.
	first := c.inbound("sms", "+79990000002", "+15005550000", "Hello from my other phone")
	boris := first.CustomerID
	if boris == "" || boris == anna.ID {
		t.Fatalf("inbound attached to customer %q", boris)
	}

	// Identities: another customer's is a conflict; a new one 201, then 200.
	c.problem("POST", "/v1/customers/"+anna.ID+"/identities", map[string]string{"channel": "sms", "address": "+79990000002"},
		http.StatusConflict, "conflict")
	c.must(http.StatusCreated, "POST", "/v1/customers/"+anna.ID+"/identities", map[string]string{"channel": "whatsapp", "address": "+79991234567"}, nil)
	c.must(http.StatusOK, "POST", "/v1/customers/"+anna.ID+"/identities", map[string]string{"channel": "whatsapp", "address": "+7 999 123 45 67"}, nil)
	c.must(http.StatusNoContent, "DELETE", "/v1/customers/"+anna.ID+"/identities?identity=whatsapp:%2B79991234567", nil, nil)
	c.problem("DELETE", "/v1/customers/"+anna.ID+"/identities?identity=whatsapp:%2B79991234567", nil, http.StatusNotFound, "not-found")

	// PATCH: null clears the preferred channel, absent fields stay.
	c.must(http.StatusOK, "PATCH", "/v1/customers/"+anna.ID, map[string]any{"preferred_channel": nil, "name": "Anna K."}, &got)
	if got.PreferredChannel != nil || got.Name != "Anna K." || got.Email != "anna@example.com" {
		t.Fatalf("patched %+v", got)
	}

	// Anna writes too; both now have an open conversation.
	c.inbound("sms", "+79991234567", "+15005550000", "Hi, it's Anna")

	// Merge Boris into Anna: one customer, twice the same answer, the old
	// id forwards.
	var merged e2eCustomer
	c.must(http.StatusOK, "POST", "/v1/customers/"+anna.ID+"/merge", map[string]string{"from_customer_id": boris}, &merged)
	if merged.ID != anna.ID || !merged.has("sms", "+79990000002") || !merged.has("telegram", "4242") {
		t.Fatalf("merged %+v", merged)
	}
	c.must(http.StatusOK, "POST", "/v1/customers/"+anna.ID+"/merge", map[string]string{"from_customer_id": boris}, &merged)
	c.problem("POST", "/v1/customers/"+anna.ID+"/merge", map[string]string{"from_customer_id": anna.ID}, http.StatusUnprocessableEntity, "validation")
	c.must(http.StatusOK, "GET", "/v1/customers/"+boris, nil, &got)
	if got.ID != anna.ID {
		t.Fatalf("GET of the merged-away customer returned %s, want %s", got.ID, anna.ID)
	}
	// Boris's number now reaches Anna.
	if m := c.inbound("sms", "+79990000002", "+15005550000", "Still me"); m.CustomerID != anna.ID {
		t.Fatalf("inbound after merge attached to %s", m.CustomerID)
	}

	// Timeline, paged by two: every message of both, and the events.
	var entries []e2eTimelineEntry
	path := "/v1/customers/" + anna.ID + "/timeline?limit=2"
	for range 50 {
		var l e2eList[e2eTimelineEntry]
		c.must(http.StatusOK, "GET", path, nil, &l)
		entries = append(entries, l.Data...)
		if l.NextCursor == nil {
			break
		}
		path = "/v1/customers/" + anna.ID + "/timeline?limit=2&cursor=" + url.QueryEscape(*l.NextCursor)
	}
	var messages int
	var events []string
	for i, e := range entries {
		if i > 0 && e.ID >= entries[i-1].ID {
			t.Fatalf("timeline out of order at %d", i)
		}
		switch {
		case e.Type == "message" && e.Message != nil:
			messages++
		case e.Type == "event" && e.Event != nil:
			events = append(events, e.Event.Type)
		default:
			t.Fatalf("timeline entry %+v", e)
		}
	}
	if messages != 3 {
		t.Fatalf("timeline has %d messages, want 3", messages)
	}
	for _, want := range []string{"customer.created", "customer.merged", "conversation.opened", "conversation.closed"} {
		if !slices.Contains(events, want) {
			t.Fatalf("timeline events %v lack %s", events, want)
		}
	}

	// Conversations: Boris's closed by the merge, Anna's open; closing by
	// API is idempotent.
	var convs e2eList[e2eConversation]
	c.must(http.StatusOK, "GET", "/v1/conversations?customer_id="+anna.ID, nil, &convs)
	if len(convs.Data) != 2 {
		t.Fatalf("%d conversations, want 2: %+v", len(convs.Data), convs.Data)
	}
	var open e2eList[e2eConversation]
	c.must(http.StatusOK, "GET", "/v1/conversations?status=open&channel=sms", nil, &open)
	if len(open.Data) != 1 || open.Data[0].CustomerID != anna.ID {
		t.Fatalf("open conversations %+v", open.Data)
	}
	c.problem("GET", "/v1/conversations?status=pending", nil, http.StatusUnprocessableEntity, "validation")
	var closed e2eConversation
	c.must(http.StatusOK, "POST", "/v1/conversations/"+open.Data[0].ID+"/close", nil, &closed)
	if closed.Status != "closed" || closed.ClosedReason == nil || *closed.ClosedReason != "api" {
		t.Fatalf("closed %+v", closed)
	}
	c.must(http.StatusOK, "POST", "/v1/conversations/"+open.Data[0].ID+"/close", map[string]any{}, &closed)
	c.must(http.StatusOK, "GET", "/v1/conversations/"+open.Data[0].ID, nil, &closed)
	if closed.Status != "closed" {
		t.Fatalf("conversation %+v", closed)
	}
	c.problem("GET", "/v1/conversations/00000000-0000-7000-8000-000000000000", nil, http.StatusNotFound, "not-found")

	// Webhooks announce the customer-level events.
	waitFor(t, "customer webhooks", 10*time.Second, func() bool {
		var types []string
		for _, r := range hook.all() {
			types = append(types, r.event.Type)
		}
		return contains(types, "customer.created") && contains(types, "customer.merged") && contains(types, "conversation.closed")
	})

	// Delete: 204, then gone; the messages stay.
	c.must(http.StatusNoContent, "DELETE", "/v1/customers/"+anna.ID, nil, nil)
	c.problem("GET", "/v1/customers/"+anna.ID, nil, http.StatusNotFound, "not-found")
	if m := c.message(first.ID); m.CustomerID != "" {
		t.Fatalf("message after its customer was deleted: %+v", m)
	}
}
