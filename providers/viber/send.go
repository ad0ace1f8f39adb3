package viber

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	sb "github.com/switchboardhq/switchboard"
)

// Viber's API statuses we act on (the docs' error table).
const (
	statusInvalidAuthToken       = 2
	statusReceiverNotSubscribed  = 6
	statusPublicAccountBlocked   = 7
	statusPublicAccountNotFound  = 8
	statusPublicAccountSuspended = 9
	statusTooManyRequests        = 12
)

// rateLimitRetry is how long to wait after tooManyRequests, which comes
// with no hint of its own.
const rateLimitRetry = time.Second

// maxCaption is the longest text a picture message carries.
const maxCaption = 120

// imageExts are the picture formats Viber shows inline (JPEG, PNG,
// non-animated GIF).
var imageExts = map[string]bool{".jpg": true, ".jpeg": true, ".png": true, ".gif": true}

type sender struct {
	Name   string `json:"name"`
	Avatar string `json:"avatar,omitempty"`
}

type sendRequest struct {
	Receiver      string  `json:"receiver"`
	MinAPIVersion int     `json:"min_api_version"`
	Sender        sender  `json:"sender"`
	TrackingData  string  `json:"tracking_data,omitempty"`
	Type          string  `json:"type"`
	Text          *string `json:"text,omitempty"` // required for text and picture (caption, may be ""), absent for url
	Media         string  `json:"media,omitempty"`
}

type sendAnswer struct {
	MessageToken json.Number `json:"message_token"` // a number; the docs also show it quoted
}

// Send sends m to the subscriber m.To. tracking_data carries m.ID, so
// Viber hands it back with the user's reply.
//
// One Send is one Viber message, so media are mapped this way:
//   - one image URL (.jpg .jpeg .png .gif) and text of at most 120
//     characters → a "picture" with the text as its caption;
//   - one other URL and no text → a "url" message (a "file" message needs
//     the file's size and name, which we do not know);
//   - anything else (several URLs, a longer caption) → a "text" message
//     with each URL on a line of its own after the text, which Viber
//     renders as links.
//
// A refusal is a *sb.ProviderError whose Code is Viber's status (or
// http_NNN, timeout, network, bad_response when Viber gave none).
func (c *Client) Send(ctx context.Context, m *sb.Message) (sb.SendResult, error) {
	req := c.sendRequest(m)
	var ans sendAnswer
	if err := c.call(ctx, "send_message", req, &ans); err != nil {
		return sb.SendResult{}, providerError(err)
	}
	return sb.SendResult{ProviderMessageID: tokenString(ans.MessageToken)}, nil
}

func (c *Client) sendRequest(m *sb.Message) sendRequest {
	req := sendRequest{
		Receiver:      m.To,
		MinAPIVersion: 1,
		Sender:        sender{Name: c.creds.SenderName, Avatar: c.creds.SenderAvatar},
		TrackingData:  m.ID,
		Type:          "text",
	}
	text := m.Text
	switch media := m.MediaURLs; {
	case len(media) == 1 && isImage(media[0]) && utf8.RuneCountInString(text) <= maxCaption:
		req.Type, req.Media, req.Text = "picture", media[0], &text
	case len(media) == 1 && text == "":
		req.Type, req.Media = "url", media[0]
	default:
		lines := append([]string{}, media...)
		if text != "" {
			lines = append([]string{text}, lines...)
		}
		text = strings.Join(lines, "\n")
		req.Text = &text
	}
	return req
}

func isImage(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	return imageExts[strings.ToLower(path.Ext(u.Path))]
}

// classify says what a non-zero Viber status means for retries. Only the
// rate limit is worth retrying: every other status names something a retry
// of the same request cannot fix (bad data, bad token, a receiver who is
// not on Viber, not subscribed or on too old a client, a blocked bot).
// receiverNotSubscribed means the user unsubscribed (or never subscribed):
// they refuse our messages until they write to the bot again.
func classify(status int, message string) *sb.ProviderError {
	e := &sb.ProviderError{Code: strconv.Itoa(status), Message: message, Permanent: true}
	switch status {
	case statusTooManyRequests:
		e.Permanent, e.RetryAfter = false, rateLimitRetry
	case statusReceiverNotSubscribed:
		e.OptOut = true
	}
	return e
}

// providerError classifies any error of a send_message call.
func providerError(err error) *sb.ProviderError {
	var se *statusError
	var he *httpError
	switch {
	case errors.As(err, &se):
		return classify(se.status, se.message)
	case errors.As(err, &he):
		transient := he.code >= 500 || he.code == http.StatusTooManyRequests || he.code == http.StatusRequestTimeout
		msg := http.StatusText(he.code)
		if msg == "" {
			msg = "HTTP " + strconv.Itoa(he.code)
		}
		return &sb.ProviderError{Code: "http_" + strconv.Itoa(he.code), Message: msg, Permanent: !transient, RetryAfter: he.retryAfter}
	case errors.Is(err, errBadAnswer):
		return &sb.ProviderError{Code: "bad_response", Message: err.Error()}
	case isTimeout(err):
		return &sb.ProviderError{Code: "timeout", Message: err.Error()}
	default:
		return &sb.ProviderError{Code: "network", Message: err.Error()}
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}
