package main

import (
	"net/http"
	"net/url"
	"testing"
	"time"
)

// Failover edge cases found in review: the customer must get one message,
// and the parent must not give up while an earlier step can still arrive.

// Step one is still queued behind its sender's rate limit when its timer
// fires: it is cancelled before it goes out, and step two wins.
func TestFailoverCancelsATimedOutStepThatHasNotGoneOut(t *testing.T) {
	s := newStack(t)
	c := s.raw("edge-queued")
	c.must(http.StatusOK, "PATCH", "/v1/account/settings", map[string]any{"senders": map[string]string{"sms": "+15005550000", "whatsapp": "+15005550003"}}, nil)
	// The WhatsApp sender may send one message every 4 s, and two are ahead.
	c.must(http.StatusOK, "PUT", "/v1/sandbox/rules", map[string]any{"channel": "whatsapp", "from": "+15005550003", "rate_per_second": 0.25}, nil)
	for _, n := range []string{"+79990009101", "+79990009102"} {
		c.send(map[string]any{"channel": "whatsapp", "from": "+15005550003", "to": n, "text": "ahead in line"})
	}
	p := c.send(map[string]any{"to": "+79990009100", "text": "Your order has shipped", "failover": []map[string]string{
		{"channel": "whatsapp"}, {"channel": "sms", "after": "1s", "unless": "delivered"}}})
	p = c.waitMessage(p.ID, "step two to win", 20*time.Second, func(m rmsg) bool { return m.Failover.Winner != nil && m.Status == "delivered" })
	if *p.Failover.Winner != 1 || p.Failover.Steps[0].State != "cancelled" {
		t.Fatalf("failover %+v", p.Failover)
	}
	step0 := c.message(*p.Failover.Steps[0].MessageID)
	if step0.Status != "failed" || step0.ErrorCode == nil || *step0.ErrorCode != "failover_cancelled" {
		t.Fatalf("step one %+v", step0)
	}
	time.Sleep(9 * time.Second) // past the rate-limit slot step one would have had
	var subs struct {
		Data []any `json:"data"`
	}
	c.must(http.StatusOK, "GET", "/v1/sandbox/submissions?message_id="+step0.ID, nil, &subs)
	if len(subs.Data) != 0 {
		t.Fatalf("the cancelled step reached the carrier: %+v", subs.Data)
	}
}

// Step one times out while sent, step two cannot be sent (opted out), and
// step one's delivery arrives afterwards: step one wins; the parent does not
// fail in between.
func TestFailoverLateReceiptOfAnEarlierStepWins(t *testing.T) {
	s := newStack(t)
	c := s.raw("edge-late")
	c.must(http.StatusOK, "PATCH", "/v1/account/settings", map[string]any{"senders": map[string]string{"sms": "+15005550000", "whatsapp": "+15005550000"}}, nil)
	c.must(http.StatusOK, "PUT", "/v1/sandbox/rules", map[string]any{"channel": "whatsapp", "to": "+79990009200", "outcome": "delivered", "delay_ms": 6000}, nil)
	c.must(http.StatusCreated, "POST", "/v1/opt-outs", map[string]string{"channel": "sms", "address": "+79990009200"}, nil)
	p := c.send(map[string]any{"to": "+79990009200", "text": "hello", "failover": []map[string]string{
		{"channel": "whatsapp"}, {"channel": "sms", "after": "1s", "unless": "delivered"}}})
	p = c.waitMessage(p.ID, "step two to be skipped", 10*time.Second, func(m rmsg) bool { return m.Failover.Steps[1].State == "skipped" })
	if p.Status == "failed" {
		t.Fatalf("the parent failed while step one may still be delivered: %+v", p.Failover)
	}
	p = c.waitMessage(p.ID, "step one to win", 15*time.Second, func(m rmsg) bool { return m.Failover.Winner != nil })
	if *p.Failover.Winner != 0 || p.Status != "delivered" {
		t.Fatalf("parent %s failover %+v", p.Status, p.Failover)
	}
}

// The customer is deleted between steps: the next step has nobody to go
// to and is skipped; no customer is conjured up for an empty address.
func TestFailoverAfterTheCustomerIsDeleted(t *testing.T) {
	s := newStack(t)
	c := s.raw("edge-deleted")
	c.must(http.StatusOK, "PATCH", "/v1/account/settings", map[string]any{"senders": map[string]string{"sms": "+15005550000", "whatsapp": "+15005550000"}}, nil)
	var cu rcustomer
	c.must(http.StatusCreated, "POST", "/v1/customers", map[string]any{"identities": []map[string]string{
		{"channel": "sms", "address": "+79990009300"}, {"channel": "whatsapp", "address": "+79990009300"}}}, &cu)
	c.must(http.StatusOK, "PUT", "/v1/sandbox/rules", map[string]any{"channel": "whatsapp", "to": "+79990009300", "outcome": "silent"}, nil)
	p := c.send(map[string]any{"to": map[string]string{"customer_id": cu.ID}, "text": "hello", "failover": []map[string]string{
		{"channel": "whatsapp"}, {"channel": "sms", "after": "2s", "unless": "delivered"}}})
	c.waitMessage(p.ID, "step one to start", 10*time.Second, func(m rmsg) bool { return m.Failover.Steps[0].MessageID != nil })
	c.must(http.StatusNoContent, "DELETE", "/v1/customers/"+cu.ID, nil, nil)
	p = c.waitMessage(p.ID, "step two to be skipped", 10*time.Second, func(m rmsg) bool { return m.Failover.Steps[1].State == "skipped" })
	if p.Failover.Steps[1].MessageID != nil {
		t.Fatalf("step two was sent with no customer: %+v", p.Failover)
	}
	var list rlist[rcustomer]
	c.must(http.StatusOK, "GET", "/v1/customers", nil, &list)
	if len(list.Data) != 0 {
		t.Fatalf("customers after the delete: %+v", list.Data)
	}
}

// An opt-out outlives the customer it was made on: the next send to the
// address is refused up front, not accepted and failed later.
func TestOptOutOutlivesADeletedCustomer(t *testing.T) {
	s := newStack(t)
	c := s.raw("edge-optout")
	const n = "+79990009400"
	c.must(http.StatusCreated, "POST", "/v1/opt-outs", map[string]string{"channel": "sms", "address": n}, nil)
	var list rlist[rcustomer]
	c.must(http.StatusOK, "GET", "/v1/customers?identity="+url.QueryEscape("sms:"+n), nil, &list)
	c.must(http.StatusNoContent, "DELETE", "/v1/customers/"+list.Data[0].ID, nil, nil)
	c.problem("POST", "/v1/messages", map[string]any{"channel": "sms", "from": "+15005550000", "to": n, "text": "Sale"}, 422, "opted-out")
}
