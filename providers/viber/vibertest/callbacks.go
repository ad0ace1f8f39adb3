package vibertest

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// User is a Viber user as callbacks describe them (sender, user).
type User struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Avatar     string `json:"avatar,omitempty"`
	Country    string `json:"country,omitempty"`
	Language   string `json:"language,omitempty"`
	APIVersion int    `json:"api_version"`
}

// Message is the message a user sent, in a "message" callback.
type Message struct {
	Type         string `json:"type"` // text, picture, video, file, sticker, contact, url, location
	Text         string `json:"text,omitempty"`
	Media        string `json:"media,omitempty"`
	Thumbnail    string `json:"thumbnail,omitempty"`
	FileName     string `json:"file_name,omitempty"`
	Size         int64  `json:"size,omitempty"`
	TrackingData string `json:"tracking_data,omitempty"`
}

// Callback is one event Viber posts to a bot's webhook, with its fields in
// Viber's order. Its JSON method gives the exact bytes to post and sign.
type Callback struct {
	Event        string      `json:"event"`
	Timestamp    int64       `json:"timestamp"` // Unix milliseconds
	ChatHostname string      `json:"chat_hostname,omitempty"`
	MessageToken json.Number `json:"message_token,omitempty"` // a 64-bit integer on the wire
	UserID       string      `json:"user_id,omitempty"`       // delivered, seen, failed, unsubscribed
	Desc         string      `json:"desc,omitempty"`          // failed
	User         *User       `json:"user,omitempty"`          // subscribed
	Sender       *User       `json:"sender,omitempty"`        // message
	Message      *Message    `json:"message,omitempty"`       // message
	Silent       *bool       `json:"silent,omitempty"`        // message
}

// JSON is the callback's body as Viber posts it.
func (c Callback) JSON() []byte {
	b, err := json.Marshal(c)
	if err != nil {
		panic(err) // only strings and numbers: cannot fail
	}
	return b
}

func now() int64 { return time.Now().UnixMilli() }

// WebhookCheck is the event set_webhook posts to the new URL.
func WebhookCheck(token string) Callback {
	return Callback{Event: "webhook", Timestamp: now(), ChatHostname: "SN-219_", MessageToken: json.Number(token)}
}

// Delivered reports that the message with token reached userID's device.
func Delivered(token, userID string) Callback {
	return Callback{Event: "delivered", Timestamp: now(), ChatHostname: "SN-376_", MessageToken: json.Number(token), UserID: userID}
}

// Seen reports that userID read the message with token.
func Seen(token, userID string) Callback {
	return Callback{Event: "seen", Timestamp: now(), MessageToken: json.Number(token), UserID: userID}
}

// Failed reports that the message with token could not be delivered.
func Failed(token, userID, desc string) Callback {
	return Callback{Event: "failed", Timestamp: now(), ChatHostname: "SN-376_", MessageToken: json.Number(token), UserID: userID, Desc: desc}
}

// Subscribed reports that u subscribed to the bot.
func Subscribed(token string, u User) Callback {
	return Callback{Event: "subscribed", Timestamp: now(), ChatHostname: "SN-149_", User: &u, MessageToken: json.Number(token)}
}

// Unsubscribed reports that userID unsubscribed from the bot.
func Unsubscribed(token, userID string) Callback {
	return Callback{Event: "unsubscribed", Timestamp: now(), ChatHostname: "SN-376_", UserID: userID, MessageToken: json.Number(token)}
}

// Received is a message from the user from to the bot; token is Viber's
// id of that message.
func Received(token string, from User, m Message) Callback {
	silent := false
	return Callback{Event: "message", Timestamp: now(), ChatHostname: "SN-376_", MessageToken: json.Number(token),
		Sender: &from, Message: &m, Silent: &silent}
}

// Text is a text message from the user from.
func Text(token string, from User, text string) Callback {
	return Received(token, from, Message{Type: "text", Text: text})
}

// SignatureHeader carries a callback's signature.
const SignatureHeader = "X-Viber-Content-Signature"

// Sign is the X-Viber-Content-Signature of body for a bot with authToken:
// lowercase hex HMAC-SHA256 keyed with the token, over the raw body.
func Sign(authToken string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(authToken))
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

// Post delivers cb to the registered webhook as Viber would and returns the
// HTTP status it got. It fails when no webhook is set, or when cb is an
// optional event the registration did not ask for (Viber would not send it).
func (s *Server) Post(cb Callback) (int, error) {
	wh := s.Webhook()
	if wh.URL == "" {
		return 0, fmt.Errorf("vibertest: no webhook set")
	}
	if contains(optionalEvents, cb.Event) && !contains(wh.EventTypes, cb.Event) {
		return 0, fmt.Errorf("vibertest: the webhook did not subscribe to %q events (it has %v)", cb.Event, wh.EventTypes)
	}
	return s.PostTo(wh.URL, cb.JSON())
}

// PostTo posts body to url signed with the bot's token, as Viber does.
func (s *Server) PostTo(url string, body []byte) (int, error) {
	return s.PostSigned(url, body, Sign(s.token, body))
}

// PostSigned posts body to url with sig as its X-Viber-Content-Signature
// ("" sends none): for forgeries.
func (s *Server) PostSigned(url string, body []byte, sig string) (int, error) {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	if sig != "" {
		req.Header.Set(SignatureHeader, sig)
	}
	resp, err := s.Client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}
