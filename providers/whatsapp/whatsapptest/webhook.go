package whatsapptest

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
)

// Sign is the X-Hub-Signature-256 value Meta sends with body: "sha256=" and
// the lowercase hex HMAC-SHA256 of the raw body under the app secret.
func Sign(appSecret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(appSecret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// Sign is body's X-Hub-Signature-256 under the fake's app secret.
func (s *Server) Sign(body []byte) string { return Sign(s.AppSecret, body) }

var client = &http.Client{Timeout: 10 * time.Second}

// Handshake sends Meta's verification request to callbackURL
// (GET ?hub.mode=subscribe&hub.challenge=…&hub.verify_token=…) and returns
// the answer's status and body.
func (s *Server) Handshake(callbackURL, verifyToken, challenge string) (int, string, error) {
	u, err := url.Parse(callbackURL)
	if err != nil {
		return 0, "", err
	}
	q := u.Query()
	q.Set("hub.mode", "subscribe")
	q.Set("hub.challenge", challenge)
	q.Set("hub.verify_token", verifyToken)
	u.RawQuery = q.Encode()
	resp, err := client.Get(u.String())
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	return resp.StatusCode, string(b), err
}

// Subscribe saves callbackURL as the app's webhook the way Meta's dashboard
// does: only if the URL answers the handshake with verifyToken by echoing
// the challenge with a 200. Notify posts to it afterwards.
func (s *Server) Subscribe(callbackURL, verifyToken string) error {
	n, _ := rand.Int(rand.Reader, big.NewInt(1e10))
	challenge := n.String()
	status, body, err := s.Handshake(callbackURL, verifyToken, challenge)
	if err != nil {
		return fmt.Errorf("whatsapptest: verify callback URL: %w", err)
	}
	if status != http.StatusOK || body != challenge {
		return fmt.Errorf("whatsapptest: the callback URL could not be validated: HTTP %d %q, want 200 %q", status, body, challenge)
	}
	s.mu.Lock()
	s.callback = callbackURL
	s.mu.Unlock()
	return nil
}

// Notify posts a notification (built by Messages or Statuses) to the
// subscribed callback URL, signed as Meta signs it, and returns the
// answer's status. Customers whose messages were delivered with a 200 open
// their 24-hour window.
func (s *Server) Notify(body []byte) (int, error) {
	s.mu.Lock()
	cb := s.callback
	s.mu.Unlock()
	if cb == "" {
		return 0, errors.New("whatsapptest: no callback URL subscribed (Subscribe first)")
	}
	status, err := s.Post(cb, body, s.Sign(body))
	if err == nil && status == http.StatusOK {
		s.noteWriters(body)
	}
	return status, err
}

// Post posts body to url with Meta's headers and signature as the
// X-Hub-Signature-256 header ("" leaves the header out), and returns the
// answer's status. Use it for forged or misdirected deliveries.
func (s *Server) Post(url string, body []byte, signature string) (int, error) {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "facebookexternalua")
	if signature != "" {
		req.Header.Set("X-Hub-Signature-256", signature)
		mac := hmac.New(sha1.New, []byte(s.AppSecret)) // the legacy header Meta still sends
		mac.Write(body)
		req.Header.Set("X-Hub-Signature", "sha1="+hex.EncodeToString(mac.Sum(nil)))
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// noteWriters records when the customers in a messages notification wrote.
func (s *Server) noteWriters(body []byte) {
	var n struct {
		Entry []struct {
			Changes []struct {
				Value struct {
					Messages []struct {
						From string `json:"from"`
					} `json:"messages"`
				} `json:"value"`
			} `json:"changes"`
		} `json:"entry"`
	}
	if json.Unmarshal(body, &n) != nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range n.Entry {
		for _, c := range e.Changes {
			for _, m := range c.Value.Messages {
				s.wrote[waID(m.From)] = time.Now()
			}
		}
	}
}

// Inbound is a customer's message for Messages: text, or an image (with
// Text as its caption).
type Inbound struct {
	From  string // the customer's number, E.164 or wa_id
	Name  string // profile name ("" leaves contacts out)
	ID    string // wamid; "" = a fresh one
	Text  string
	Image *InboundMedia
	At    time.Time // zero = now
}

// InboundMedia is a media attachment as Meta announces it: by media id.
type InboundMedia struct {
	ID       string
	MimeType string
	SHA256   string
}

// Messages builds the notification of customer messages to the fake's
// number (field "messages", value.messages), encoded as Meta encodes it.
// Messages with no ID get a fresh wamid, written back into ms.
func (s *Server) Messages(ms ...*Inbound) []byte {
	var contacts, messages []map[string]any
	for _, in := range ms {
		if in.ID == "" {
			in.ID = newWAMID()
		}
		from := waID(in.From)
		if in.Name != "" {
			contacts = append(contacts, map[string]any{"profile": map[string]string{"name": in.Name}, "wa_id": from})
		}
		m := map[string]any{"from": from, "id": in.ID, "timestamp": unix(in.At), "type": "text"}
		if in.Image != nil {
			img := map[string]string{"mime_type": in.Image.MimeType, "sha256": in.Image.SHA256, "id": in.Image.ID}
			if in.Text != "" {
				img["caption"] = in.Text
			}
			m["type"], m["image"] = "image", img
		} else {
			m["text"] = map[string]string{"body": in.Text}
		}
		messages = append(messages, m)
	}
	value := map[string]any{"messaging_product": "whatsapp", "metadata": s.metadata(), "messages": messages}
	if contacts != nil {
		value["contacts"] = contacts
	}
	return s.notification(value)
}

// Status is a status update for Statuses.
type Status struct {
	ID          string // the wamid the send was answered with
	Status      string // sent, delivered, read, failed (or played, deleted)
	RecipientID string // the customer's number, E.164 or wa_id
	Errors      []Error
	At          time.Time // zero = now
}

// Error is an error of a failed status.
type Error struct {
	Code    int
	Title   string // also the message
	Details string
}

// Statuses builds the notification of status updates of messages sent from
// the fake's number (field "messages", value.statuses).
func (s *Server) Statuses(sts ...Status) []byte {
	out := make([]map[string]any, len(sts))
	for i, st := range sts {
		m := map[string]any{"id": st.ID, "status": st.Status, "timestamp": unix(st.At), "recipient_id": waID(st.RecipientID)}
		if len(st.Errors) > 0 {
			errs := make([]map[string]any, len(st.Errors))
			for j, e := range st.Errors {
				errs[j] = map[string]any{"code": e.Code, "title": e.Title, "message": e.Title,
					"error_data": map[string]string{"details": e.Details},
					"href":       "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"}
			}
			m["errors"] = errs
		}
		out[i] = m
	}
	return s.notification(map[string]any{"messaging_product": "whatsapp", "metadata": s.metadata(), "statuses": out})
}

func (s *Server) metadata() map[string]string {
	return map[string]string{"display_phone_number": waID(s.DisplayPhoneNumber), "phone_number_id": s.PhoneNumberID}
}

// notification wraps a change value in the WhatsApp Business Account
// envelope.
func (s *Server) notification(value map[string]any) []byte {
	return metaJSON(map[string]any{"object": "whatsapp_business_account", "entry": []map[string]any{{
		"id": s.WABAID, "changes": []map[string]any{{"value": value, "field": "messages"}}}}})
}

func unix(t time.Time) string {
	if t.IsZero() {
		t = time.Now()
	}
	return strconv.FormatInt(t.Unix(), 10)
}

// metaJSON encodes v as Meta's webhooks do: non-ASCII as \uXXXX escapes and
// "/" as "\/". The signature covers these exact bytes, so a receiver must
// hash the raw body, not re-encoded JSON.
func metaJSON(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(err) // maps of strings and numbers only
	}
	var out strings.Builder
	for _, r := range strings.TrimSuffix(buf.String(), "\n") {
		switch {
		case r == '/':
			out.WriteString(`\/`)
		case r > 0x7e:
			for _, u := range utf16.Encode([]rune{r}) {
				fmt.Fprintf(&out, `\u%04x`, u)
			}
		default:
			out.WriteRune(r)
		}
	}
	return []byte(out.String())
}
