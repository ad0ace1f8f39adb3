package viber

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"

	sb "github.com/switchboardhq/switchboard"
)

// SignatureHeader carries hex(HMAC-SHA256(auth token, raw body)) on every
// callback Viber posts.
const SignatureHeader = "X-Viber-Content-Signature"

// user is a Viber user as callbacks describe them.
type user struct {
	ID         string      `json:"id"`
	Name       string      `json:"name"`
	Country    string      `json:"country"`
	Language   string      `json:"language"`
	APIVersion json.Number `json:"api_version"`
}

// inbound is the message of a "message" callback. Numbers are kept as
// json.Number and structures raw, so that an unexpected shape in a field we
// only pass on never loses the message.
type inbound struct {
	Type         string          `json:"type"`
	Text         string          `json:"text"`
	Media        string          `json:"media"`
	Thumbnail    string          `json:"thumbnail"`
	FileName     string          `json:"file_name"`
	Size         json.Number     `json:"size"`
	Duration     json.Number     `json:"duration"`
	StickerID    json.Number     `json:"sticker_id"`
	TrackingData string          `json:"tracking_data"`
	Location     json.RawMessage `json:"location"`
	Contact      json.RawMessage `json:"contact"`
}

// callback is any event Viber posts; which fields are set depends on Event.
type callback struct {
	Event        string      `json:"event"`
	Timestamp    json.Number `json:"timestamp"` // Unix milliseconds
	MessageToken json.Number `json:"message_token"`
	UserID       string      `json:"user_id"` // delivered, seen, failed, unsubscribed
	Desc         string      `json:"desc"`    // failed
	User         *user       `json:"user"`    // subscribed, conversation_started
	Sender       *user       `json:"sender"`  // message
	Message      *inbound    `json:"message"` // message
}

// ParseWebhook verifies a callback's signature, then turns it into what
// Switchboard stores: a "message" is an inbound message; delivered, seen
// and failed are receipts (delivered, read, failed); subscribed is an
// opt-in and unsubscribed an opt-out. The "webhook" check that set_webhook
// triggers, conversation_started (we send no welcome message) and unknown
// events give an empty batch, to be answered 200.
//
// A signature that does not verify is sb.ErrForged. Viber signs only the
// body, so publicURL plays no part. The signature is read from the
// X-Viber-Content-Signature header or, failing that, the "sig" query
// parameter (Viber's Node SDK accepts both).
func (c *Client) ParseWebhook(r *http.Request, body []byte, publicURL string) (*sb.InboundBatch, error) {
	if !c.verify(r, body) {
		return nil, sb.ErrForged
	}
	var cb callback
	if err := json.Unmarshal(body, &cb); err != nil {
		return nil, sb.Errorf(sb.EINVALID, "viber callback: malformed JSON: %v", err)
	}
	batch := &sb.InboundBatch{}
	token := tokenString(cb.MessageToken)
	switch cb.Event {
	case "message":
		m, err := c.message(&cb, token)
		if err != nil {
			return nil, err
		}
		batch.Messages = append(batch.Messages, m)
		// Writing to the bot subscribes a user again (Viber sends no
		// "subscribed" for it): lift an earlier unsubscribe.
		batch.OptIns = append(batch.OptIns, sb.OptOut{Channel: sb.ChannelViber, Address: m.From, Source: "provider", Keyword: "message"})
	case "delivered", "seen", "failed":
		if token == "" {
			return nil, sb.Errorf(sb.EINVALID, "viber %s callback without message_token", cb.Event)
		}
		rc := sb.Receipt{Provider: Name, ProviderMessageID: token, Status: receiptStatus[cb.Event]}
		if cb.Event == "failed" {
			rc.ErrorMessage = cb.Desc
		}
		batch.Receipts = append(batch.Receipts, rc)
	case "subscribed":
		if cb.User == nil || cb.User.ID == "" {
			return nil, sb.Errorf(sb.EINVALID, "viber subscribed callback without user.id")
		}
		batch.OptIns = append(batch.OptIns, sb.OptOut{Channel: sb.ChannelViber, Address: cb.User.ID, Source: "provider", Keyword: "subscribed"})
	case "unsubscribed":
		if cb.UserID == "" {
			return nil, sb.Errorf(sb.EINVALID, "viber unsubscribed callback without user_id")
		}
		batch.OptOuts = append(batch.OptOuts, sb.OptOut{Channel: sb.ChannelViber, Address: cb.UserID, Source: "provider", Keyword: "unsubscribed"})
	}
	return batch, nil
}

var receiptStatus = map[string]sb.Status{"delivered": sb.StatusDelivered, "seen": sb.StatusRead, "failed": sb.StatusFailed}

// verify checks the body's HMAC in constant time. With no token there is
// nothing to check against, and nothing is accepted.
func (c *Client) verify(r *http.Request, body []byte) bool {
	if c.creds.AuthToken == "" || r == nil {
		return false
	}
	sig := r.Header.Get(SignatureHeader)
	if sig == "" && r.URL != nil {
		sig = r.URL.Query().Get("sig")
	}
	got, err := hex.DecodeString(sig)
	if err != nil || len(got) != sha256.Size {
		return false
	}
	return hmac.Equal(got, sign(c.creds.AuthToken, body))
}

func sign(token string, body []byte) []byte {
	mac := hmac.New(sha256.New, []byte(token))
	mac.Write(body)
	return mac.Sum(nil)
}

// Sign returns the X-Viber-Content-Signature Viber would send with body, for
// tests that play Viber.
func Sign(authToken string, body []byte) string {
	return hex.EncodeToString(sign(authToken, body))
}

// message maps a "message" callback. Pictures, videos, files and stickers
// keep their media URL; a shared link ("url") becomes the text when there
// is none; everything else Viber says about the message and its sender goes
// into Metadata under "viber".
func (c *Client) message(cb *callback, token string) (*sb.Message, error) {
	if cb.Sender == nil || cb.Sender.ID == "" {
		return nil, sb.Errorf(sb.EINVALID, "viber message callback without sender.id")
	}
	if cb.Message == nil {
		return nil, sb.Errorf(sb.EINVALID, "viber message callback without message")
	}
	in := cb.Message
	m := &sb.Message{
		Channel: sb.ChannelViber, Direction: sb.Inbound, Status: sb.StatusReceived,
		From: cb.Sender.ID, To: c.botURI, Text: in.Text,
		Provider: Name, ProviderMessageID: token,
	}
	switch {
	case in.Type == "url" && in.Text == "":
		m.Text = in.Media
	case in.Media != "" && in.Type != "url":
		m.MediaURLs = []string{in.Media}
	}
	meta := map[string]any{"type": in.Type}
	for k, v := range map[string]string{
		"tracking_data": in.TrackingData, "file_name": in.FileName, "thumbnail": in.Thumbnail,
		"sender_name": cb.Sender.Name, "country": cb.Sender.Country, "language": cb.Sender.Language,
	} {
		if v != "" {
			meta[k] = v
		}
	}
	for k, v := range map[string]json.Number{
		"size": in.Size, "duration": in.Duration, "sticker_id": in.StickerID,
		"api_version": cb.Sender.APIVersion, "timestamp": cb.Timestamp,
	} {
		if v != "" {
			meta[k] = v
		}
	}
	if len(in.Location) > 0 && string(in.Location) != "null" {
		meta["location"] = in.Location
	}
	if len(in.Contact) > 0 && string(in.Contact) != "null" {
		meta["contact"] = in.Contact
	}
	raw, err := json.Marshal(map[string]any{"viber": meta})
	if err != nil {
		return nil, sb.Errorf(sb.EINVALID, "viber message callback: %v", err)
	}
	m.Metadata = raw
	return m, nil
}
